#include "palette-sim/sim_state.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <unordered_set>

namespace palette_sim {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;
constexpr std::int64_t kDefaultKeyLifetimeMs = 30 * kMsPerDay;  // the docs' recommended expiry
constexpr const char* kZeroTime = "0001-01-01T00:00:00.000Z";   // deletionTimestamp of live objects
// As in the documented list response (reference/palette-api.md §2.2).
constexpr const char* kKeyPermissions =
    "apiKey.create,apiKey.delete,apiKey.get,apiKey.list,apiKey.update,tag.update";

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// --- seed field readers; `what` names the entry in error messages ---------

[[noreturn]] void bad(const std::string& what, const std::string& why) {
  throw std::invalid_argument(what + ": " + why);
}

std::string read_string(const Json& j, const char* key, const std::string& what,
                        std::optional<std::string> fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (!fallback) bad(what, std::string("\"") + key + "\" is required");
    return *fallback;
  }
  if (!it->is_string()) bad(what, std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

bool read_bool(const Json& j, const char* key, const std::string& what, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) bad(what, std::string("\"") + key + "\" must be true or false");
  return it->get<bool>();
}

std::optional<std::int64_t> read_time(const Json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) bad(what, std::string("\"") + key + "\" must be an RFC 3339 string");
  auto t = parse_time_ms(it->get<std::string>());
  if (!t) bad(what, std::string("\"") + key + "\" is not an RFC 3339 time: " + it->get<std::string>());
  return t;
}

SimUser parse_user(const Json& j, std::int64_t now_ms, std::size_t index) {
  std::string what = "users[" + std::to_string(index) + "]";
  if (!j.is_object()) bad(what, "must be an object");
  SimUser u;
  u.uid = read_string(j, "uid", what, std::nullopt);
  if (u.uid.empty()) bad(what, "\"uid\" is empty");
  what += " (" + u.uid + ")";
  u.email = read_string(j, "email", what, std::nullopt);
  u.first_name = read_string(j, "firstName", what, "");
  u.last_name = read_string(j, "lastName", what, "");
  std::string full = u.first_name + (u.first_name.empty() || u.last_name.empty() ? "" : " ") + u.last_name;
  u.name = read_string(j, "name", what, full.empty() ? u.email : full);
  u.active = read_bool(j, "isActive", what, true);
  u.created_ms = read_time(j, "createdAt", what).value_or(now_ms);
  u.last_sign_in_ms = read_time(j, "lastSignIn", what);
  return u;
}

SimKey parse_key(const Json& j, std::int64_t now_ms, std::size_t index) {
  std::string what = "keys[" + std::to_string(index) + "]";
  if (!j.is_object()) bad(what, "must be an object");
  SimKey k;
  k.uid = read_string(j, "uid", what, std::nullopt);
  if (k.uid.empty()) bad(what, "\"uid\" is empty");
  what += " (" + k.uid + ")";
  k.name = read_string(j, "name", what, "key-" + k.uid);
  k.owner_uid = read_string(j, "ownerUid", what, std::nullopt);
  k.creator_uid = read_string(j, "creatorUid", what, k.owner_uid);
  k.description = read_string(j, "description", what, "");
  k.active = read_bool(j, "isActive", what, true);
  k.created_ms = read_time(j, "createdAt", what).value_or(now_ms);
  k.modified_ms = read_time(j, "lastModified", what).value_or(k.created_ms);
  k.expiry_ms = read_time(j, "expiry", what).value_or(k.created_ms + kDefaultKeyLifetimeMs);
  return k;
}

std::vector<std::string> read_uid_list(const Json& j, const char* key, const std::string& what) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) bad(what, std::string("\"") + key + "\" must be an array of uids");
  for (const auto& uid : *it) {
    if (!uid.is_string() || uid.get<std::string>().empty())
      bad(what, std::string("\"") + key + "\" must hold non-empty strings");
    out.push_back(uid.get<std::string>());
  }
  return out;
}

SimTeam parse_team(const Json& j, std::int64_t now_ms, std::size_t index) {
  std::string what = "teams[" + std::to_string(index) + "]";
  if (!j.is_object()) bad(what, "must be an object");
  SimTeam t;
  t.uid = read_string(j, "uid", what, std::nullopt);
  if (t.uid.empty()) bad(what, "\"uid\" is empty");
  what += " (" + t.uid + ")";
  t.name = read_string(j, "name", what, std::nullopt);
  if (t.name.empty()) bad(what, "\"name\" is empty");
  t.user_uids = read_uid_list(j, "users", what);
  t.role_uids = read_uid_list(j, "roles", what);
  t.created_ms = read_time(j, "createdAt", what).value_or(now_ms);
  return t;
}

template <class T, class Parse>
std::vector<T> parse_list(const Json& list, const char* what, std::int64_t now_ms, Parse parse) {
  if (!list.is_array()) bad(what, "must be an array");
  std::vector<T> out;
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    out.push_back(parse(list[i], now_ms, i));
    if (!seen.insert(out.back().uid).second)
      bad(std::string(what) + "[" + std::to_string(i) + "]", "duplicate uid " + out.back().uid);
  }
  return out;
}

}  // namespace

std::string format_time_ms(std::int64_t ms) {
  std::int64_t days = ms >= 0 ? ms / kMsPerDay : -((-ms + kMsPerDay - 1) / kMsPerDay);
  std::int64_t rest = ms - days * kMsPerDay;
  std::int64_t y;
  unsigned mo, d;
  civil_from_days(days, y, mo, d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), mo, d,
                static_cast<int>(rest / 3'600'000), static_cast<int>(rest / 60'000 % 60),
                static_cast<int>(rest / 1000 % 60), static_cast<int>(rest % 1000));
  return buf;
}

std::optional<std::int64_t> parse_time_ms(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  int ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int scale = 100;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om))
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * kMsPerDay + (h * 3600LL + mi * 60LL + sec - offset_min * 60LL) * 1000 + ms;
}

SimState SimState::from_seed(const Json& seed, std::int64_t now_ms) {
  if (!seed.is_object()) bad("seed", "must be a JSON object");
  SimState st;
  st.seed_api_key_ = read_string(seed, "apiKey", "seed", "");
  if (auto it = seed.find("self"); it != seed.end()) {
    if (!it->is_object()) bad("self", "must be an object");
    st.self_.user_uid = read_string(*it, "userUid", "self", "");
    st.self_.tenant_uid = read_string(*it, "tenantUid", "self", "");
    st.self_.org_name = read_string(*it, "orgName", "self", "");
  }
  st.upsert_users(seed.value("users", Json::array()), now_ms);
  st.upsert_keys(seed.value("keys", Json::array()), now_ms);
  st.upsert_teams(seed.value("teams", Json::array()), now_ms);
  return st;
}

Json SimState::user_info() const {
  return {{"orgName", self_.org_name}, {"tenantUid", self_.tenant_uid}, {"userUid", self_.user_uid}};
}

std::vector<const SimUser*> SimState::listed_users() const {
  std::vector<const SimUser*> out;
  for (const auto& u : users_)
    if (!u.deleted) out.push_back(&u);
  return out;
}

SimUser* SimState::find_any_user(std::string_view uid) {
  auto it = user_index_.find(std::string(uid));
  return it == user_index_.end() ? nullptr : &users_[it->second];
}

const SimUser* SimState::find_any_user(std::string_view uid) const {
  auto it = user_index_.find(std::string(uid));
  return it == user_index_.end() ? nullptr : &users_[it->second];
}

const SimUser* SimState::find_user(std::string_view uid) const {
  const SimUser* u = find_any_user(uid);
  return u && !u->deleted ? u : nullptr;
}

std::vector<const SimKey*> SimState::listed_keys() const {
  std::vector<const SimKey*> out;
  for (const auto& k : keys_)
    if (!k.deleted) out.push_back(&k);
  return out;
}

SimKey* SimState::find_key(std::string_view uid) {
  auto it = key_index_.find(std::string(uid));
  if (it == key_index_.end() || keys_[it->second].deleted) return nullptr;
  return &keys_[it->second];
}

Json SimState::user_json(const SimUser& u) const {
  Json status = {{"isActive", u.active}};
  if (u.last_sign_in_ms) status["lastSignIn"] = format_time_ms(*u.last_sign_in_ms);
  return {{"metadata",
           {{"uid", u.uid},
            {"name", u.name},
            {"creationTimestamp", format_time_ms(u.created_ms)},
            {"annotations", Json::object()}}},
          {"spec",
           {{"emailId", u.email}, {"firstName", u.first_name}, {"lastName", u.last_name}, {"roles", Json::array()}}},
          {"status", status}};
}

Json SimState::team_json(const SimTeam& t) const {
  Json users = Json::array();
  for (const auto& uid : t.user_uids)
    if (find_user(uid)) users.push_back(uid);
  return {{"metadata",
           {{"uid", t.uid},
            {"name", t.name},
            {"creationTimestamp", format_time_ms(t.created_ms)},
            {"annotations", Json::object()}}},
          {"spec", {{"users", std::move(users)}, {"roles", t.role_uids}, {"sources", Json::array()}}},
          {"status", Json::object()}};
}

const SimTeam* SimState::find_team(std::string_view uid) const {
  for (const auto& t : teams_)
    if (t.uid == uid) return &t;
  return nullptr;
}

void SimState::upsert_teams(const Json& list, std::int64_t now_ms) {
  for (auto& t : parse_list<SimTeam>(list, "teams", now_ms, parse_team)) {
    auto it = std::find_if(teams_.begin(), teams_.end(), [&](const SimTeam& e) { return e.uid == t.uid; });
    if (it != teams_.end()) {
      *it = std::move(t);
    } else {
      teams_.push_back(std::move(t));
    }
  }
}

bool SimState::delete_team(std::string_view uid) {
  auto it = std::find_if(teams_.begin(), teams_.end(), [&](const SimTeam& e) { return e.uid == uid; });
  if (it == teams_.end()) return false;
  teams_.erase(it);
  return true;
}

Json SimState::key_json(const SimKey& k) const {
  // A key keeps naming its owner after the owner's user record is gone (we
  // assume Palette keeps the names it had; reference §7 leaves this open).
  const SimUser* owner = find_any_user(k.owner_uid);
  return {{"metadata",
           {{"uid", k.uid},
            {"name", k.name},
            {"annotations",
             {{"description", k.description},
              {"ownerUid", k.creator_uid},
              {"permissions", kKeyPermissions},
              {"scope", "tenant"},
              {"scopeVisibility", "20"},
              {"tenantUid", self_.tenant_uid}}},
            {"creationTimestamp", format_time_ms(k.created_ms)},
            {"lastModifiedTimestamp", format_time_ms(k.modified_ms)},
            {"deletionTimestamp", kZeroTime}}},
          {"spec",
           {{"expiry", format_time_ms(k.expiry_ms)},
            {"user",
             {{"uid", k.owner_uid},
              {"firstName", owner ? owner->first_name : ""},
              {"lastName", owner ? owner->last_name : ""}}}}},
          {"status", {{"isActive", k.active}}}};
}

void SimState::set_key_active(SimKey& key, bool active, std::int64_t now_ms) {
  key.active = active;
  key.modified_ms = now_ms;
}

void SimState::delete_key(SimKey& key, std::int64_t now_ms) {
  key.deleted = true;
  key.modified_ms = now_ms;
}

void SimState::upsert_users(const Json& list, std::int64_t now_ms) {
  for (auto& u : parse_list<SimUser>(list, "users", now_ms, parse_user)) {
    if (SimUser* existing = find_any_user(u.uid)) {
      *existing = std::move(u);
    } else {
      user_index_.emplace(u.uid, users_.size());
      users_.push_back(std::move(u));
    }
  }
}

bool SimState::delete_user(std::string_view uid) {
  SimUser* u = find_any_user(uid);
  if (!u || u->deleted) return false;
  u->deleted = true;
  return true;
}

void SimState::upsert_keys(const Json& list, std::int64_t now_ms) {
  for (auto& k : parse_list<SimKey>(list, "keys", now_ms, parse_key)) {
    auto it = key_index_.find(k.uid);
    if (it != key_index_.end()) {
      keys_[it->second] = std::move(k);
    } else {
      key_index_.emplace(k.uid, keys_.size());
      keys_.push_back(std::move(k));
    }
  }
}

Json SimState::dump() const {
  Json users = Json::array();
  for (const auto& u : users_)
    users.push_back({{"uid", u.uid},
                     {"email", u.email},
                     {"firstName", u.first_name},
                     {"lastName", u.last_name},
                     {"isActive", u.active},
                     {"deleted", u.deleted}});
  Json keys = Json::array();
  for (const auto& k : keys_)
    keys.push_back({{"uid", k.uid},
                    {"name", k.name},
                    {"ownerUid", k.owner_uid},
                    {"isActive", k.active},
                    {"deleted", k.deleted},
                    {"createdAt", format_time_ms(k.created_ms)},
                    {"lastModified", format_time_ms(k.modified_ms)},
                    {"expiry", format_time_ms(k.expiry_ms)}});
  Json teams = Json::array();
  for (const auto& t : teams_) teams.push_back({{"uid", t.uid}, {"name", t.name}, {"users", t.user_uids}});
  return {{"self",
           {{"userUid", self_.user_uid}, {"tenantUid", self_.tenant_uid}, {"orgName", self_.org_name}}},
          {"users", users},
          {"keys", keys},
          {"teams", teams}};
}

}  // namespace palette_sim

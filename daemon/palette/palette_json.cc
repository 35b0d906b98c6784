#include "daemon/palette/palette_json.h"

#include <array>
#include <nlohmann/json.hpp>

#include "daemon/engine/identity.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

namespace {

using nlohmann::json;

// The fields keywarden reads. Everything else (annotations, labels, roles,
// permissions...) is dropped while parsing, so that a tenant with a quarter of
// a million keys does not cost a DOM of every annotation.
bool is_wanted_field(std::string_view name) {
  static constexpr std::array<std::string_view, 16> kWanted = {
      "items",  "listmeta", "continue",  "metadata", "spec",     "status",  "uid",      "name",
      "user",   "expiry",   "isActive",  "emailId",  "userUid",  "tenantUid", "orgName", "users"};
  for (std::string_view wanted : kWanted) {
    if (name == wanted) return true;
  }
  return name == "creationTimestamp";
}

json parse_document(std::string_view body) {
  try {
    json doc = json::parse(body.begin(), body.end(), [](int, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::key) return is_wanted_field(parsed.get_ref<const std::string&>());
      return true;
    });
    if (!doc.is_object()) throw PaletteFormatError("expected a JSON object");
    return doc;
  } catch (const json::exception&) {
    // nlohmann's message quotes the input; say only that it was not JSON.
    throw PaletteFormatError("body is not JSON");
  }
}

// `object[key]` when present and not null, else nullptr.
const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const json* object_member(const json& object, const char* key, const std::string& where) {
  const json* value = member(object, key);
  if (value && !value->is_object()) throw PaletteFormatError(where + "." + key + " is not an object");
  return value;
}

std::optional<std::string> string_member(const json* object, const char* key, const std::string& where) {
  if (!object) return std::nullopt;
  const json* value = member(*object, key);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw PaletteFormatError(where + "." + key + " is not a string");
  return value->get<std::string>();
}

std::optional<bool> bool_member(const json* object, const char* key, const std::string& where) {
  if (!object) return std::nullopt;
  const json* value = member(*object, key);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) throw PaletteFormatError(where + "." + key + " is not a boolean");
  return value->get<bool>();
}

// `items` must be present. A null counts as empty: Go servers write an empty
// list that way.
const json& items_of(const json& doc, const json& empty) {
  auto it = doc.find("items");
  if (it == doc.end()) throw PaletteFormatError("no \"items\" in the list");
  if (it->is_null()) return empty;
  if (!it->is_array()) throw PaletteFormatError("\"items\" is not an array");
  return *it;
}

std::string continue_token_of(const json& doc) {
  const json* listmeta = object_member(doc, "listmeta", "listmeta");
  return string_member(listmeta, "continue", "listmeta").value_or("");
}

// An item's metadata.uid, required and non-empty.
std::string uid_of(const json& item, const std::string& where) {
  if (!item.is_object()) throw PaletteFormatError(where + " is not an object");
  const json* metadata = object_member(item, "metadata", where);
  std::string uid = string_member(metadata, "uid", where + ".metadata").value_or("");
  if (uid.empty()) throw PaletteFormatError(where + " has no metadata.uid");
  return uid;
}

Timestamp required_time(const json* object, const char* key, const std::string& where) {
  const std::optional<std::string> text = string_member(object, key, where);
  if (!text || text->empty()) throw PaletteFormatError(where + " has no " + key);
  const std::optional<Timestamp> t = parse_rfc3339(*text);
  if (!t || is_zero_time(*t)) throw PaletteFormatError(where + "." + key + " is not an RFC 3339 time");
  return *t;
}

std::optional<Timestamp> optional_time(const json* object, const char* key, const std::string& where) {
  const std::optional<std::string> text = string_member(object, key, where);
  if (!text || text->empty()) return std::nullopt;
  const std::optional<Timestamp> t = parse_rfc3339(*text);
  if (!t) throw PaletteFormatError(where + "." + key + " is not an RFC 3339 time");
  if (is_zero_time(*t)) return std::nullopt;
  return t;
}

}  // namespace

PaletteUserInfo parse_user_info(std::string_view body) {
  const json doc = parse_document(body);
  PaletteUserInfo info;
  info.org_name = string_member(&doc, "orgName", "info").value_or("");
  info.tenant_uid = string_member(&doc, "tenantUid", "info").value_or("");
  info.user_uid = string_member(&doc, "userUid", "info").value_or("");
  if (info.user_uid.empty()) throw PaletteFormatError("no userUid");
  if (info.tenant_uid.empty()) throw PaletteFormatError("no tenantUid");
  return info;
}

PaletteUsersPage parse_users_page(std::string_view body) {
  const json doc = parse_document(body);
  const json empty = json::array();
  PaletteUsersPage page;
  const json& items = items_of(doc, empty);
  page.users.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    const std::string where = "items[" + std::to_string(i) + "]";
    PaletteUser user;
    user.uid = uid_of(item, where);
    const std::string named = "user " + user.uid;
    const json* spec = object_member(item, "spec", named);
    const json* status = object_member(item, "status", named);
    user.email = normalize_email(string_member(spec, "emailId", named + ".spec").value_or(""));
    user.active = bool_member(status, "isActive", named + ".status").value_or(true);
    page.users.push_back(std::move(user));
  }
  page.continue_token = continue_token_of(doc);
  return page;
}

PaletteTeamsPage parse_teams_page(std::string_view body) {
  const json doc = parse_document(body);
  const json empty = json::array();
  PaletteTeamsPage page;
  const json& items = items_of(doc, empty);
  page.teams.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    const std::string where = "items[" + std::to_string(i) + "]";
    PaletteTeam team;
    team.uid = uid_of(item, where);
    const std::string named = "team " + team.uid;
    const json* metadata = object_member(item, "metadata", named);
    const json* spec = object_member(item, "spec", named);
    team.name = string_member(metadata, "name", named + ".metadata").value_or("");
    if (team.name.empty()) throw PaletteFormatError(named + " has no metadata.name");
    if (const json* users = spec ? member(*spec, "users") : nullptr) {
      if (!users->is_array()) throw PaletteFormatError(named + ".spec.users is not an array");
      for (const json& uid : *users) {
        if (!uid.is_string()) throw PaletteFormatError(named + ".spec.users holds a non-string");
        team.user_uids.push_back(uid.get<std::string>());
      }
    }
    page.teams.push_back(std::move(team));
  }
  page.continue_token = continue_token_of(doc);
  return page;
}

PaletteKeysPage parse_keys_page(std::string_view body) {
  const json doc = parse_document(body);
  const json empty = json::array();
  PaletteKeysPage page;
  const json& items = items_of(doc, empty);
  page.keys.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    const std::string where = "items[" + std::to_string(i) + "]";
    PaletteKey key;
    key.uid = uid_of(item, where);
    const std::string named = "key " + key.uid;
    const json* metadata = object_member(item, "metadata", named);
    const json* spec = object_member(item, "spec", named);
    const json* status = object_member(item, "status", named);
    const json* user = spec ? object_member(*spec, "user", named + ".spec") : nullptr;
    key.name = string_member(metadata, "name", named + ".metadata").value_or("");
    key.created_at = required_time(metadata, "creationTimestamp", named + ".metadata");
    key.owner_uid = string_member(user, "uid", named + ".spec.user").value_or("");
    key.expiry = optional_time(spec, "expiry", named + ".spec");
    key.active = bool_member(status, "isActive", named + ".status").value_or(true);
    page.keys.push_back(std::move(key));
  }
  page.continue_token = continue_token_of(doc);
  return page;
}

std::optional<PaletteApiError> parse_api_error(std::string_view body) {
  const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto text = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  PaletteApiError error{text("code"), text("message"), text("ref")};
  if (error.code.empty() && error.message.empty()) return std::nullopt;
  return error;
}

std::string key_state_body(bool active) { return active ? R"({"isActive":true})" : R"({"isActive":false})"; }

}  // namespace keywarden

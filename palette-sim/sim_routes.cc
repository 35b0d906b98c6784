#include "palette-sim/sim_routes.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "daemon/base/ascii.h"

namespace palette_sim {
namespace {

using keywarden::ascii_lower;

namespace net = boost::asio;
using keywarden::server::Request;
using keywarden::server::Response;

constexpr std::size_t kPageLimit = 50;  // "Default and maximum value of the limit is 50"

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Response json_response(int status, const Json& j) { return Response::json(status, dump(j)); }

Response no_content() { return Response{.status = 204}; }

// V1Error (reference/palette-api.md §5).
Response v1_error(int status, std::string code, std::string message) {
  return json_response(status,
                       {{"code", std::move(code)}, {"message", std::move(message)}, {"ref", ""}, {"details", Json::object()}});
}

Response bad_request(std::string message) { return v1_error(400, "BadRequest", std::move(message)); }

Response not_found(std::string message) { return v1_error(404, "ResourceNotFound", std::move(message)); }

Response method_not_allowed(const Request& req) {
  return v1_error(405, "MethodNotAllowed", "method " + req.method + " is not allowed on " + req.path);
}

Response too_many_requests(const Request& req, std::optional<int> retry_after) {
  // The message the Go SDK builds for a 429 (transport_error.go).
  Response r = v1_error(429, "TooManyRequests", "Too Many Requests, [" + req.method + "] " + req.path);
  if (retry_after) r.headers["Retry-After"] = std::to_string(*retry_after);
  return r;
}

Response server_error(int status) {
  switch (status) {
    case 502: return v1_error(502, "BadGateway", "simulated bad gateway");
    case 503: return v1_error(503, "ServiceUnavailable", "simulated service unavailable");
    default: return v1_error(500, "InternalError", "simulated internal error");
  }
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t pos = path.starts_with('/') ? 1 : 0;
  while (pos <= path.size()) {
    auto slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kBase64[(v >> shift) & 63]);
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kBase64[(v >> 18) & 63]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::char_traits<char>::find(kBase64, 64, c);
    if (!p) return std::nullopt;
    v = (v << 6) | static_cast<unsigned>(p - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<long long> parse_integer(std::string_view s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Accepts a JSON array, {"<field>": [...]}, or one object; returns the array.
std::optional<Json> entries(const std::string& body, const char* field) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  if (j.is_array()) return j;
  if (j.is_object() && j.contains(field)) return j[field];
  if (j.is_object()) return Json::array({j});
  return std::nullopt;
}

}  // namespace

SimRoutes::SimRoutes(SimState state, SimOptions options)
    : state_(std::move(state)),
      options_(std::move(options)),
      limiter_(options_.rate, options_.burst),
      started_(Clock::now()) {}

std::int64_t SimRoutes::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SimRoutes::uptime_ms(Clock::time_point now) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
}

bool SimRoutes::key_matches(const std::optional<std::string>& value) const {
  return value && !options_.api_key.empty() && *value == options_.api_key;
}

std::string SimRoutes::encode_continue(std::size_t offset, std::size_t count) {
  // Written by hand to keep the documented field order.
  return base64_encode("{\"offset\":" + std::to_string(offset) + ",\"count\":" + std::to_string(count) +
                       ",\"token\":\"\"}");
}

std::optional<std::size_t> SimRoutes::decode_continue(std::string_view token) {
  auto text = base64_decode(token);
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("offset") || !j["offset"].is_number_unsigned()) return std::nullopt;
  return j["offset"].get<std::size_t>();
}

boost::asio::awaitable<std::optional<Response>> SimRoutes::handle(Request req) {
  const auto began = Clock::now();
  if (req.path == "/__sim" || req.path.starts_with("/__sim/")) {
    Response r = control(req);
    log_line(req, r.status, began);
    co_return r;
  }

  // Log the call at arrival, secrets replaced.
  Call call{.method = req.method, .path = req.path, .query = req.query, .time_ms = uptime_ms(began),
            .unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count(),
            .body = req.body, .headers = req.headers};
  if (auto it = call.headers.find("apikey"); it != call.headers.end())
    it->second = key_matches(it->second) ? "<redacted>" : "<wrong>";
  for (const char* secret : {"authorization", "cookie"})
    if (auto it = call.headers.find(secret); it != call.headers.end()) it->second = "<redacted>";
  if (req.query_param("ApiKey") || ascii_lower(req.query).find("apikey=") != std::string::npos)
    call.query = "<redacted>";  // a key in the URL must not reach the log
  const CallLog::Id id = calls_.begin(std::move(call));

  if (faults_.latency().count() > 0) {
    net::steady_timer timer(co_await net::this_coro::executor, faults_.latency());
    boost::system::error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (faults_.should_drop()) {
    calls_.finish(id, 0);
    log_line(req, 0, began);
    co_return std::nullopt;
  }

  Response r;
  try {
    r = api(req, Clock::now());
  } catch (const std::exception& e) {
    r = v1_error(500, "InternalError", std::string("simulator bug: ") + e.what());
  }
  calls_.finish(id, r.status);
  log_line(req, r.status, began);
  co_return r;
}

// The order is that of a gateway in front of the service: storm and rate
// limit first, then (simulated) server errors, then authentication, then
// the endpoint itself. Nothing before the endpoint changes state.
Response SimRoutes::api(const Request& req, Clock::time_point now) {
  if (faults_.in_storm(now)) return too_many_requests(req, faults_.retry_after());
  if (!limiter_.allow(req.remote_address, req.path, now)) return too_many_requests(req, std::nullopt);
  if (auto status = faults_.server_error()) return server_error(*status);

  auto key = req.header("apikey");
  if (!key) return v1_error(401, "Unauthorized", "missing ApiKey header");
  if (!key_matches(key)) return v1_error(401, "Unauthorized", "invalid API key");

  auto segments = split_path(req.path);
  if (segments.size() >= 2 && segments[0] == "v1" &&
      (segments[1] == "users" || segments[1] == "apiKeys" || segments[1] == "teams")) {
    // Users, teams and API keys are tenant-scoped; a project scope is a client bug.
    if (req.header("projectuid"))
      return bad_request("ProjectUid header is not allowed: " + segments[1] + " are tenant-scoped");
    if (segments[1] == "users") return users(req, segments);
    if (segments[1] == "teams") return teams(req, segments);
    return api_keys(req, segments);
  }
  return not_found("no such endpoint: " + req.method + " " + req.path);
}

Response SimRoutes::users(const Request& req, const std::vector<std::string>& seg) {
  if (seg.size() == 2) return req.method == "GET" ? list_users(req) : method_not_allowed(req);
  if (seg.size() != 3 || seg[2].empty()) return not_found("no such endpoint: " + req.path);
  if (req.method != "GET") return method_not_allowed(req);
  if (seg[2] == "info") return json_response(200, state_.user_info());
  const SimUser* user = state_.find_user(seg[2]);
  if (!user) return not_found("user " + seg[2] + " not found");
  return json_response(200, state_.user_json(*user));
}

Response SimRoutes::list_users(const Request& req) {
  auto users = state_.listed_users();
  return list_page(req, users.size(), [&](std::size_t i) { return state_.user_json(*users[i]); });
}

// GET /v1/teams (paged like users) and GET /v1/teams/{uid}. Team changes
// (PUT, PATCH, DELETE, POST /v1/teams) are not simulated: keywarden must
// never make them, and the call log shows any attempt with its 405.
Response SimRoutes::teams(const Request& req, const std::vector<std::string>& seg) {
  if (req.method != "GET") return method_not_allowed(req);
  const auto& all = state_.teams();
  if (seg.size() == 2) {
    return list_page(req, all.size(), [&](std::size_t i) { return state_.team_json(all[i]); });
  }
  if (seg.size() != 3 || seg[2].empty()) return not_found("no such endpoint: " + req.path);
  const SimTeam* team = state_.find_team(seg[2]);
  if (!team) return not_found("team " + seg[2] + " not found");
  return json_response(200, state_.team_json(*team));
}

Response SimRoutes::list_page(const Request& req, std::size_t count, const std::function<Json(std::size_t)>& item) {
  std::size_t limit = kPageLimit;
  if (auto text = req.query_param("limit")) {
    auto v = parse_integer(*text);
    if (!v) return bad_request("limit must be an integer");
    if (*v > 0 && *v < static_cast<long long>(kPageLimit)) limit = static_cast<std::size_t>(*v);
  }
  std::size_t offset = 0;
  if (auto token = req.query_param("continue"); token && !token->empty()) {
    auto decoded = decode_continue(*token);
    if (!decoded) return bad_request("invalid continue token");
    offset = *decoded;
  } else if (auto text = req.query_param("offset")) {
    auto v = parse_integer(*text);
    if (!v || *v < 0) return bad_request("offset must be a non-negative integer");
    offset = static_cast<std::size_t>(*v);
  }

  Json items = Json::array();
  std::size_t next = offset;
  for (; next < count && next < offset + limit; ++next) items.push_back(item(next));
  next = std::max(next, offset);
  // listmeta.offset is where the next page starts, as in the documented
  // example (first page of 117: continue -> offset 50, listmeta.offset 50).
  Json listmeta = {{"continue", next < count ? encode_continue(next, count) : ""},
                   {"count", count},
                   {"limit", limit},
                   {"offset", next}};
  return json_response(200, {{"items", std::move(items)}, {"listmeta", std::move(listmeta)}});
}

Response SimRoutes::api_keys(const Request& req, const std::vector<std::string>& seg) {
  if (seg.size() == 2) {
    if (req.method != "GET") return method_not_allowed(req);
    Json items = Json::array();
    for (const SimKey* k : state_.listed_keys()) items.push_back(state_.key_json(*k));
    return json_response(200, {{"items", std::move(items)}});  // the spec declares no listmeta
  }
  if (seg[2].empty()) return not_found("no such endpoint: " + req.path);
  const std::string& uid = seg[2];
  if (seg.size() == 4 && seg[3] == "state") {
    if (req.method != "PUT") return method_not_allowed(req);
    return set_key_state(req, uid);
  }
  if (seg.size() != 3) return not_found("no such endpoint: " + req.path);
  if (req.method == "PATCH") return set_key_state(req, uid);
  if (req.method != "GET" && req.method != "DELETE") return method_not_allowed(req);
  SimKey* key = state_.find_key(uid);
  if (!key) return not_found("API key " + uid + " not found");
  if (req.method == "GET") return json_response(200, state_.key_json(*key));
  state_.delete_key(*key, wall_ms());
  return no_content();
}

// PUT /v1/apiKeys/{uid}/state and PATCH /v1/apiKeys/{uid}: v1ApiKeyActiveState.
Response SimRoutes::set_key_state(const Request& req, const std::string& uid) {
  Json body = Json::parse(req.body, nullptr, false);
  // Strict on purpose: a client that drops "isActive": false (the Go SDK's
  // omitempty pitfall) sends {} and must see it fail.
  if (!body.is_object() || !body.contains("isActive") || !body["isActive"].is_boolean())
    return bad_request("body must be {\"isActive\": true|false}");
  const bool active = body["isActive"].get<bool>();
  SimKey* key = state_.find_key(uid);
  if (!key) return not_found("API key " + uid + " not found");
  const std::int64_t now = wall_ms();
  // "as long as expiration date has not passed" (reference §2.3); the status
  // Palette uses for this is not documented.
  if (active && !key->active && key->expiry_ms <= now)
    return bad_request("API key " + uid + " has expired and cannot be re-activated");
  state_.set_key_active(*key, active, now);
  return no_content();
}

Response SimRoutes::control(const Request& req) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  const auto now = Clock::now();
  try {
    if (p == "/__sim/state" && m == "GET") return json_response(200, state_.dump());
    if (p == "/__sim/calls" && m == "GET") return json_response(200, {{"calls", calls_.to_json()}});
    if (p == "/__sim/reset-calls" && m == "POST") {
      calls_.reset();
      return no_content();
    }
    if (p == "/__sim/reset-rate-limits" && m == "POST") {
      limiter_.reset();
      return no_content();
    }
    if (p == "/__sim/faults" && m == "GET") return json_response(200, faults_.describe(now));
    if (p == "/__sim/faults" && m == "POST") {
      Json body = req.body.empty() ? Json::object() : Json::parse(req.body, nullptr, false);
      if (body.is_discarded()) return bad_request("faults body is not JSON");
      if (auto error = faults_.configure(body, now)) return bad_request(*error);
      return json_response(200, faults_.describe(now));
    }
    if (p == "/__sim/users" && m == "POST") {
      auto list = entries(req.body, "users");
      if (!list) return bad_request("body must be a user, a list of users or {\"users\": [...]}");
      state_.upsert_users(*list, wall_ms());
      return no_content();
    }
    if (p.starts_with("/__sim/users/") && m == "DELETE") {
      std::string uid = p.substr(std::string_view("/__sim/users/").size());
      if (!state_.delete_user(uid)) return not_found("user " + uid + " not found");
      return no_content();
    }
    if (p == "/__sim/teams" && m == "POST") {
      auto list = entries(req.body, "teams");
      if (!list) return bad_request("body must be a team, a list of teams or {\"teams\": [...]}");
      state_.upsert_teams(*list, wall_ms());
      return no_content();
    }
    if (p.starts_with("/__sim/teams/") && m == "DELETE") {
      std::string uid = p.substr(std::string_view("/__sim/teams/").size());
      if (!state_.delete_team(uid)) return not_found("team " + uid + " not found");
      return no_content();
    }
    if (p == "/__sim/keys" && m == "POST") {
      auto list = entries(req.body, "keys");
      if (!list) return bad_request("body must be a key, a list of keys or {\"keys\": [...]}");
      state_.upsert_keys(*list, wall_ms());
      return no_content();
    }
  } catch (const std::invalid_argument& e) {  // a bad user or key entry
    return bad_request(e.what());
  }
  return not_found("no such control endpoint: " + m + " " + p);
}

void SimRoutes::log_line(const Request& req, int status, Clock::time_point began) const {
  if (!options_.log_requests) return;
  const bool secret_in_query = ascii_lower(req.query).find("apikey") != std::string::npos;
  std::string target = req.path;
  if (!req.query.empty()) target += secret_in_query ? "?<redacted>" : "?" + req.query;
  for (char& c : target)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';  // no terminal escapes
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
  std::string line = "palette-sim: " + req.remote_address + " " + req.method + " " + target + " -> " +
                     (status == 0 ? std::string("dropped") : std::to_string(status));
  char tail[32];
  std::snprintf(tail, sizeof tail, " (%.1f ms)\n", ms);
  line += tail;
  std::fputs(line.c_str(), stderr);
}

}  // namespace palette_sim

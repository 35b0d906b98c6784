#include "connectors/keycloak/keycloak_directory.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unordered_set>

namespace keywarden {

namespace {

std::string string_member(const nlohmann::json& item, const char* name) {
  const auto it = item.find(name);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string keycloak_id(const nlohmann::json& item) {
  if (!item.is_object()) throw KeycloakFormatError("an item is not a JSON object");
  std::string id = string_member(item, "id");
  if (id.empty()) throw KeycloakFormatError("an item has no \"id\"");
  return id;
}

Identity identity_from_keycloak_user(const nlohmann::json& user) {
  Identity identity;
  identity.subject_id = keycloak_id(user);
  const auto enabled = user.find("enabled");
  if (enabled == user.end() || !enabled->is_boolean()) {
    throw KeycloakFormatError("user " + identity.subject_id + " has no boolean \"enabled\"");
  }
  identity.user_name = string_member(user, "username");
  identity.email = string_member(user, "email");
  if (enabled->get<bool>()) {
    identity.status = IdentityStatus::active;
  } else {
    identity.status = IdentityStatus::inactive;
    identity.status_detail = "enabled false in Keycloak";
  }
  return identity;
}

KeycloakGroup keycloak_group_from_json(const nlohmann::json& group, const std::string& parent_path) {
  KeycloakGroup out;
  out.id = keycloak_id(group);
  out.name = string_member(group, "name");
  if (out.name.empty()) throw KeycloakFormatError("group " + out.id + " has no \"name\"");
  out.path = string_member(group, "path");
  if (out.path.empty()) out.path = parent_path + "/" + out.name;
  if (const auto count = group.find("subGroupCount"); count != group.end() && count->is_number_integer()) {
    out.sub_group_count = count->get<long long>();
  }
  if (const auto nested = group.find("subGroups"); nested != group.end() && nested->is_array()) {
    for (const auto& child : *nested) out.nested.push_back(keycloak_group_from_json(child, out.path));
  }
  return out;
}

bool needs_children_listing(const KeycloakGroup& group) {
  return group.sub_group_count && *group.sub_group_count > static_cast<long long>(group.nested.size());
}

std::string KeycloakAdminEvent::key() const {
  if (!id.empty()) return id;
  return std::to_string(time) + "|" + operation + "|" + resource_type + "|" + resource_path + "|" + auth_user;
}

std::string KeycloakAdminEvent::subject_user() const {
  constexpr std::string_view prefix = "users/";
  if (resource_path.rfind(prefix, 0) != 0) return "";
  const std::string rest = resource_path.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

KeycloakAdminEvent keycloak_admin_event_from_json(const nlohmann::json& event) {
  if (!event.is_object()) throw KeycloakFormatError("an admin event is not a JSON object");
  const auto time = event.find("time");
  if (time == event.end() || !time->is_number_integer()) throw KeycloakFormatError("an admin event has no numeric \"time\"");
  KeycloakAdminEvent out;
  out.time = time->get<long long>();
  out.id = string_member(event, "id");
  out.operation = string_member(event, "operationType");
  out.resource_type = string_member(event, "resourceType");
  out.resource_path = string_member(event, "resourcePath");
  if (const auto auth = event.find("authDetails"); auth != event.end() && auth->is_object()) {
    out.auth_user = string_member(*auth, "userId");
  }
  return out;
}

std::string AdminEventPosition::to_json() const {
  nlohmann::json doc;
  doc["time"] = time;
  doc["seen"] = nlohmann::json::array();
  for (const auto& key : seen) doc["seen"].push_back(key);
  doc["form"] = date_only ? "date" : "epoch";
  return doc.dump();
}

std::optional<AdminEventPosition> AdminEventPosition::from_json(const std::string& text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  const auto time = doc.find("time");
  const auto seen = doc.find("seen");
  const auto form = doc.find("form");
  if (time == doc.end() || !time->is_number_integer() || time->get<long long>() < 0) return std::nullopt;
  if (seen == doc.end() || !seen->is_array()) return std::nullopt;
  if (form == doc.end() || !form->is_string() || (*form != "epoch" && *form != "date")) return std::nullopt;
  AdminEventPosition position;
  position.time = time->get<long long>();
  for (const auto& key : *seen) {
    if (!key.is_string()) return std::nullopt;
    position.seen.insert(key.get<std::string>());
  }
  position.date_only = *form == "date";
  return position;
}

std::vector<KeycloakAdminEvent> events_after(std::vector<KeycloakAdminEvent> events, const AdminEventPosition& position) {
  // Older servers answer newest first, 26.2+ as asked: sort, keeping the
  // server's order within one millisecond reversed back for a newest-first
  // page (its ties are newest first too).
  const bool newest_first = events.size() > 1 && events.front().time > events.back().time;
  if (newest_first) std::reverse(events.begin(), events.end());
  std::stable_sort(events.begin(), events.end(),
                   [](const KeycloakAdminEvent& a, const KeycloakAdminEvent& b) { return a.time < b.time; });
  std::vector<KeycloakAdminEvent> fresh;
  std::unordered_set<std::string> taken;
  for (auto& event : events) {
    if (event.time < position.time) continue;
    const std::string key = event.key();
    if (event.time == position.time && position.seen.count(key)) continue;
    if (!taken.insert(key).second) continue;  // a page boundary that shifted: seen twice
    fresh.push_back(std::move(event));
  }
  return fresh;
}

AdminEventPosition advance(AdminEventPosition position, const std::vector<KeycloakAdminEvent>& applied) {
  for (const auto& event : applied) {
    if (event.time > position.time) {
      position.time = event.time;
      position.seen.clear();
    }
    if (event.time == position.time) position.seen.insert(event.key());
  }
  return position;
}

std::string utc_date_of(long long epoch_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(epoch_ms)));
  const year_month_day ymd(day);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return text;
}

std::string admin_events_date_from(const AdminEventPosition& position) {
  if (!position.date_only) return std::to_string(position.time);
  constexpr long long kDayMs = 24LL * 60 * 60 * 1000;
  return utc_date_of(std::max<long long>(position.time - kDayMs, 0));
}

}  // namespace keywarden

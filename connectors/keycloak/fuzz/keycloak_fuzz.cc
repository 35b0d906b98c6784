// libFuzzer target over Keycloak's Admin REST JSON (scripts/fuzz.sh).
//
// The input is one or more sections separated by a line "===". Each section
// is a first line naming what the rest is, parsed as the source parses it
// (keycloak_source.cc: a JSON array per page, each item through
// keycloak_directory.h):
//   "users"     a GET /users page: identity_from_keycloak_user per item;
//   "groups"    a GET /groups (or /children, /users/{id}/groups) page:
//               keycloak_group_from_json per item, nested subGroups walked,
//               needs_children_listing asked;
//   "members"   a GET /groups/{id}/members page: keycloak_id per item;
//   "events"    a GET /admin-events page: keycloak_admin_event_from_json per
//               item; the events of all such sections are then taken past
//               the position (events_after), the position advanced, stored
//               and read back (to_json / from_json), and turned into a
//               dateFrom (admin_events_date_from);
//   "position"  a stored position (AdminEventPosition::from_json), the one
//               the events are read from.
// Seed corpus: ./corpus (shapes of Keycloak's representations, as
// tests/integration/keycloak_standin.py serves them).
//
// Beyond the sanitizers: the readers throw nothing but KeycloakFormatError;
// events_after returns each key once and nothing at or before the position
// that was applied; a position survives its own round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/keycloak/keycloak_directory.h"

namespace {

constexpr size_t kMaxSections = 8;
constexpr int kMaxGroupDepth = 16;

void check(bool ok) {
  if (!ok) std::abort();
}

template <class Read>
void each_item(std::string_view body, Read&& read) {
  const nlohmann::json items = nlohmann::json::parse(body, nullptr, false);
  if (!items.is_array()) return;  // the source refuses the page
  for (const nlohmann::json& item : items) {
    try {
      read(item);
    } catch (const keywarden::KeycloakFormatError& e) {
      check(e.what()[0] != '\0');
    }
  }
}

void walk_group(const keywarden::KeycloakGroup& group, int depth) {
  check(!group.id.empty());
  (void)keywarden::needs_children_listing(group);
  if (depth >= kMaxGroupDepth) return;
  for (const keywarden::KeycloakGroup& child : group.nested) walk_group(child, depth + 1);
}

struct Events {
  std::vector<keywarden::KeycloakAdminEvent> read;
  keywarden::AdminEventPosition position;
};

void fuzz_events(const Events& events) {
  const std::vector<keywarden::KeycloakAdminEvent> fresh = keywarden::events_after(events.read, events.position);
  std::set<std::string> keys;
  for (const keywarden::KeycloakAdminEvent& event : fresh) {
    check(keys.insert(event.key()).second);  // each key once
    check(event.time >= events.position.time);
    check(event.time > events.position.time || !events.position.seen.count(event.key()));
    (void)event.subject_user();
  }
  const keywarden::AdminEventPosition next = keywarden::advance(events.position, fresh);
  const std::string stored = next.to_json();
  const std::optional<keywarden::AdminEventPosition> reread = keywarden::AdminEventPosition::from_json(stored);
  check(reread && reread->time == next.time && reread->seen == next.seen && reread->date_only == next.date_only);
  (void)keywarden::admin_events_date_from(next);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Events events;
  for (size_t sections = 0; sections < kMaxSections && !input.empty(); ++sections) {
    const size_t separator = input.find("\n===\n");
    const std::string_view section = input.substr(0, separator);
    const size_t newline = section.find('\n');
    const std::string_view kind = section.substr(0, newline);
    const std::string_view body = newline == std::string_view::npos ? std::string_view() : section.substr(newline + 1);
    if (kind == "users") {
      each_item(body, [](const nlohmann::json& item) { (void)keywarden::identity_from_keycloak_user(item); });
    } else if (kind == "groups") {
      each_item(body, [](const nlohmann::json& item) { walk_group(keywarden::keycloak_group_from_json(item, ""), 0); });
    } else if (kind == "members") {
      each_item(body, [](const nlohmann::json& item) { check(!keywarden::keycloak_id(item).empty()); });
    } else if (kind == "events") {
      each_item(body, [&](const nlohmann::json& item) {
        events.read.push_back(keywarden::keycloak_admin_event_from_json(item));
      });
    } else if (kind == "position") {
      if (auto position = keywarden::AdminEventPosition::from_json(std::string(body))) events.position = *position;
    }
    if (separator == std::string_view::npos) break;
    input.remove_prefix(separator + 5);
  }
  fuzz_events(events);
  return 0;
}

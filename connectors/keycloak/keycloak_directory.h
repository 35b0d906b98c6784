// What Keycloak's Admin REST API pages mean: users, groups (both shapes of
// subgroups), admin events, and where an admin-event read stands. Pure: no
// I/O, no clock; the source (keycloak_source.h) does the fetching.
//
// Checked against Keycloak's own code and docs (keycloak/keycloak):
// - UserRepresentation: `id`, `username`, `email` (may be absent), `enabled`
//   (services/.../admin/UsersResource.java, briefRepresentation keeps all four).
// - GroupRepresentation: `id`, `name`, `path` ("/parent/child"); before 23
//   GET /groups nests every subgroup in `subGroups`; from 23 it lists
//   top-level groups with `subGroupCount` and leaves `subGroups` empty, the
//   children being served by GET /groups/{id}/children?first=&max=
//   (GroupResource.getSubGroups, whose `max` defaults to 10, so we always
//   pass it).
// - AdminEventRepresentation: `time` (epoch ms), `operationType`
//   (CREATE|UPDATE|DELETE|ACTION), `resourceType` (USER, GROUP_MEMBERSHIP,
//   ...), `resourcePath` ("users/<id>", "users/<id>/groups/<group id>"),
//   `authDetails`, `representation`; `id` only since 26.2 (release notes
//   "More query parameters in Admin Events API").
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/engine/identity.h"

namespace keywarden {

// An item of a page that is not what Keycloak documents.
class KeycloakFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A user as a full read or a re-read sees them: active iff enabled, else
// inactive ("enabled false in Keycloak"). No groups. Throws
// KeycloakFormatError without a string `id` or a boolean `enabled`.
Identity identity_from_keycloak_user(const nlohmann::json& user);

// The "id" of a member or user item; KeycloakFormatError when missing.
std::string keycloak_id(const nlohmann::json& item);

// One group of a listing, with the subgroups the server nested in it.
struct KeycloakGroup {
  std::string id;
  std::string name;
  std::string path;  // "/parent/child"; built from the parent's when absent
  std::optional<long long> sub_group_count;  // 23+: how many children /children serves
  std::vector<KeycloakGroup> nested;        // before 23: the subGroups given inline
};

// A group item; `parent_path` ("" for top level) builds `path` when the
// server left it out. Throws KeycloakFormatError without `id` and `name`.
KeycloakGroup keycloak_group_from_json(const nlohmann::json& group, const std::string& parent_path);

// True when the children of `group` must be fetched from /children: the
// server counted more subgroups than it nested.
bool needs_children_listing(const KeycloakGroup& group);

// One admin event, the fields we use.
struct KeycloakAdminEvent {
  long long time = 0;          // epoch ms
  std::string id;              // 26.2+; "" before
  std::string operation;       // CREATE | UPDATE | DELETE | ACTION
  std::string resource_type;   // USER | GROUP_MEMBERSHIP | ...
  std::string resource_path;   // "users/<id>[/groups/<gid>]"
  std::string auth_user;       // authDetails.userId, for the key

  // What tells two events apart within one millisecond: the id when the
  // server gives one, else time, operation, type, path and actor together.
  std::string key() const;
  // The user the event is about ("users/<id>..." → "<id>"); "" otherwise.
  std::string subject_user() const;
};

// Throws KeycloakFormatError without a numeric `time`.
KeycloakAdminEvent keycloak_admin_event_from_json(const nlohmann::json& event);

// Where incremental reads stand in a realm's admin events, kept in the
// source's state across restarts:
//   {"time": <epoch ms>, "seen": [<keys of events at exactly that ms>],
//    "form": "epoch" | "date"}
// Every event older than `time`, and those at `time` whose key is in
// `seen`, are already applied; events at `time` not in `seen` are not.
// `form` remembers whether the server takes dateFrom in epoch ms (26.2+) or
// only as yyyy-MM-dd (older).
struct AdminEventPosition {
  long long time = 0;
  std::set<std::string> seen;
  bool date_only = false;

  std::string to_json() const;
  // nullopt when `text` is not a position.
  static std::optional<AdminEventPosition> from_json(const std::string& text);
};

// The events of `events` not yet applied at `position`, oldest first (ties
// in the order given), each key once.
std::vector<KeycloakAdminEvent> events_after(std::vector<KeycloakAdminEvent> events,
                                             const AdminEventPosition& position);

// `position` moved past `applied` (as events_after returned them).
AdminEventPosition advance(AdminEventPosition position, const std::vector<KeycloakAdminEvent>& applied);

// The dateFrom for reading from `position`: epoch ms, or, for a server that
// takes only yyyy-MM-dd, the UTC date of one day before: Keycloak parses
// that date in its own time zone (SimpleDateFormat, default zone), which
// may be up to a day behind UTC; events_after drops what is older.
std::string admin_events_date_from(const AdminEventPosition& position);

// "yyyy-MM-dd" (UTC) of an epoch-millisecond time.
std::string utc_date_of(long long epoch_ms);

}  // namespace keywarden

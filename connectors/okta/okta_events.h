// Okta System Log events (LogEvent, as polled from /api/v1/logs and as
// delivered by Event Hooks in data.events[]) as identity changes.
//
// Pure functions over parsed JSON: no I/O, no store.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/okta/okta_users.h"
#include "daemon/engine/identity.h"

namespace keywarden {

// What one event means for one person.
struct OktaEventEffect {
  enum class Kind { status, membership };
  Kind kind = Kind::status;
  std::string subject_id;     // the "User" target's id
  std::string subject_login;  // its alternateId (the login, usually an email)
  // Kind::status
  IdentityStatus status = IdentityStatus::active;
  std::string status_detail;
  // Kind::membership
  std::string group;  // the "UserGroup" target's displayName
  bool member = false;
};

struct OktaLogEvent {
  std::string uuid;        // "" when absent
  std::string event_type;
  std::optional<int64_t> published_ms;  // nullopt when absent or unreadable
  std::optional<OktaEventEffect> effect;  // nullopt: nothing keywarden acts on
};

// Reads one LogEvent. Only events whose outcome.result is "SUCCESS" have an
// effect, and only these types:
//   user.lifecycle.deactivate                → inactive, "status DEPROVISIONED"
//   user.lifecycle.suspend                   → inactive, "status SUSPENDED"
//   user.lifecycle.unsuspend / .activate / .reactivate → active
//   user.lifecycle.delete.initiated / .delete.completed → deleted
//   group.user_membership.add / .remove      → membership of the UserGroup
//                                              target's displayName
// application.user_membership.remove has no effect on purpose: keywarden is
// not told which Okta app is Palette, so an unassignment from some app is not
// a departure; group membership is what the policy entitles. An event whose
// User (or, for memberships, UserGroup) target is missing has no effect.
// Throws OktaFormatError when `event` is not an object or has no eventType.
OktaLogEvent parse_log_event(const nlohmann::json& event);

// "2026-11-26T10:00:00.123Z" (any RFC 3339 form) as milliseconds since the
// epoch; nullopt when unreadable. Okta's `published` has milliseconds that
// order events within one second.
std::optional<int64_t> parse_published_millis(std::string_view text);

// Orders events by `published` (events arrive out of order); equal or
// unreadable times keep their order, unreadable ones go last.
void sort_by_published(std::vector<OktaLogEvent>& events);

}  // namespace keywarden

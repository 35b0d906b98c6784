// Actions, plans and per-key verdicts: what the engine decides.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/time_point.h"

namespace keywarden {

enum class ActionKind { revoke, reactivate, delete_key };

// SPEC §2 reasons, spelled as in the JSON output.
enum class Reason {
  identity_inactive,
  identity_deleted,
  not_entitled,
  owner_missing,
  key_too_old,
  unknown_owner,
  never_entitled,
  grace_elapsed,
  re_entitled,
  stale_team,
  credential_compromise,  // SPEC §8.1: never reactivated by keywarden
};

std::string_view to_string(ActionKind k);   // "revoke" | "reactivate" | "delete"
std::string_view to_string(Reason r);
std::optional<ActionKind> action_kind_from_string(std::string_view s);
std::optional<Reason> reason_from_string(std::string_view s);

struct Action {
  ActionKind kind = ActionKind::revoke;
  std::string key_uid;
  std::string key_name;
  std::string owner_uid;
  std::string owner_email;
  Reason reason = Reason::identity_inactive;
  std::string source;  // the source whose facts led here; empty when Palette alone did
  std::string detail;  // human wording, e.g. "status DEPROVISIONED since 2026-11-26T09:58:01Z"
};

// SPEC §9: a Palette user still in `team`, whose identity in `source` was
// seen in `group` (the group matching the team) and left it at `left_at`.
struct StaleMembership {
  std::string owner_uid;
  std::string owner_email;
  std::string team;
  std::string source;
  std::string group;
  Timestamp left_at{};

  friend bool operator==(const StaleMembership&, const StaleMembership&) = default;
};

// What the engine thinks of one key. Every key gets a verdict; only `act`
// verdicts carry an action that may be carried out.
enum class VerdictKind {
  keep,       // entitled owner, nothing to do
  exempt,     // exempt user, exempt key name, or the daemon's own user
  act,        // `action` is set
  waiting,    // a departure seen, revoke_after not yet passed
  held,       // an action is due but rests on an unhealthy source
  report,     // the policy says report only
  revoked,    // revoked by keywarden, waiting for delete_after
  inactive,   // already inactive and not revoked by keywarden: left alone
};

std::string_view to_string(VerdictKind v);

struct KeyVerdict {
  std::string key_uid;
  std::string key_name;
  std::string owner_uid;
  std::string owner_email;          // empty when the Palette user is gone
  std::string identity;             // "source/subject_id" of the deciding identity, if any
  bool key_active = true;
  VerdictKind kind = VerdictKind::keep;
  std::optional<Action> action;     // set for act, held and report (the action not taken)
  std::string note;                 // why, for humans
  // The owner's stale team memberships (SPEC §9), listed under the
  // stale_teams policies report and revoke; empty under ignore.
  std::vector<StaleMembership> stale_teams;
};

// The keys keywarden revoked itself: the only ones it may reactivate or delete.
struct RevokedKeyRecord {
  std::string key_uid;
  std::string owner_uid;
  Timestamp revoked_at{};
  Reason reason = Reason::identity_inactive;
};

struct Plan {
  std::string plan_id;
  Timestamp generated_at{};
  std::vector<KeyVerdict> verdicts;
  std::vector<Action> actions;      // the act verdicts' actions, in verdict order
  // The verdicts' stale team memberships, each once, in verdict order.
  std::vector<StaleMembership> stale_teams;
  bool blocked = false;             // the safety gate quarantined it
  std::string block_reason;
};

}  // namespace keywarden

// What the events of a verified Security Event Token mean for keywarden
// (SPEC §8.1 "Subjects" and "Effects"). Pure: no I/O, no clock.
//
// Transmitters disagree on where the subject is: SSF 1.0 puts an RFC 9493
// subject identifier in the top-level `sub_id`; older CAEP/RISC transmitters
// put `subject` inside each event (Okta nests it further, under `user`), and
// Google spells the format `subject_type` with hyphens ("iss-sub"). All of
// these are read; the top-level `sub_id` wins when both are present.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

inline constexpr std::string_view kRiscEventPrefix = "https://schemas.openid.net/secevent/risc/event-type/";
inline constexpr std::string_view kCaepEventPrefix = "https://schemas.openid.net/secevent/caep/event-type/";
inline constexpr std::string_view kSsfEventPrefix = "https://schemas.openid.net/secevent/ssf/event-type/";

enum class SetEventKind {
  account_disabled,       // RISC account-disabled
  account_purged,         // RISC account-purged
  account_enabled,        // RISC account-enabled
  credential_compromise,  // RISC credential-compromise
  session_revoked,        // CAEP session-revoked (and RISC's deprecated sessions-revoked)
  verification,           // SSF verification
  stream_updated,         // SSF stream-updated
  other,                  // audited, otherwise ignored
};

// The event types keywarden asks a transmitter for (events_requested).
std::vector<std::string> requested_event_types();

// How an event's subject joins keywarden's identities.
struct SetSubject {
  enum class Join {
    email,       // joins Palette owners by email; `value` is normalized
    subject_id,  // joins an identity of any source whose subject id is `value`
  };
  Join join = Join::email;
  std::string value;
  std::string format;  // as the SET spelled it ("email", "iss_sub", "iss-sub", "opaque", ...)
};

struct SetEvent {
  std::string type;  // the event type URI
  SetEventKind kind = SetEventKind::other;
  std::optional<SetSubject> subject;    // nullopt: none keywarden can join
  std::optional<Timestamp> event_time;  // event_timestamp; Okta sends milliseconds, read as such
  std::string reason;                   // the event's reason (RISC) or reason_admin (CAEP), for humans
  std::string state;                    // verification: the state we asked for
  std::string stream_status;            // stream-updated: "enabled" | "paused" | "disabled"
};

// Reads the subject identifier `id` (RFC 9493 or a legacy spelling). nullopt
// for formats that name no account (phone_number, did, uri, jwt_id, ...).
std::optional<SetSubject> read_subject_identifier(const nlohmann::json& id);

// The events of a verified SET (its payload), in the order of `events`.
std::vector<SetEvent> read_set_events(const nlohmann::json& claims);

enum class CompromisePolicy { report, revoke };

// What an ssf source learnt from one SET, as facts for the store.
struct SetFacts {
  // Upserts of the ssf source's own identities (groups unknown): an email
  // subject is subject_id "email:<email>" with that email; any other subject
  // is subject_reference(<id>) with no email, which the engine joins to the
  // identities of other sources with that subject id (daemon/engine/identity.h).
  std::vector<Identity> identities;
  // One line per event that changed nothing (ignored types, compromise in
  // report mode, subjects that cannot be joined), for the audit trail.
  std::vector<std::string> notes;
  std::optional<std::string> stream_status;       // the last stream-updated status
  std::optional<std::string> verification_state;  // the last verification event's state
};

// The facts of a SET's events under the source's on_compromise policy:
// account-disabled → inactive, account-purged → deleted, account-enabled →
// active, credential-compromise and session-revoked → compromised (revoke)
// or a note (report). `jti` names the SET in details and notes.
SetFacts facts_from_events(const std::vector<SetEvent>& events, CompromisePolicy policy, std::string_view jti);

}  // namespace keywarden

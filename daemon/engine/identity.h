// What a source tells keywarden about a person, and what the store remembers
// about it over time.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/engine/time_point.h"

namespace keywarden {

// `compromised`: a transmitter reported the account's credentials or
// sessions compromised (SPEC §8.1, on_compromise = "revoke"). Its keys are
// revoked with the reason credential_compromise and never reactivated.
enum class IdentityStatus { active, inactive, deleted, compromised };

std::string_view to_string(IdentityStatus s);
std::optional<IdentityStatus> identity_status_from_string(std::string_view s);

// Emails join identities to Palette users: trimmed, ASCII lower-cased.
std::string normalize_email(std::string_view email);

// A subject reference: an identity that names its person by another source's
// subject id instead of by email (an SSF event about iss_sub "00u1"). Its
// subject_id is subject_reference("00u1") and its email empty; the engine
// joins it to the email of every identity, of any other source, whose
// subject_id is "00u1" (join_subject_references). Until some source reports
// that subject it joins no one, and it takes effect as soon as one does.
std::string subject_reference(std::string_view subject_id);

// One person as a source reports them in one read or push. Connectors produce
// these; they carry no history.
struct Identity {
  std::string subject_id;   // the source's stable id ("00u1…", an object id, a SCIM id)
  std::string user_name;
  std::string email;        // as the source spells it; the store normalizes it
  IdentityStatus status = IdentityStatus::active;
  std::string status_detail;  // source wording for the plan, e.g. "status DEPROVISIONED"
  std::vector<std::string> groups;  // display names (and, for entra, object ids too)
};

// A group membership as the store remembers it. `removed_at` is set once a
// read or push showed the identity outside the group.
struct MembershipRecord {
  std::string group;
  Timestamp first_seen{};
  std::optional<Timestamp> removed_at;
};

// An identity with its history: what the engine reasons about.
struct IdentityRecord {
  std::string source;
  std::string subject_id;
  std::string user_name;
  std::string email;  // normalized
  IdentityStatus status = IdentityStatus::active;
  std::string status_detail;
  Timestamp status_since{};  // when keywarden first saw the current status
  Timestamp first_seen{};    // when keywarden first saw the identity at all
  std::vector<MembershipRecord> memberships;  // current and past
};

// One membership change learnt from an event. When the store does not know
// the subject yet, it records a person with the hints given (an event may be
// the first word about someone).
struct MembershipChange {
  std::string subject_id;
  std::string group;  // display name (and, where a source has them, its other names, as more changes)
  bool member = false;
  std::string user_name_hint;
  std::string email_hint;
  // The source read the identity from the store in this same transaction and
  // email_hint is its stored email: the store need not look it up again (one
  // lookup less per member of a large group change).
  bool email_is_stored = false;
};

// What an incremental read or a push learnt about one source: facts, not
// writes. The store applies all of it in one transaction with one merge rule
// (Store::apply_changes), so every way in treats a partial identity alike.
struct IdentityChanges {
  // Upserts. An empty email or user_name keeps the stored one: an event may
  // name a person only by id, and the identity must still join its owner.
  std::vector<Identity> identities;
  bool groups_known = false;  // true: identities[i].groups is the complete list
  std::vector<MembershipChange> memberships;
  // Events to remember for de-duplication (the source checked them unseen).
  std::vector<std::string> event_ids;
  // The source's own stored values to set (cursors, subscription state, ...).
  std::map<std::string, std::string> cursors;
  // Events that changed nothing (an event type keywarden does not act on, a
  // compromise only to be reported): each becomes an audit row (action
  // "event", result "skipped", the note as its detail). Never a secret.
  std::vector<std::string> notes;

  bool empty() const {
    return identities.empty() && memberships.empty() && event_ids.empty() && cursors.empty() && notes.empty();
  }
};

// (email, record) for every subject reference in `identities` that some
// identity of another source with a non-empty email has the subject id of.
// Pointers point into `identities`.
std::vector<std::pair<std::string, const IdentityRecord*>> join_subject_references(
    const std::vector<IdentityRecord>& identities);

}  // namespace keywarden

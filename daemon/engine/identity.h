// What a source tells keywarden about a person, and what the store remembers
// about it over time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/time_point.h"

namespace keywarden {

enum class IdentityStatus { active, inactive, deleted };

std::string_view to_string(IdentityStatus s);
std::optional<IdentityStatus> identity_status_from_string(std::string_view s);

// Emails join identities to Palette users: trimmed, ASCII lower-cased.
std::string normalize_email(std::string_view email);

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

}  // namespace keywarden

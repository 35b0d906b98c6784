// Okta's User and Group objects (Management API) as Identity facts.
//
// Pure functions over parsed JSON: no I/O. Malformed objects throw
// OktaFormatError, which the source turns into a failed read.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "daemon/engine/identity.h"

namespace keywarden {

// An Okta object that lacks what keywarden needs (an id, a status, a name).
class OktaFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OktaStatusMapping {
  IdentityStatus status = IdentityStatus::active;
  std::string detail;  // "status SUSPENDED", for plans and the audit trail
};

// User.status (and transitioningToStatus, "" when absent) as keywarden's status:
// - SUSPENDED → inactive, DEPROVISIONED → inactive (Okta's "deactivated");
// - a deactivation still running (transitioningToStatus DEPROVISIONED) →
//   inactive at once: the admin's decision is made, and the key should not
//   outlive it by the minutes Okta may take;
// - ACTIVE, PROVISIONED, RECOVERY, LOCKED_OUT, PASSWORD_EXPIRED → active: the
//   person is still employed; a lockout or an expired password is not a
//   departure;
// - STAGED → active: a pre-hire who never signed in. They cannot have left,
//   and whether they may hold keys is the entitled-groups policy's call;
// - anything else (ACTIVATING, a status Okta adds later) → active: an
//   unknown word is never read as a departure, which would revoke keys on a
//   guess.
OktaStatusMapping map_okta_status(std::string_view status, std::string_view transitioning_to);

// A User object: subject_id = id, user_name = profile.login, email =
// profile.email (profile.login when there is none), status as above. Groups
// are left empty (the caller joins group listings). Throws OktaFormatError
// when id or status is missing or not a string, or profile is not an object.
Identity identity_from_okta_user(const nlohmann::json& user);

// A Group object's id and display name (profile.name). Throws OktaFormatError
// when either is missing.
struct OktaGroup {
  std::string id;
  std::string name;
};
OktaGroup okta_group_from_json(const nlohmann::json& group);

// The id of a User object (as listed among a group's members). Throws
// OktaFormatError when missing.
std::string okta_user_id(const nlohmann::json& user);

}  // namespace keywarden

#include "connectors/okta/okta_users.h"

#include <nlohmann/json.hpp>

namespace keywarden {

namespace {

// The string member `name` of `object`, "" when absent or null; throws when
// it is something else.
std::string optional_string(const nlohmann::json& object, const char* name, const char* what) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) throw OktaFormatError(std::string(what) + ": \"" + name + "\" is not a string");
  return it->get<std::string>();
}

std::string required_string(const nlohmann::json& object, const char* name, const char* what) {
  std::string value = optional_string(object, name, what);
  if (value.empty()) throw OktaFormatError(std::string(what) + " without \"" + name + "\"");
  return value;
}

}  // namespace

OktaStatusMapping map_okta_status(std::string_view status, std::string_view transitioning_to) {
  const std::string detail = "status " + std::string(status);
  if (status == "DEPROVISIONED" || status == "SUSPENDED") return {IdentityStatus::inactive, detail};
  if (transitioning_to == "DEPROVISIONED") {
    return {IdentityStatus::inactive, "status DEPROVISIONED (deactivation in progress)"};
  }
  return {IdentityStatus::active, detail};
}

std::string okta_user_id(const nlohmann::json& user) {
  if (!user.is_object()) throw OktaFormatError("a user that is not a JSON object");
  return required_string(user, "id", "a user");
}

Identity identity_from_okta_user(const nlohmann::json& user) {
  Identity id;
  id.subject_id = okta_user_id(user);
  const std::string status = required_string(user, "status", "a user");
  const std::string transitioning = optional_string(user, "transitioningToStatus", "a user");
  const OktaStatusMapping mapped = map_okta_status(status, transitioning);
  id.status = mapped.status;
  id.status_detail = mapped.detail;
  const auto profile = user.find("profile");
  if (profile != user.end() && !profile->is_null()) {
    if (!profile->is_object()) throw OktaFormatError("user " + id.subject_id + ": \"profile\" is not an object");
    id.user_name = optional_string(*profile, "login", "a user profile");
    id.email = optional_string(*profile, "email", "a user profile");
  }
  if (id.email.empty()) id.email = id.user_name;
  return id;
}

OktaGroup okta_group_from_json(const nlohmann::json& group) {
  if (!group.is_object()) throw OktaFormatError("a group that is not a JSON object");
  OktaGroup out;
  out.id = required_string(group, "id", "a group");
  const auto profile = group.find("profile");
  if (profile == group.end() || !profile->is_object()) {
    throw OktaFormatError("group " + out.id + " without a \"profile\" object");
  }
  out.name = required_string(*profile, "name", "a group profile");
  return out;
}

}  // namespace keywarden

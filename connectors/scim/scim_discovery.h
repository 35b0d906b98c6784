// The discovery resources of RFC 7644 §4 / RFC 7643 §5–7: what keywarden's
// SCIM service provider supports, for clients (Entra reads /Schemas when an
// admin saves the provisioning settings).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace keywarden {

// PATCH yes, bulk no, filter yes (up to `max_results`), ETags yes, sort and
// password change no; authentication by bearer token.
nlohmann::json scim_service_provider_config(const std::string& base_url, int max_results);

// The User and Group ResourceType resources (the User with the enterprise
// extension), each with meta.location under `base_url`.
nlohmann::json scim_resource_types(const std::string& base_url);

// The Schema resources for User, Group and the enterprise User extension,
// covering the attributes keywarden reads and the ones clients commonly send.
nlohmann::json scim_schemas(const std::string& base_url);

}  // namespace keywarden

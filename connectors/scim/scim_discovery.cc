#include "connectors/scim/scim_discovery.h"

#include "connectors/scim/scim_attribute.h"

namespace keywarden {
namespace {

using nlohmann::json;

json meta(const std::string& resource_type, const std::string& location) {
  return {{"resourceType", resource_type}, {"location", location}};
}

// One attribute definition (RFC 7643 §7). `flags`: 'm' multi-valued,
// 'r' required, 'x' caseExact, 'o' readOnly, 'u' unique (server).
json attribute(const char* name, const char* type, std::string_view flags = "",
               json sub_attributes = nullptr) {
  const auto has = [&](char c) { return flags.find(c) != std::string_view::npos; };
  json a = {{"name", name},
            {"type", type},
            {"multiValued", has('m')},
            {"description", ""},
            {"required", has('r')},
            {"caseExact", has('x')},
            {"mutability", has('o') ? "readOnly" : "readWrite"},
            {"returned", std::string_view(name) == "password" ? "never" : "default"},
            {"uniqueness", has('u') ? "server" : "none"}};
  if (!sub_attributes.is_null()) a["subAttributes"] = std::move(sub_attributes);
  return a;
}

json multi_valued_complex(const char* name, bool reference_ids) {
  return attribute(name, "complex", "m",
                   json::array({attribute("value", "string", reference_ids ? "x" : ""),
                                attribute("display", "string"), attribute("type", "string"),
                                attribute("primary", "boolean"),
                                attribute("$ref", "reference", "x")}));
}

json schema(std::string_view id, const char* name, const char* description, json attributes,
            const std::string& base_url) {
  return {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
          {"id", id},
          {"name", name},
          {"description", description},
          {"attributes", std::move(attributes)},
          {"meta", meta("Schema", base_url + "/Schemas/" + std::string(id))}};
}

}  // namespace

json scim_service_provider_config(const std::string& base_url, int max_results) {
  return {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
          {"documentationUri", "https://github.com/keywarden/keywarden"},
          {"patch", {{"supported", true}}},
          {"bulk", {{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", 0}}},
          {"filter", {{"supported", true}, {"maxResults", max_results}}},
          {"changePassword", {{"supported", false}}},
          {"sort", {{"supported", false}}},
          {"etag", {{"supported", true}}},
          {"authenticationSchemes",
           {{{"type", "oauthbearertoken"},
             {"name", "OAuth Bearer Token"},
             {"description", "The bearer token configured for this source (token_file / token_env)"},
             {"primary", true}}}},
          {"meta", meta("ServiceProviderConfig", base_url + "/ServiceProviderConfig")}};
}

json scim_resource_types(const std::string& base_url) {
  return json::array(
      {{{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
        {"id", "User"},
        {"name", "User"},
        {"endpoint", "/Users"},
        {"description", "User Account"},
        {"schema", kScimUserSchema},
        {"schemaExtensions", {{{"schema", kScimEnterpriseUserSchema}, {"required", false}}}},
        {"meta", meta("ResourceType", base_url + "/ResourceTypes/User")}},
       {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
        {"id", "Group"},
        {"name", "Group"},
        {"endpoint", "/Groups"},
        {"description", "Group"},
        {"schema", kScimGroupSchema},
        {"meta", meta("ResourceType", base_url + "/ResourceTypes/Group")}}});
}

json scim_schemas(const std::string& base_url) {
  json user_attributes = json::array(
      {attribute("userName", "string", "ru"),
       attribute("name", "complex", "",
                 json::array({attribute("formatted", "string"), attribute("familyName", "string"),
                              attribute("givenName", "string"), attribute("middleName", "string"),
                              attribute("honorificPrefix", "string"),
                              attribute("honorificSuffix", "string")})),
       attribute("displayName", "string"), attribute("nickName", "string"),
       attribute("title", "string"), attribute("userType", "string"),
       attribute("preferredLanguage", "string"), attribute("locale", "string"),
       attribute("timezone", "string"), attribute("active", "boolean"),
       attribute("password", "string"), multi_valued_complex("emails", false),
       multi_valued_complex("phoneNumbers", false), multi_valued_complex("roles", false),
       multi_valued_complex("entitlements", false)});
  json groups = multi_valued_complex("groups", true);
  groups["mutability"] = "readOnly";
  user_attributes.push_back(std::move(groups));

  json group_attributes = json::array(
      {attribute("displayName", "string", "r"), multi_valued_complex("members", true)});

  json enterprise_attributes = json::array(
      {attribute("employeeNumber", "string"), attribute("costCenter", "string"),
       attribute("organization", "string"), attribute("division", "string"),
       attribute("department", "string"),
       attribute("manager", "complex", "",
                 json::array({attribute("value", "string", "x"), attribute("$ref", "reference", "x"),
                              attribute("displayName", "string", "o")}))});

  return json::array(
      {schema(kScimUserSchema, "User", "User Account", std::move(user_attributes), base_url),
       schema(kScimGroupSchema, "Group", "Group", std::move(group_attributes), base_url),
       schema(kScimEnterpriseUserSchema, "EnterpriseUser", "Enterprise User",
              std::move(enterprise_attributes), base_url)});
}

}  // namespace keywarden

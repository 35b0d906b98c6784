#include "connectors/scim/scim_attribute.h"

namespace keywarden {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA, plus
// "$ref" (RFC 7643 §2.1 allows '$' for it).
bool valid_name(std::string_view name) {
  if (name.empty() || !(is_alpha(name[0]) || name[0] == '$')) return false;
  for (char c : name) {
    if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '$')) return false;
  }
  return true;
}

bool starts_with_urn(std::string_view text) {
  return text.size() >= 4 && iequals(text.substr(0, 4), "urn:");
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ScimAttributePath::is_core() const { return schema.empty() || is_scim_core_schema(schema); }

std::string ScimAttributePath::to_string() const {
  std::string out;
  if (!schema.empty()) out = schema + ":";
  out += attribute;
  if (!sub_attribute.empty()) out += "." + sub_attribute;
  return out;
}

bool parse_scim_attribute_path(std::string_view text, ScimAttributePath& out) {
  out = {};
  std::string_view rest = text;
  if (starts_with_urn(text)) {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon + 1 >= text.size()) return false;
    out.schema = std::string(text.substr(0, colon));
    rest = text.substr(colon + 1);
  }
  const size_t dot = rest.find('.');
  std::string_view attribute = rest.substr(0, dot);
  std::string_view sub = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  if (!valid_name(attribute)) return false;
  if (dot != std::string_view::npos && !valid_name(sub)) return false;
  out.attribute = std::string(attribute);
  out.sub_attribute = std::string(sub);
  return true;
}

bool is_scim_core_schema(std::string_view text) {
  return iequals(text, kScimUserSchema) || iequals(text, kScimGroupSchema);
}

bool is_scim_extension_schema(std::string_view text) {
  if (!starts_with_urn(text) || is_scim_core_schema(text)) return false;
  if (iequals(text, kScimEnterpriseUserSchema)) return true;
  // Other extensions follow RFC 7643's naming: the URN ends with the
  // resource type ("…:2.0:User"), whereas an attribute name starts lower-case.
  const size_t colon = text.rfind(':');
  const std::string_view last = text.substr(colon + 1);
  return iequals(last, "User") || iequals(last, "Group");
}

const nlohmann::json* find_scim_member(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  if (auto exact = object.find(std::string(name)); exact != object.end()) return &*exact;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (iequals(it.key(), name)) return &it.value();
  }
  return nullptr;
}

nlohmann::json* find_scim_member(nlohmann::json& object, std::string_view name) {
  return const_cast<nlohmann::json*>(
      find_scim_member(static_cast<const nlohmann::json&>(object), name));
}

const nlohmann::json* scim_attribute_container(const nlohmann::json& resource,
                                               const ScimAttributePath& path) {
  if (path.is_core()) return &resource;
  const nlohmann::json* extension = find_scim_member(resource, path.schema);
  return extension != nullptr && extension->is_object() ? extension : nullptr;
}

std::string canonical_scim_name(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "schemas", "id", "externalId", "meta", "userName", "name", "formatted", "familyName",
      "givenName", "middleName", "honorificPrefix", "honorificSuffix", "displayName", "nickName",
      "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone", "active",
      "password", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
      "entitlements", "roles", "x509Certificates", "members", "value", "display", "type",
      "primary", "$ref", "employeeNumber", "costCenter", "organization", "division",
      "department", "manager", "streetAddress", "locality", "region", "postalCode", "country"};
  for (std::string_view known : kNames) {
    if (iequals(known, name)) return std::string(known);
  }
  return std::string(name);
}

bool is_scim_multi_valued(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "schemas", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
      "entitlements", "roles", "x509Certificates", "members"};
  for (std::string_view known : kNames) {
    if (iequals(known, name)) return true;
  }
  return false;
}

nlohmann::json& set_scim_member(nlohmann::json& object, std::string_view name,
                                nlohmann::json value) {
  if (nlohmann::json* existing = find_scim_member(object, name); existing != nullptr) {
    *existing = std::move(value);
    return *existing;
  }
  nlohmann::json& slot = object[canonical_scim_name(name)];
  slot = std::move(value);
  return slot;
}

bool erase_scim_member(nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return false;
  bool erased = false;
  for (auto it = object.begin(); it != object.end();) {
    if (iequals(it.key(), name)) {
      it = object.erase(it);
      erased = true;
    } else {
      ++it;
    }
  }
  return erased;
}

bool scim_case_exact(std::string_view parent, std::string_view attribute) {
  if (parent.empty()) {
    return iequals(attribute, "id") || iequals(attribute, "externalId") ||
           iequals(attribute, "$ref");
  }
  if (iequals(attribute, "$ref")) return true;
  return iequals(attribute, "value") && (iequals(parent, "members") || iequals(parent, "groups"));
}

}  // namespace keywarden

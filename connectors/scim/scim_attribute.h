// How SCIM names attributes (RFC 7643 §2.1, RFC 7644 §3.10): names are
// case-insensitive, may carry a schema URN prefix
// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
// and may name one sub-attribute ("name.givenName"). Shared by the filter
// evaluator, the PATCH engine and attribute projection so that all three
// resolve a name the same way.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "daemon/base/ascii.h"

namespace keywarden {

inline constexpr std::string_view kScimUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
inline constexpr std::string_view kScimGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
inline constexpr std::string_view kScimEnterpriseUserSchema =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

// ASCII case folding (ascii_lower, daemon/base/ascii.h): SCIM's
// caseExact=false comparisons, and lookup keys. Bytes outside A-Z (UTF-8
// included) are compared as they are.
bool iequals(std::string_view a, std::string_view b);

// One attribute reference: [schema ":"] attribute ["." sub_attribute].
struct ScimAttributePath {
  std::string schema;         // URN prefix as written; empty when none
  std::string attribute;      // e.g. "emails", "name", "active"
  std::string sub_attribute;  // e.g. "value", "givenName"; empty when none

  // True when `schema` is empty or names the core User or Group schema, i.e.
  // the attribute lives at the top level of the resource.
  bool is_core() const;
  std::string to_string() const;
};

// Parses "name.givenName", "urn:…:User:employeeNumber", "$ref". Names must
// start with a letter or '$' and continue with letters, digits, '_', '-' or
// '$'. Returns false (and leaves `out` unspecified) on anything else.
bool parse_scim_attribute_path(std::string_view text, ScimAttributePath& out);

// True when `text`, case-insensitively, is a schema URN whose attributes live
// in their own object within a resource (an extension, e.g. the enterprise
// User schema), rather than an attribute reference.
bool is_scim_extension_schema(std::string_view text);
// True when `text` names the core User or Group schema.
bool is_scim_core_schema(std::string_view text);

// The member of `object` whose name equals `name` case-insensitively (an exact
// match wins). nullptr when `object` is not an object or has no such member.
const nlohmann::json* find_scim_member(const nlohmann::json& object, std::string_view name);
nlohmann::json* find_scim_member(nlohmann::json& object, std::string_view name);

// The object holding `path.attribute` within `resource`: the resource itself
// for core attributes, else the extension object named by `path.schema`.
// nullptr when that extension is absent.
const nlohmann::json* scim_attribute_container(const nlohmann::json& resource,
                                               const ScimAttributePath& path);

// The spelling RFC 7643 gives a core or enterprise attribute name, matched
// case-insensitively ("USERNAME" → "userName"); other names as they are.
std::string canonical_scim_name(std::string_view name);

// True for the multi-valued attributes of the core and enterprise schemas
// (emails, members, groups, roles, …), case-insensitively.
bool is_scim_multi_valued(std::string_view name);

// Sets `object[name]`, reusing the spelling of an existing member that
// matches case-insensitively, else the canonical spelling. Returns it.
nlohmann::json& set_scim_member(nlohmann::json& object, std::string_view name, nlohmann::json value);

// Removes every member of `object` whose name matches case-insensitively.
// Returns whether one was there.
bool erase_scim_member(nlohmann::json& object, std::string_view name);

// RFC 7643's caseExact for the attributes keywarden compares: true for "id",
// "externalId", "$ref", and the "value" of "members" and "groups" (resource
// ids); false for everything else (userName, emails, displayName, …).
// `parent` is the multi-valued attribute that holds `attribute`, or empty.
bool scim_case_exact(std::string_view parent, std::string_view attribute);

}  // namespace keywarden

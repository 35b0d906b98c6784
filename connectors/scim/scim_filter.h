// SCIM filters (RFC 7644 §3.4.2.2): parsing into a tree, and evaluation
// against a resource.
//
//   userName eq "bjensen" and not (emails co "@example.org")
//   emails[type eq "work" and value co "@example.com"]
//   emails[type eq "work"].value eq "x@example.com"     (Entra's matching query)
//   members[value eq "2819c223-7f76-453a-919d-413861904646"]
//
// Attribute names and keywords are case-insensitive. String comparison
// follows caseExact (scim_case_exact): exact for id, externalId and the
// "value" of members/groups, ASCII case-insensitive for everything else.
// Precedence: not, then and, then or; parentheses group.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/scim/scim_attribute.h"

namespace keywarden {

// Limits on what parse_scim_filter accepts, so a hostile filter costs little
// and cannot exhaust the stack: longer input, deeper nesting of parentheses,
// `not` and `[ ]`, or more comparisons are an invalidFilter error.
inline constexpr size_t kScimFilterMaxLength = 4096;
inline constexpr int kScimFilterMaxDepth = 32;
inline constexpr int kScimFilterMaxTerms = 100;

enum class ScimCompareOp { eq, ne, co, sw, ew, gt, ge, lt, le, pr };

struct ScimFilter {
  enum class Kind {
    compare,     // path op value (op pr: path only)
    all_of,      // and: every child matches
    any_of,      // or: some child matches
    negation,    // not: children[0] does not match
    value_path,  // path[children[0]]: some element of the multi-valued path matches
  };
  Kind kind = Kind::compare;
  ScimAttributePath path;       // compare and value_path (value_path: no sub_attribute)
  ScimCompareOp op = ScimCompareOp::eq;
  nlohmann::json value;         // compare: a string, number, boolean or null literal
  std::vector<ScimFilter> children;
};

// Parses `text`. Throws ScimError(400, "invalidFilter", detail) on a syntax
// error, an unknown operator, an ordering comparison (gt/ge/lt/le) with a
// boolean or null, a nested value path, or a breached limit.
//
// "a[f].sub op v" is read as "a[f and sub op v]", which means the same thing:
// some element satisfies both.
ScimFilter parse_scim_filter(std::string_view text);

// A PATCH path (RFC 7644 §3.5.2): attrPath ["[" valFilter "]" ["." subAttr]].
struct ScimPatchPath {
  ScimAttributePath attribute;  // with sub_attribute only when there is no filter
  bool has_filter = false;
  ScimFilter filter;            // applies to the elements of attribute
  std::string sub_attribute;    // after the filter: "emails[type eq \"work\"].value"
};

// Throws ScimError(400, "invalidPath", detail) when `text` is not a path.
ScimPatchPath parse_scim_patch_path(std::string_view text);

// True when `resource` (a JSON object) satisfies `filter`. Never throws.
bool scim_filter_matches(const ScimFilter& filter, const nlohmann::json& resource);

// As scim_filter_matches, for one element of the multi-valued attribute
// `parent` (e.g. an entry of "emails"): the filter's names are the element's
// sub-attributes. Used for value paths in filters and PATCH.
bool scim_filter_matches_element(const ScimFilter& filter, const nlohmann::json& element,
                                 std::string_view parent);

// True when the filter refers to `attribute` (case-insensitive), at the top
// level or as a value path, e.g. to know whether group members are needed.
bool scim_filter_mentions(const ScimFilter& filter, std::string_view attribute);

}  // namespace keywarden

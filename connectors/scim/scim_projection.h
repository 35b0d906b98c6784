// The `attributes` and `excludedAttributes` query parameters (RFC 7644
// §3.4.2.5): which attributes of a resource a response carries.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "connectors/scim/scim_attribute.h"

namespace keywarden {

struct ScimProjection {
  std::vector<ScimAttributePath> attributes;  // empty: the default set
  std::vector<ScimAttributePath> excluded;

  // Parses the two comma-separated lists. Names that are not attribute
  // paths are ignored: a projection only hides data, it cannot hurt.
  static ScimProjection parse(std::string_view attributes, std::string_view excluded);

  // True when a response would carry the core attribute `name` (or part of
  // it), so the service can skip computing it (a group's members).
  bool wants(std::string_view name) const;

  // The resource with only the requested attributes: "schemas" and "id" are
  // always kept (RFC 7643 returned:always); with `attributes`, only they
  // (and their sub-attributes) are kept; then `excluded` are removed.
  nlohmann::json apply(const nlohmann::json& resource) const;
};

}  // namespace keywarden

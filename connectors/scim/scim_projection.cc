#include "connectors/scim/scim_projection.h"

namespace keywarden {
namespace {

using nlohmann::json;

std::vector<ScimAttributePath> parse_list(std::string_view list) {
  std::vector<ScimAttributePath> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    ScimAttributePath path;
    if (!item.empty() && parse_scim_attribute_path(item, path)) out.push_back(std::move(path));
    if (comma == std::string_view::npos) break;
    list = list.substr(comma + 1);
  }
  return out;
}

bool always_returned(std::string_view name) { return iequals(name, "id") || iequals(name, "schemas"); }

// Copies `path` from `from` into `to` (both resources).
void copy_path(const json& from, json& to, const ScimAttributePath& path) {
  const json* source_container = scim_attribute_container(from, path);
  if (source_container == nullptr) return;
  const json* value = find_scim_member(*source_container, path.attribute);
  if (value == nullptr) return;
  json* target_container = &to;
  if (!path.is_core()) {
    json* extension = find_scim_member(to, path.schema);
    if (extension == nullptr) {
      // Keep the spelling the resource uses for its extension key.
      for (auto it = from.begin(); it != from.end(); ++it) {
        if (iequals(it.key(), path.schema)) extension = &to[it.key()];
      }
      if (extension == nullptr) return;
      if (!extension->is_object()) *extension = json::object();
    }
    target_container = extension;
  }
  const std::string name = canonical_scim_name(path.attribute);
  if (path.sub_attribute.empty()) {
    set_scim_member(*target_container, name, *value);
    return;
  }
  if (value->is_object()) {
    const json* sub = find_scim_member(*value, path.sub_attribute);
    if (sub == nullptr) return;
    json* target = find_scim_member(*target_container, name);
    if (target == nullptr || !target->is_object()) target = &set_scim_member(*target_container, name, json::object());
    set_scim_member(*target, path.sub_attribute, *sub);
  } else if (value->is_array()) {
    json* target = find_scim_member(*target_container, name);
    if (target != nullptr && target->is_array() && target->size() == value->size()) {
      for (size_t i = 0; i < value->size(); ++i) {
        const json* sub = find_scim_member((*value)[i], path.sub_attribute);
        if (sub != nullptr && (*target)[i].is_object()) set_scim_member((*target)[i], path.sub_attribute, *sub);
      }
      return;
    }
    json elements = json::array();
    for (const json& element : *value) {
      json kept = json::object();
      if (const json* sub = find_scim_member(element, path.sub_attribute); sub != nullptr) {
        set_scim_member(kept, path.sub_attribute, *sub);
      }
      elements.push_back(std::move(kept));
    }
    set_scim_member(*target_container, name, std::move(elements));
  }
}

void remove_path(json& resource, const ScimAttributePath& path) {
  if (path.is_core() && always_returned(path.attribute) && path.sub_attribute.empty()) return;
  json* container = path.is_core() ? &resource : find_scim_member(resource, path.schema);
  if (container == nullptr || !container->is_object()) return;
  if (path.sub_attribute.empty()) {
    erase_scim_member(*container, path.attribute);
    return;
  }
  json* value = find_scim_member(*container, path.attribute);
  if (value == nullptr) return;
  if (value->is_object()) erase_scim_member(*value, path.sub_attribute);
  if (value->is_array()) {
    for (json& element : *value) erase_scim_member(element, path.sub_attribute);
  }
}

}  // namespace

ScimProjection ScimProjection::parse(std::string_view attributes, std::string_view excluded) {
  return {parse_list(attributes), parse_list(excluded)};
}

bool ScimProjection::wants(std::string_view name) const {
  for (const ScimAttributePath& path : excluded) {
    if (path.is_core() && path.sub_attribute.empty() && iequals(path.attribute, name)) return false;
  }
  if (attributes.empty()) return true;
  for (const ScimAttributePath& path : attributes) {
    if (path.is_core() && iequals(path.attribute, name)) return true;
  }
  return false;
}

json ScimProjection::apply(const json& resource) const {
  json out;
  if (attributes.empty()) {
    out = resource;
  } else {
    out = json::object();
    for (auto it = resource.begin(); it != resource.end(); ++it) {
      if (always_returned(it.key())) out[it.key()] = it.value();
    }
    for (const ScimAttributePath& path : attributes) copy_path(resource, out, path);
  }
  for (const ScimAttributePath& path : excluded) remove_path(out, path);
  return out;
}

}  // namespace keywarden

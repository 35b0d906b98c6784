#include "connectors/scim/scim_resource.h"

#include <algorithm>

#include "connectors/scim/scim_attribute.h"
#include "connectors/scim/scim_error.h"

namespace keywarden {
namespace {

using nlohmann::json;

std::string string_member(const json& object, std::string_view name) {
  const json* value = find_scim_member(object, name);
  return value != nullptr && value->is_string() ? value->get<std::string>() : "";
}

void erase_member(json& object, std::string_view name) { erase_scim_member(object, name); }

// Top-level names in RFC 7643's spelling, so that "Active" and "active" never
// both end up in one stored resource.
void canonicalize_names(json& resource) {
  json renamed = json::object();
  for (auto it = resource.begin(); it != resource.end(); ++it) {
    std::string name = canonical_scim_name(it.key());
    if (!renamed.contains(name) || name == it.key()) renamed[name] = std::move(it.value());
  }
  resource = std::move(renamed);
}

void ensure_schema(json& resource, std::string_view urn) {
  json* schemas = find_scim_member(resource, "schemas");
  if (schemas == nullptr || !schemas->is_array()) {
    erase_member(resource, "schemas");
    resource["schemas"] = json::array({urn});
    return;
  }
  for (const json& schema : *schemas) {
    if (schema.is_string() && iequals(schema.get_ref<const std::string&>(), urn)) return;
  }
  schemas->insert(schemas->begin(), urn);
}

}  // namespace

std::optional<bool> scim_boolean(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (iequals(text, "true")) return true;
    if (iequals(text, "false")) return false;
  }
  return std::nullopt;
}

bool scim_user_active(const json& user) {
  const json* active = find_scim_member(user, "active");
  if (active == nullptr || active->is_null()) return true;
  return scim_boolean(*active).value_or(true);
}

std::string scim_user_name(const json& user) { return string_member(user, "userName"); }

std::string scim_user_name_key(std::string_view user_name) { return normalize_email(user_name); }

bool contains_control_character(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) return true;
    if (byte == 0xc2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

std::string scim_user_email(const json& user) {
  const json* emails = find_scim_member(user, "emails");
  std::string primary, work, first;
  if (emails != nullptr && emails->is_array()) {
    for (const json& email : *emails) {
      const std::string value = email.is_string() ? email.get<std::string>() : string_member(email, "value");
      if (value.empty()) continue;
      if (first.empty()) first = value;
      const json* is_primary = find_scim_member(email, "primary");
      if (primary.empty() && is_primary != nullptr && scim_boolean(*is_primary).value_or(false)) {
        primary = value;
      }
      if (work.empty() && iequals(string_member(email, "type"), "work")) work = value;
    }
  }
  if (!primary.empty()) return primary;
  if (!work.empty()) return work;
  if (!first.empty()) return first;
  std::string user_name = scim_user_name(user);
  return user_name.find('@') != std::string::npos ? user_name : "";
}

std::vector<std::string> scim_user_emails(const json& user) {
  std::vector<std::string> out;
  const json* emails = find_scim_member(user, "emails");
  if (emails != nullptr && emails->is_array()) {
    for (const json& email : *emails) {
      const std::string value = email.is_string() ? email.get<std::string>() : string_member(email, "value");
      if (!value.empty()) out.push_back(normalize_email(value));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string scim_display_name(const json& group) { return string_member(group, "displayName"); }

std::set<std::string> scim_member_ids(const json& group) {
  std::set<std::string> ids;
  const json* members = find_scim_member(group, "members");
  if (members == nullptr || !members->is_array()) return ids;
  for (const json& member : *members) {
    std::string value = string_member(member, "value");
    if (!value.empty()) ids.insert(std::move(value));
  }
  return ids;
}

Identity scim_identity(const json& user, std::vector<std::string> groups) {
  Identity identity;
  identity.subject_id = string_member(user, "id");
  identity.user_name = scim_user_name(user);
  identity.email = scim_user_email(user);
  const bool active = scim_user_active(user);
  identity.status = active ? IdentityStatus::active : IdentityStatus::inactive;
  identity.status_detail = active ? "SCIM active=true" : "SCIM active=false";
  identity.groups = std::move(groups);
  return identity;
}

void normalize_scim_user(json& user, const std::string& id) {
  if (!user.is_object()) throw ScimError(400, "invalidSyntax", "a User must be a JSON object");
  canonicalize_names(user);
  const json* user_name = find_scim_member(user, "userName");
  if (user_name == nullptr || !user_name->is_string() ||
      user_name->get_ref<const std::string&>().empty()) {
    throw ScimError(400, "invalidValue", "a User needs a non-empty string \"userName\"");
  }
  if (json* active = find_scim_member(user, "active"); active != nullptr && !active->is_null()) {
    const std::optional<bool> value = scim_boolean(*active);
    if (!value) throw ScimError(400, "invalidValue", "\"active\" must be true or false");
    *active = *value;
  }
  for (std::string_view dropped : {"id", "meta", "groups", "password"}) erase_member(user, dropped);
  user["id"] = id;
  ensure_schema(user, kScimUserSchema);
}

void normalize_scim_group(json& group, const std::string& id) {
  if (!group.is_object()) throw ScimError(400, "invalidSyntax", "a Group must be a JSON object");
  canonicalize_names(group);
  const json* display_name = find_scim_member(group, "displayName");
  if (display_name == nullptr || !display_name->is_string() ||
      display_name->get_ref<const std::string&>().empty()) {
    throw ScimError(400, "invalidValue", "a Group needs a non-empty string \"displayName\"");
  }
  if (json* members = find_scim_member(group, "members"); members != nullptr) {
    if (members->is_null()) {
      *members = json::array();
    } else if (!members->is_array()) {
      throw ScimError(400, "invalidValue", "\"members\" must be an array");
    }
    json kept = json::array();
    std::set<std::string> seen;
    for (json& member : *members) {
      if (!member.is_object()) throw ScimError(400, "invalidValue", "each member must be an object");
      canonicalize_names(member);
      for (auto it = member.begin(); it != member.end();) {
        it = it.value().is_null() ? member.erase(it) : std::next(it);
      }
      const json* value = find_scim_member(member, "value");
      if (value == nullptr || !value->is_string() || value->get_ref<const std::string&>().empty()) {
        throw ScimError(400, "invalidValue", "each member needs a non-empty string \"value\"");
      }
      if (seen.insert(value->get<std::string>()).second) kept.push_back(std::move(member));
    }
    *members = std::move(kept);
  }
  for (std::string_view dropped : {"id", "meta"}) erase_member(group, dropped);
  group["id"] = id;
  ensure_schema(group, kScimGroupSchema);
}

void check_scim_json_depth(std::string_view body, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        throw ScimError(400, "invalidSyntax",
                        "JSON nested deeper than " + std::to_string(max_depth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

}  // namespace keywarden

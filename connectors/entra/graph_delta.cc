#include "connectors/entra/graph_delta.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "connectors/source.h"
#include "daemon/base/ascii.h"

namespace keywarden {

namespace {

using nlohmann::json;

// A string property: nullopt when absent, "" when null.
std::optional<std::string> optional_string(const json& item, const char* name, const std::string& where) {
  const auto it = item.find(name);
  if (it == item.end()) return std::nullopt;
  if (it->is_null()) return std::string();
  if (!it->is_string()) throw SourceReadError(where + ": \"" + name + "\" must be a string");
  return it->get<std::string>();
}

std::string required_id(const json& item, const std::string& where) {
  if (!item.is_object()) throw SourceReadError(where + ": an item of \"value\" is not an object");
  const auto it = item.find("id");
  if (it == item.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw SourceReadError(where + ": an item has no \"id\"");
  }
  return it->get<std::string>();
}

// The reason of an "@removed" annotation, or nullopt when there is none.
// Graph documents "changed" and "deleted"; any other reason still means the
// object is gone from the collection.
std::optional<std::string> removed_reason(const json& item) {
  const auto it = item.find("@removed");
  if (it == item.end() || it->is_null()) return std::nullopt;
  if (it->is_object()) {
    const auto reason = it->find("reason");
    if (reason != it->end() && reason->is_string()) return reason->get<std::string>();
  }
  return std::string("deleted");
}

// True for a members@delta entry that is a user. Graph types every entry;
// one without a type is taken for a user rather than dropped.
bool is_user_member(const json& member) {
  const auto it = member.find("@odata.type");
  if (it == member.end() || !it->is_string()) return true;
  return ascii_lower(it->get_ref<const std::string&>()) == "#microsoft.graph.user";
}

}  // namespace

DeltaPage parse_delta_page(const std::string& body, const std::string& where) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    throw SourceReadError(where + ": invalid JSON at byte " + std::to_string(e.byte));
  } catch (const json::exception&) {
    // The parser reports a number beyond a double (1e400) as out_of_range,
    // not as a parse_error.
    throw SourceReadError(where + ": invalid JSON (a number out of range)");
  }
  if (!doc.is_object()) throw SourceReadError(where + ": the page is not a JSON object");
  const auto value = doc.find("value");
  if (value == doc.end() || !value->is_array()) throw SourceReadError(where + ": the page has no \"value\" array");
  DeltaPage page;
  if (const auto next = doc.find("@odata.nextLink"); next != doc.end() && !next->is_null()) {
    if (!next->is_string()) throw SourceReadError(where + ": \"@odata.nextLink\" must be a string");
    page.next_link = next->get<std::string>();
  }
  if (const auto delta = doc.find("@odata.deltaLink"); delta != doc.end() && !delta->is_null()) {
    if (!delta->is_string()) throw SourceReadError(where + ": \"@odata.deltaLink\" must be a string");
    page.delta_link = delta->get<std::string>();
  }
  if (page.next_link.empty() == page.delta_link.empty()) {
    throw SourceReadError(where + (page.next_link.empty() ? ": the page has neither @odata.nextLink nor @odata.deltaLink"
                                                          : ": the page has both @odata.nextLink and @odata.deltaLink"));
  }
  page.items.reserve(value->size());
  for (auto& item : *value) page.items.push_back(std::move(item));
  return page;
}

std::string graph_error_code(const std::string& body) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object()) return "";
  const auto error = doc.find("error");
  if (error == doc.end() || !error->is_object()) return "";
  const auto code = error->find("code");
  if (code == error->end() || !code->is_string()) return "";
  return code->get<std::string>();
}

Identity identity_of(const GraphUser& user) {
  Identity id;
  id.subject_id = user.id;
  id.user_name = user.user_principal_name.value_or("");
  id.email = user.mail && !user.mail->empty() ? *user.mail : id.user_name;
  const bool enabled = user.account_enabled.value_or(false);
  id.status = enabled ? IdentityStatus::active : IdentityStatus::inactive;
  id.status_detail = enabled ? "" : "accountEnabled false";
  return id;
}

Identity removed_identity_of(const GraphUser& user) {
  Identity id = identity_of(user);
  id.status = IdentityStatus::deleted;
  id.status_detail = user.removed_reason.value_or("deleted") == "changed" ? "soft-deleted" : "hard-deleted";
  return id;
}

void UserDeltaMerge::add(const json& item, const std::string& where) {
  const std::string id = required_id(item, where);
  GraphUser& user = users_[id];
  user.id = id;
  if (auto reason = removed_reason(item)) {
    user.removed_reason = std::move(reason);
    return;
  }
  user.removed_reason.reset();  // listed again: restored, or a replay after a removal
  if (auto upn = optional_string(item, "userPrincipalName", where + ": user " + id)) user.user_principal_name = std::move(upn);
  if (auto mail = optional_string(item, "mail", where + ": user " + id)) user.mail = std::move(mail);
  if (const auto enabled = item.find("accountEnabled"); enabled != item.end() && !enabled->is_null()) {
    if (!enabled->is_boolean()) throw SourceReadError(where + ": user " + id + ": \"accountEnabled\" must be true or false");
    user.account_enabled = enabled->get<bool>();
  }
}

void GroupDeltaMerge::add(const json& item, const std::string& where) {
  const std::string id = required_id(item, where);
  GraphGroup& group = groups_[id];
  group.id = id;
  if (removed_reason(item)) {
    group.removed = true;
    group.member_words.clear();
    group.member_words.shrink_to_fit();
    return;
  }
  group.removed = false;
  if (auto name = optional_string(item, "displayName", where + ": group " + id); name && !name->empty()) {
    group.display_name = std::move(name);
  }
  const auto members = item.find("members@delta");
  if (members == item.end() || members->is_null()) return;
  if (!members->is_array()) throw SourceReadError(where + ": group " + id + ": \"members@delta\" must be an array");
  for (const auto& member : *members) {
    const std::string member_id = required_id(member, where + ": group " + id + " members@delta");
    if (!is_user_member(member)) continue;
    group.member_words.emplace_back(number_of(member_id), !removed_reason(member).has_value());
  }
}

uint32_t GroupDeltaMerge::number_of(const std::string& member_id) {
  const auto [it, added] = member_numbers_.try_emplace(member_id, static_cast<uint32_t>(member_ids_.size()));
  if (added) member_ids_.push_back(member_id);
  return it->second;
}

std::vector<std::pair<uint32_t, bool>> GroupDeltaMerge::last_words(const GraphGroup& group) {
  std::vector<std::pair<uint32_t, bool>> words = group.member_words;
  // Stable: among the words about one member, the last said stays last.
  std::stable_sort(words.begin(), words.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<uint32_t, bool>> last;
  last.reserve(words.size());
  for (size_t i = 0; i < words.size(); ++i) {
    if (i + 1 < words.size() && words[i + 1].first == words[i].first) continue;
    last.push_back(words[i]);
  }
  return last;
}

std::vector<Identity> directory_from_rounds(const UserDeltaMerge& users, const GroupDeltaMerge& groups,
                                            const std::string& where) {
  std::map<std::string, Identity> by_id;
  for (const auto& [id, user] : users.users()) {
    if (user.removed_reason) {
      if (user.user_principal_name || (user.mail && !user.mail->empty())) by_id.emplace(id, removed_identity_of(user));
      continue;
    }
    if (!user.account_enabled) throw SourceReadError(where + ": user " + id + " has no accountEnabled");
    Identity identity = identity_of(user);
    if (identity.email.empty()) throw SourceReadError(where + ": user " + id + " has neither mail nor userPrincipalName");
    by_id.emplace(id, std::move(identity));
  }
  if (std::none_of(by_id.begin(), by_id.end(),
                   [](const auto& entry) { return entry.second.status != IdentityStatus::deleted; })) {
    throw SourceReadError(where + ": no users (a tenant always has at least one)");
  }
  // Each member number's identity, looked up once rather than once per group.
  std::vector<Identity*> member(groups.member_count(), nullptr);
  for (uint32_t n = 0; n < member.size(); ++n) {
    const auto it = by_id.find(groups.member_id(n));
    if (it != by_id.end() && it->second.status != IdentityStatus::deleted) member[n] = &it->second;
  }
  // Two passes: the first counts each identity's groups, so that each
  // identity's list is allocated once at its size (at 100,000 users in 10
  // groups each, growth by doubling wasted about 40 MB).
  std::vector<uint32_t> names(member.size(), 0);
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [group_id, group] : groups.groups()) {
      if (group.removed) continue;
      for (const auto& [number, present] : GroupDeltaMerge::last_words(group)) {
        Identity* identity = member[number];
        if (!present || identity == nullptr) continue;
        if (pass == 0) {
          names[number] += group.display_name ? 2 : 1;
          continue;
        }
        if (group.display_name) identity->groups.push_back(*group.display_name);
        identity->groups.push_back(group_id);
      }
    }
    if (pass == 0) {
      for (uint32_t n = 0; n < member.size(); ++n) {
        if (member[n] != nullptr) member[n]->groups.reserve(names[n]);
      }
    }
  }
  std::vector<Identity> out;
  out.reserve(by_id.size());
  for (auto& [id, identity] : by_id) out.push_back(std::move(identity));
  return out;
}

}  // namespace keywarden

#include "connectors/scim/memory_scim_repository.h"

#include <algorithm>

namespace keywarden {
namespace {

bool older(const ScimRecord& a, const ScimRecord& b) {
  return std::tie(a.created, a.id) < std::tie(b.created, b.id);
}

bool has_key(const ScimLookupKeys& keys, ScimLookup lookup, const std::string& key) {
  switch (lookup) {
    case ScimLookup::user_name: return keys.user_name == key;
    case ScimLookup::external_id: return keys.external_id == key;
    case ScimLookup::display_name: return keys.display_name == key;
    case ScimLookup::email:
      return std::find(keys.emails.begin(), keys.emails.end(), key) != keys.emails.end();
  }
  return false;
}

}  // namespace

std::optional<ScimRecord> MemoryScimRepository::get(ScimResourceType type, const std::string& id) {
  const auto it = resources_.find({type, id});
  if (it == resources_.end()) return std::nullopt;
  return it->second.record;
}

std::vector<ScimRecord> MemoryScimRepository::find(ScimResourceType type, ScimLookup lookup,
                                                   const std::string& key) {
  std::vector<ScimRecord> out;
  if (key.empty()) return out;
  for (const auto& [k, stored] : resources_) {
    if (k.first == type && has_key(stored.keys, lookup, key)) out.push_back(stored.record);
  }
  std::sort(out.begin(), out.end(), older);
  return out;
}

ScimPage MemoryScimRepository::list(ScimResourceType type, int64_t offset, int64_t limit) {
  std::vector<ScimRecord> all;
  for (const auto& [k, stored] : resources_) {
    if (k.first == type) all.push_back(stored.record);
  }
  std::sort(all.begin(), all.end(), older);
  ScimPage page;
  page.total = static_cast<int64_t>(all.size());
  for (int64_t i = std::max<int64_t>(offset, 0); i < page.total && static_cast<int64_t>(page.records.size()) < limit; ++i) {
    page.records.push_back(all[static_cast<size_t>(i)]);
  }
  return page;
}

ScimRecord MemoryScimRepository::put(ScimResourceType type, const std::string& id,
                                     const std::string& json, const ScimLookupKeys& keys,
                                     Timestamp now) {
  Stored& stored = resources_[{type, id}];
  const bool is_new = stored.record.version == 0;
  stored.record.type = type;
  stored.record.id = id;
  stored.record.json = json;
  stored.record.version += 1;
  if (is_new) stored.record.created = now;
  stored.record.modified = now;
  stored.keys = keys;
  return stored.record;
}

bool MemoryScimRepository::remove(ScimResourceType type, const std::string& id) {
  if (resources_.erase({type, id}) == 0) return false;
  if (type == ScimResourceType::group) {
    for (const auto& [member, json] : members_[id]) groups_of_[member].erase(id);
    members_.erase(id);
  }
  return true;
}

std::vector<ScimMemberRecord> MemoryScimRepository::members(const std::string& group_id) {
  std::vector<ScimMemberRecord> out;
  const auto it = members_.find(group_id);
  if (it == members_.end()) return out;
  for (const auto& [member, json] : it->second) out.push_back({member, json});
  return out;
}

std::vector<ScimMemberRecord> MemoryScimRepository::members_among(const std::string& group_id,
                                                                 const std::vector<std::string>& member_ids) {
  std::vector<ScimMemberRecord> out;
  const auto group = members_.find(group_id);
  if (group == members_.end()) return out;
  for (const std::string& id : std::set<std::string>(member_ids.begin(), member_ids.end())) {
    if (const auto it = group->second.find(id); it != group->second.end()) out.push_back({id, it->second});
  }
  return out;
}

std::vector<std::string> MemoryScimRepository::groups_with_member(const std::string& member_id) {
  const auto it = groups_of_.find(member_id);
  if (it == groups_of_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void MemoryScimRepository::put_members(const std::string& group_id, const std::vector<ScimMemberRecord>& members) {
  for (const ScimMemberRecord& member : members) {
    members_[group_id][member.member_id] = member.json;
    groups_of_[member.member_id].insert(group_id);
  }
}

size_t MemoryScimRepository::remove_members(const std::string& group_id, const std::vector<std::string>& member_ids) {
  const auto it = members_.find(group_id);
  if (it == members_.end()) return 0;
  size_t removed = 0;
  for (const std::string& member_id : member_ids) {
    if (it->second.erase(member_id) == 0) continue;
    groups_of_[member_id].erase(group_id);
    ++removed;
  }
  return removed;
}

void MemoryScimRepository::join(IdentityRecord& record, const std::string& group, Timestamp now) {
  for (MembershipRecord& m : record.memberships) {
    if (m.group != group) continue;
    if (m.removed_at) {
      m.removed_at.reset();
      m.first_seen = now;
    }
    return;
  }
  record.memberships.push_back({group, now, std::nullopt});
}

void MemoryScimRepository::leave(IdentityRecord& record, const std::string& group, Timestamp now) {
  for (MembershipRecord& m : record.memberships) {
    if (m.group == group && !m.removed_at) m.removed_at = now;
  }
}

void MemoryScimRepository::apply_identity_update(const Identity& identity, bool groups_known,
                                                 Timestamp now) {
  auto [it, inserted] = identities_.try_emplace(identity.subject_id);
  IdentityRecord& record = it->second;
  if (inserted) {
    record.source = "memory";
    record.subject_id = identity.subject_id;
    record.first_seen = now;
    record.status_since = now;
  } else if (record.status != identity.status) {
    record.status_since = now;
  }
  record.user_name = identity.user_name;
  record.email = normalize_email(identity.email);
  record.status = identity.status;
  record.status_detail = identity.status_detail;
  if (!groups_known) return;
  for (const std::string& group : identity.groups) join(record, group, now);
  for (const MembershipRecord& m : std::vector<MembershipRecord>(record.memberships)) {
    if (!m.removed_at &&
        std::find(identity.groups.begin(), identity.groups.end(), m.group) == identity.groups.end()) {
      leave(record, m.group, now);
    }
  }
}

void MemoryScimRepository::set_membership(const std::string& subject_id, const std::string& group,
                                          bool member, Timestamp now) {
  auto [it, inserted] = identities_.try_emplace(subject_id);
  IdentityRecord& record = it->second;
  if (inserted) {
    record.source = "memory";
    record.subject_id = subject_id;
    record.first_seen = now;
    record.status_since = now;
  }
  if (member) {
    join(record, group, now);
  } else {
    leave(record, group, now);
  }
}

void MemoryScimRepository::set_memberships(const std::vector<ScimUserEmail>& users, const std::string& group,
                                           bool member, Timestamp now) {
  for (const ScimUserEmail& user : users) set_membership(user.id, group, member, now);
}

std::vector<ScimUserEmail> MemoryScimRepository::user_emails(const std::vector<std::string>& ids) {
  std::vector<ScimUserEmail> out;
  for (const std::string& id : std::set<std::string>(ids.begin(), ids.end())) {
    const auto identity = identities_.find(id);
    if (identity == identities_.end() || !resources_.contains({ScimResourceType::user, id})) continue;
    out.push_back({id, identity->second.email});
  }
  return out;
}

std::optional<IdentityRecord> MemoryScimRepository::load_identity(const std::string& subject_id) {
  const auto it = identities_.find(subject_id);
  if (it == identities_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> MemoryScimRepository::current_groups(const std::string& subject_id) const {
  std::vector<std::string> out;
  const auto it = identities_.find(subject_id);
  if (it == identities_.end()) return out;
  for (const MembershipRecord& m : it->second.memberships) {
    if (!m.removed_at) out.push_back(m.group);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace keywarden

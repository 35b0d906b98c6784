#include "connectors/scim/store_scim_repository.h"

#include <algorithm>
#include <map>
#include <set>

#include <stdexcept>
#include <utility>

namespace keywarden {
namespace {

ScimRecord to_record(ScimResourceType type, PushedResourceRow row) {
  ScimRecord record;
  record.type = type;
  record.id = std::move(row.id);
  record.json = std::move(row.json);
  record.version = row.version;
  record.created = row.created;
  record.modified = row.modified;
  return record;
}

std::vector<ScimRecord> to_records(ScimResourceType type, std::vector<PushedResourceRow> rows) {
  std::vector<ScimRecord> records;
  records.reserve(rows.size());
  for (PushedResourceRow& row : rows) records.push_back(to_record(type, std::move(row)));
  return records;
}

PushedResourceKey to_key(ScimLookup lookup) {
  switch (lookup) {
    case ScimLookup::user_name: return PushedResourceKey::user_name_lower;
    case ScimLookup::external_id: return PushedResourceKey::external_id;
    case ScimLookup::display_name: return PushedResourceKey::display_name_lower;
    case ScimLookup::email: return PushedResourceKey::email;
  }
  return PushedResourceKey::external_id;
}

}  // namespace

StoreScimRepository::StoreScimRepository(PushedResources& resources, const SourceFacts& known,
                                         IdentityChanges& changes)
    : resources_(resources), known_(known), changes_(changes) {}

std::optional<ScimRecord> StoreScimRepository::get(ScimResourceType type, const std::string& id) {
  std::optional<PushedResourceRow> row = resources_.get(to_string(type), id);
  if (!row) return std::nullopt;
  return to_record(type, std::move(*row));
}

std::vector<ScimRecord> StoreScimRepository::find(ScimResourceType type, ScimLookup lookup,
                                                  const std::string& key) {
  return to_records(type, resources_.find(to_string(type), to_key(lookup), key));
}

ScimPage StoreScimRepository::list(ScimResourceType type, int64_t offset, int64_t limit) {
  ScimPage page;
  page.records = to_records(type, resources_.list(to_string(type), offset, limit));
  page.total = resources_.count(to_string(type));
  return page;
}

ScimRecord StoreScimRepository::put(ScimResourceType type, const std::string& id,
                                    const std::string& json, const ScimLookupKeys& keys,
                                    Timestamp now) {
  PushedResourceKeys store_keys{keys.user_name, keys.external_id, keys.display_name, keys.emails};
  return to_record(type, resources_.put(to_string(type), id, json, store_keys, now));
}

bool StoreScimRepository::remove(ScimResourceType type, const std::string& id) {
  return resources_.remove(to_string(type), id);
}

std::vector<ScimMemberRecord> StoreScimRepository::members(const std::string& group_id) {
  std::vector<ScimMemberRecord> out;
  for (PushedMemberRow& row : resources_.members(group_id)) {
    out.push_back({std::move(row.member_id), std::move(row.json)});
  }
  return out;
}

std::vector<ScimMemberRecord> StoreScimRepository::members_among(const std::string& group_id,
                                                                const std::vector<std::string>& member_ids) {
  std::vector<ScimMemberRecord> out;
  for (PushedMemberRow& row : resources_.members_among(group_id, member_ids)) {
    out.push_back({std::move(row.member_id), std::move(row.json)});
  }
  return out;
}

std::vector<std::string> StoreScimRepository::groups_with_member(const std::string& member_id) {
  return resources_.groups_with_member(member_id);
}

void StoreScimRepository::put_members(const std::string& group_id, const std::vector<ScimMemberRecord>& members) {
  std::vector<PushedMemberRow> rows;
  rows.reserve(members.size());
  for (const ScimMemberRecord& member : members) rows.push_back({member.member_id, member.json});
  resources_.put_members(group_id, rows);
}

size_t StoreScimRepository::remove_members(const std::string& group_id, const std::vector<std::string>& member_ids) {
  return resources_.remove_members(group_id, member_ids);
}

void StoreScimRepository::apply_identity_update(const Identity& identity, bool groups_known, Timestamp) {
  if (!changes_.identities.empty() && changes_.groups_known != groups_known) {
    throw std::logic_error("one SCIM request reported identities both with and without their groups");
  }
  changes_.groups_known = groups_known;
  changes_.identities.push_back(identity);
}

void StoreScimRepository::set_membership(const std::string& subject_id, const std::string& group,
                                         bool member, Timestamp) {
  changes_.memberships.push_back(MembershipChange{subject_id, group, member, "", ""});
}

void StoreScimRepository::set_memberships(const std::vector<ScimUserEmail>& users, const std::string& group,
                                          bool member, Timestamp) {
  changes_.memberships.reserve(changes_.memberships.size() + users.size());
  for (const ScimUserEmail& user : users) {
    // user_emails read the email from the identity in this transaction.
    changes_.memberships.push_back(MembershipChange{user.id, group, member, "", user.email, true});
  }
}

std::vector<ScimUserEmail> StoreScimRepository::user_emails(const std::vector<std::string>& ids) {
  std::vector<ScimUserEmail> stored;  // sorted by id, each once (identity_emails)
  for (PushedIdentityEmailRow& row : resources_.identity_emails(to_string(ScimResourceType::user), ids)) {
    stored.push_back({std::move(row.id), std::move(row.email)});
  }
  if (changes_.identities.empty()) return stored;  // a large group change: nothing pending
  std::map<std::string, std::string> users;  // id → email
  for (ScimUserEmail& user : stored) users.emplace(std::move(user.id), std::move(user.email));
  // Users this request wrote are not among the store's identities until the
  // daemon applies its facts: the latest pending upsert speaks for them.
  // (An empty email keeps the stored one, as Store::apply_changes merges.)
  std::set<std::string> decided;
  for (auto it = changes_.identities.rbegin(); it != changes_.identities.rend(); ++it) {
    if (decided.contains(it->subject_id)) continue;
    if (std::find(ids.begin(), ids.end(), it->subject_id) == ids.end()) continue;
    if (!resources_.get(to_string(ScimResourceType::user), it->subject_id)) continue;
    decided.insert(it->subject_id);
    const auto [stored, inserted] = users.try_emplace(it->subject_id, normalize_email(it->email));
    if (!inserted && !it->email.empty()) stored->second = normalize_email(it->email);
  }
  std::vector<ScimUserEmail> out;
  out.reserve(users.size());
  for (auto& [id, email] : users) out.push_back({id, std::move(email)});
  return out;
}

std::optional<IdentityRecord> StoreScimRepository::load_identity(const std::string& subject_id) {
  std::optional<IdentityRecord> record = known_.identity(subject_id);
  // Read what this request already decided: the latest upsert wins, with the
  // store's merge rule (an empty email keeps the stored one).
  for (auto it = changes_.identities.rbegin(); it != changes_.identities.rend(); ++it) {
    if (it->subject_id != subject_id) continue;
    if (!record) {
      record.emplace();
      record->source = resources_.source();
      record->subject_id = subject_id;
    }
    if (!it->email.empty()) record->email = normalize_email(it->email);
    if (!it->user_name.empty()) record->user_name = it->user_name;
    record->status = it->status;
    record->status_detail = it->status_detail;
    break;
  }
  return record;
}

}  // namespace keywarden

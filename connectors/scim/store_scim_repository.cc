#include "connectors/scim/store_scim_repository.h"

#include <utility>

namespace keywarden {
namespace {

ScimRecord to_record(ScimResourceType type, ScimResourceRow row) {
  ScimRecord record;
  record.type = type;
  record.id = std::move(row.id);
  record.json = std::move(row.json);
  record.version = row.version;
  record.created = row.created;
  record.modified = row.modified;
  return record;
}

std::vector<ScimRecord> to_records(ScimResourceType type, std::vector<ScimResourceRow> rows) {
  std::vector<ScimRecord> records;
  records.reserve(rows.size());
  for (ScimResourceRow& row : rows) records.push_back(to_record(type, std::move(row)));
  return records;
}

ScimKey to_key(ScimLookup lookup) {
  switch (lookup) {
    case ScimLookup::user_name: return ScimKey::user_name_lower;
    case ScimLookup::external_id: return ScimKey::external_id;
    case ScimLookup::display_name: return ScimKey::display_name_lower;
    case ScimLookup::email: return ScimKey::email;
  }
  return ScimKey::external_id;
}

}  // namespace

StoreScimRepository::StoreScimRepository(Store& store, std::string source)
    : store_(store), source_(std::move(source)) {}

std::optional<ScimRecord> StoreScimRepository::get(ScimResourceType type, const std::string& id) {
  std::optional<ScimResourceRow> row = store_.scim_resource(source_, to_string(type), id);
  if (!row) return std::nullopt;
  return to_record(type, std::move(*row));
}

std::vector<ScimRecord> StoreScimRepository::find(ScimResourceType type, ScimLookup lookup,
                                                  const std::string& key) {
  return to_records(type, store_.scim_find(source_, to_string(type), to_key(lookup), key));
}

ScimPage StoreScimRepository::list(ScimResourceType type, int64_t offset, int64_t limit) {
  ScimPage page;
  page.records = to_records(type, store_.scim_list(source_, to_string(type), offset, limit));
  page.total = store_.scim_count(source_, to_string(type));
  return page;
}

ScimRecord StoreScimRepository::put(ScimResourceType type, const std::string& id,
                                    const std::string& json, const ScimLookupKeys& keys,
                                    Timestamp now) {
  ScimResourceKeys store_keys{keys.user_name, keys.external_id, keys.display_name, keys.emails};
  return to_record(type, store_.scim_put(source_, to_string(type), id, json, store_keys, now));
}

bool StoreScimRepository::remove(ScimResourceType type, const std::string& id) {
  return store_.scim_remove(source_, to_string(type), id);
}

std::vector<ScimMemberRecord> StoreScimRepository::members(const std::string& group_id) {
  std::vector<ScimMemberRecord> out;
  for (ScimMemberRow& row : store_.scim_members(source_, group_id)) {
    out.push_back({std::move(row.member_id), std::move(row.json)});
  }
  return out;
}

std::vector<std::string> StoreScimRepository::groups_with_member(const std::string& member_id) {
  return store_.scim_groups_with_member(source_, member_id);
}

void StoreScimRepository::put_member(const std::string& group_id, const ScimMemberRecord& member) {
  store_.scim_put_member(source_, group_id, {member.member_id, member.json});
}

bool StoreScimRepository::remove_member(const std::string& group_id, const std::string& member_id) {
  return store_.scim_remove_member(source_, group_id, member_id);
}

void StoreScimRepository::apply_identity_update(const Identity& identity, bool groups_known,
                                                Timestamp now) {
  store_.apply_identity_update(source_, identity, groups_known, now);
}

void StoreScimRepository::set_membership(const std::string& subject_id, const std::string& group,
                                         bool member, Timestamp now) {
  store_.set_membership(source_, subject_id, group, member, now);
}

std::optional<IdentityRecord> StoreScimRepository::load_identity(const std::string& subject_id) {
  return store_.load_identity(source_, subject_id);
}

}  // namespace keywarden

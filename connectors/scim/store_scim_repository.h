// The ScimRepository of one `scim` source, kept in keywarden's Store
// (tables scim_resources, scim_emails, scim_members; identities and
// memberships through the Store's identity methods).
//
// It opens no transaction of its own around several calls: the daemon runs
// each SCIM request inside one on its DB thread. Not thread-safe (the Store
// is not). Every method throws StoreError on an SQLite failure.
#pragma once

#include <string>

#include "connectors/scim/scim_repository.h"
#include "daemon/store/store.h"

namespace keywarden {

class StoreScimRepository final : public ScimRepository {
 public:
  // `store` must outlive the repository.
  StoreScimRepository(Store& store, std::string source);

  const std::string& source() const { return source_; }

  std::optional<ScimRecord> get(ScimResourceType type, const std::string& id) override;
  std::vector<ScimRecord> find(ScimResourceType type, ScimLookup lookup, const std::string& key) override;
  ScimPage list(ScimResourceType type, int64_t offset, int64_t limit) override;
  ScimRecord put(ScimResourceType type, const std::string& id, const std::string& json,
                 const ScimLookupKeys& keys, Timestamp now) override;
  bool remove(ScimResourceType type, const std::string& id) override;

  std::vector<ScimMemberRecord> members(const std::string& group_id) override;
  std::vector<std::string> groups_with_member(const std::string& member_id) override;
  void put_member(const std::string& group_id, const ScimMemberRecord& member) override;
  bool remove_member(const std::string& group_id, const std::string& member_id) override;

  void apply_identity_update(const Identity& identity, bool groups_known, Timestamp now) override;
  void set_membership(const std::string& subject_id, const std::string& group, bool member,
                      Timestamp now) override;
  std::optional<IdentityRecord> load_identity(const std::string& subject_id) override;

 private:
  Store& store_;
  std::string source_;
};

}  // namespace keywarden

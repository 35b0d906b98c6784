// The ScimRepository of one `scim` source during one request: resources are
// kept in the source's pushed resources (keywarden's Store); identity facts
// are collected into an IdentityChanges that the daemon applies with every
// other source's facts (Store::apply_changes), in the same transaction.
//
// It opens no transaction of its own around several calls: the daemon runs
// each SCIM request inside one on its DB thread. Not thread-safe (the Store
// is not). Every method throws StoreError on an SQLite failure.
#pragma once

#include <string>

#include "connectors/scim/scim_repository.h"
#include "daemon/store/pushed_resources.h"
#include "daemon/store/source_facts.h"

namespace keywarden {

class StoreScimRepository final : public ScimRepository {
 public:
  // All three must outlive the repository; `changes` receives the identity
  // facts the request implies.
  StoreScimRepository(PushedResources& resources, const SourceFacts& known, IdentityChanges& changes);

  const std::string& source() const { return resources_.source(); }

  std::optional<ScimRecord> get(ScimResourceType type, const std::string& id) override;
  std::vector<ScimRecord> find(ScimResourceType type, ScimLookup lookup, const std::string& key) override;
  ScimPage list(ScimResourceType type, int64_t offset, int64_t limit) override;
  ScimRecord put(ScimResourceType type, const std::string& id, const std::string& json,
                 const ScimLookupKeys& keys, Timestamp now) override;
  bool remove(ScimResourceType type, const std::string& id) override;

  std::vector<ScimMemberRecord> members(const std::string& group_id) override;
  std::vector<ScimMemberRecord> members_among(const std::string& group_id,
                                              const std::vector<std::string>& member_ids) override;
  std::vector<std::string> groups_with_member(const std::string& member_id) override;
  void put_members(const std::string& group_id, const std::vector<ScimMemberRecord>& members) override;
  size_t remove_members(const std::string& group_id, const std::vector<std::string>& member_ids) override;

  void apply_identity_update(const Identity& identity, bool groups_known, Timestamp now) override;
  void set_membership(const std::string& subject_id, const std::string& group, bool member,
                      Timestamp now) override;
  void set_memberships(const std::vector<ScimUserEmail>& users, const std::string& group, bool member,
                       Timestamp now) override;
  std::vector<ScimUserEmail> user_emails(const std::vector<std::string>& ids) override;
  std::optional<IdentityRecord> load_identity(const std::string& subject_id) override;

 private:
  PushedResources& resources_;
  const SourceFacts& known_;
  IdentityChanges& changes_;
};

}  // namespace keywarden

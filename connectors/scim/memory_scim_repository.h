// A ScimRepository in memory: for tests and the fuzzer, which must not need
// SQLite. Its identity side mirrors the store's rules closely enough for
// tests to assert on (status, status_since, current and removed memberships).
// Not thread-safe.
#pragma once

#include <map>
#include <set>
#include <tuple>

#include "connectors/scim/scim_repository.h"

namespace keywarden {

class MemoryScimRepository final : public ScimRepository {
 public:
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

  // For tests: every identity, keyed by subject id.
  const std::map<std::string, IdentityRecord>& identities() const { return identities_; }
  // For tests: the current (not removed) groups of a subject, sorted.
  std::vector<std::string> current_groups(const std::string& subject_id) const;

 private:
  struct Stored {
    ScimRecord record;
    ScimLookupKeys keys;
  };
  using Key = std::pair<ScimResourceType, std::string>;

  void join(IdentityRecord& record, const std::string& group, Timestamp now);
  void leave(IdentityRecord& record, const std::string& group, Timestamp now);

  std::map<Key, Stored> resources_;
  std::map<std::string, std::map<std::string, std::string>> members_;  // group → member → json
  std::map<std::string, std::set<std::string>> groups_of_;             // member → groups
  std::map<std::string, IdentityRecord> identities_;
};

}  // namespace keywarden

// The pushed resources of one source (store.h, "Pushed resources"), as a push
// handler sees them: only its own source's rows, in the push's transaction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/store/store.h"

namespace keywarden {

class PushedResources {
 public:
  // `store` must outlive this object.
  PushedResources(Store& store, std::string source) : store_(store), source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  std::optional<PushedResourceRow> get(std::string_view type, const std::string& id) const {
    return store_.pushed_resource(source_, type, id);
  }
  std::vector<PushedResourceRow> find(std::string_view type, PushedResourceKey key, const std::string& value) const {
    return store_.pushed_find(source_, type, key, value);
  }
  std::vector<PushedResourceRow> list(std::string_view type, int64_t offset, int64_t limit) const {
    return store_.pushed_list(source_, type, offset, limit);
  }
  int64_t count(std::string_view type) const { return store_.pushed_count(source_, type); }
  PushedResourceRow put(std::string_view type, const std::string& id, const std::string& json,
                        const PushedResourceKeys& keys, Timestamp now) {
    return store_.pushed_put(source_, type, id, json, keys, now);
  }
  bool remove(std::string_view type, const std::string& id) { return store_.pushed_remove(source_, type, id); }
  std::vector<PushedMemberRow> members(const std::string& group_id) const {
    return store_.pushed_members(source_, group_id);
  }
  std::vector<PushedMemberRow> members_among(const std::string& group_id,
                                             const std::vector<std::string>& member_ids) const {
    return store_.pushed_members_among(source_, group_id, member_ids);
  }
  std::vector<PushedIdentityEmailRow> identity_emails(std::string_view type, const std::vector<std::string>& ids) const {
    return store_.pushed_identity_emails(source_, type, ids);
  }
  std::vector<std::string> groups_with_member(const std::string& member_id) const {
    return store_.pushed_groups_with_member(source_, member_id);
  }
  void put_members(const std::string& group_id, const std::vector<PushedMemberRow>& members) {
    store_.pushed_put_members(source_, group_id, members);
  }
  size_t remove_members(const std::string& group_id, const std::vector<std::string>& member_ids) {
    return store_.pushed_remove_members(source_, group_id, member_ids);
  }

 private:
  Store& store_;
  std::string source_;
};

}  // namespace keywarden

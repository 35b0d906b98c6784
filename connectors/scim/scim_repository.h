// Where the SCIM service provider keeps what a client pushed, and where it
// reports the identity facts those pushes imply. One repository serves one
// `scim` source.
//
// The service makes several calls per request and never opens a transaction
// itself: the caller runs ScimService::handle inside one (the daemon's DB
// thread does), so a request's writes commit or roll back together. The
// service validates a request completely before its first write, so a 4xx
// answer writes nothing. Every method may throw (e.g. StoreError); the service
// lets that through and the caller answers 500 and rolls back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

enum class ScimResourceType { user, group };
std::string_view to_string(ScimResourceType type);  // "User" | "Group"

// The keys a resource can be found by. The service computes them, folding
// case where SCIM compares without it; a repository compares bytes.
enum class ScimLookup {
  user_name,     // Users: scim_user_name_key(userName): trimmed, ASCII lower-cased
  external_id,   // externalId, exact
  display_name,  // ascii_lower(displayName)
  email,         // Users: normalize_email of any email value
};

struct ScimLookupKeys {
  std::string user_name;            // "" for groups
  std::string external_id;          // "" when none
  std::string display_name;         // "" when none
  std::vector<std::string> emails;  // each once
};

// One stored resource. `json` is opaque to the repository: the resource
// without "meta" (built on output) and, for a group, without "members"
// (kept as member rows, so a large group's change writes only what changed).
struct ScimRecord {
  ScimResourceType type = ScimResourceType::user;
  std::string id;
  std::string json;
  int64_t version = 0;  // 1 after the first put, +1 on every put after
  Timestamp created{};
  Timestamp modified{};
};

// One member of a group: the member's id ("value") and its member object as
// JSON text ({"value":…,"display":…,"type":…}), opaque to the repository.
struct ScimMemberRecord {
  std::string member_id;
  std::string json;
};

// A user of the repository's source and the email its identity joins on
// (normalized; "" when it has none).
struct ScimUserEmail {
  std::string id;
  std::string email;
};

struct ScimPage {
  std::vector<ScimRecord> records;
  int64_t total = 0;  // resources of the type, whatever the page
};

class ScimRepository {
 public:
  virtual ~ScimRepository() = default;

  // ---- Resources ------------------------------------------------------------

  virtual std::optional<ScimRecord> get(ScimResourceType type, const std::string& id) = 0;
  // Resources of `type` whose `lookup` key equals `key`, oldest first
  // (created, then id).
  virtual std::vector<ScimRecord> find(ScimResourceType type, ScimLookup lookup,
                                       const std::string& key) = 0;
  // Resources of `type` in a stable order (created, then id), skipping
  // `offset` and returning at most `limit`; `total` counts them all.
  virtual ScimPage list(ScimResourceType type, int64_t offset, int64_t limit) = 0;
  // Inserts or replaces the resource and its lookup keys. `created` is kept
  // for an existing resource and `now` for a new one; `modified` is `now`.
  // Returns the record as stored, with its new version.
  virtual ScimRecord put(ScimResourceType type, const std::string& id, const std::string& json,
                         const ScimLookupKeys& keys, Timestamp now) = 0;
  // Deletes the resource, its keys and, for a group, its member rows.
  // Returns false when there was no such resource.
  virtual bool remove(ScimResourceType type, const std::string& id) = 0;

  // ---- Group members --------------------------------------------------------

  // The group's members, ordered by member id.
  virtual std::vector<ScimMemberRecord> members(const std::string& group_id) = 0;
  // The group's members whose ids are among `member_ids`, ordered by member
  // id. Costs what the ids asked for cost, whatever the group's size.
  virtual std::vector<ScimMemberRecord> members_among(const std::string& group_id,
                                                      const std::vector<std::string>& member_ids) = 0;
  // The ids of the groups listing `member_id`, ordered.
  virtual std::vector<std::string> groups_with_member(const std::string& member_id) = 0;
  // Inserts or replaces a member row for each of `members` (distinct ids).
  // Costs what the rows cost, in a few statements however many.
  virtual void put_members(const std::string& group_id, const std::vector<ScimMemberRecord>& members) = 0;
  // Removes the group's rows for `member_ids`; returns how many it listed.
  virtual size_t remove_members(const std::string& group_id, const std::vector<std::string>& member_ids) = 0;
  void put_member(const std::string& group_id, const ScimMemberRecord& member) { put_members(group_id, {member}); }
  // Returns false when the group did not list the member.
  bool remove_member(const std::string& group_id, const std::string& member_id) {
    return remove_members(group_id, {member_id}) > 0;
  }

  // ---- Identity facts (what the engine sees) ---------------------------------

  // As Store::apply_identity_update for this repository's source.
  virtual void apply_identity_update(const Identity& identity, bool groups_known, Timestamp now) = 0;
  // As Store::set_membership for this repository's source.
  virtual void set_membership(const std::string& subject_id, const std::string& group, bool member,
                              Timestamp now) = 0;
  // As set_membership for each of `users` (a large group change), as
  // user_emails returned them in this same request.
  virtual void set_memberships(const std::vector<ScimUserEmail>& users, const std::string& group,
                               bool member, Timestamp now) = 0;
  // The ids among `ids` that are users of this source (a User resource, and
  // the identity written with it), each once, ordered by id, with the email
  // their identity joins on. Costs what the ids asked for cost.
  virtual std::vector<ScimUserEmail> user_emails(const std::vector<std::string>& ids) = 0;
  // As Store::load_identity for this repository's source.
  virtual std::optional<IdentityRecord> load_identity(const std::string& subject_id) = 0;
};

}  // namespace keywarden

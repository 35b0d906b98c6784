// Microsoft Graph delta responses (users/delta, groups/delta) turned into
// directory facts. Pure: no I/O, no clock.
//
// A delta round is a chain of pages joined by @odata.nextLink and closed by
// @odata.deltaLink. Graph may return the same object several times in one
// round (a big group's members span pages and reappear anywhere, replays
// happen), so pages are merged per object id: the last word about an object
// wins, and properties a later item leaves out keep their earlier value.
#pragma once

#include <map>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "daemon/engine/identity.h"

namespace keywarden {

// One page of a delta round. Exactly one of next_link / delta_link is set.
struct DeltaPage {
  std::vector<nlohmann::json> items;  // the "value" array
  std::string next_link;              // the whole @odata.nextLink URL
  std::string delta_link;             // the whole @odata.deltaLink URL
};

// Parses a 2xx delta page. Throws SourceReadError naming `where` when the body
// is not JSON, has no "value" array, or has neither link: such a page proves
// nothing about the directory.
DeltaPage parse_delta_page(const std::string& body, const std::string& where);

// The error code of a Graph error body ({"error":{"code":…}}), or "".
std::string graph_error_code(const std::string& body);

// What a round said about one user.
struct GraphUser {
  std::string id;
  std::optional<std::string> user_principal_name;
  std::optional<std::string> mail;  // set but empty when Graph said null
  std::optional<bool> account_enabled;
  // Set when the last word was @removed: "changed" (soft-deleted, restorable
  // for 30 days) or "deleted" (gone for good).
  std::optional<std::string> removed_reason;
};

// The identity facts of a user Graph still lists (removed_reason unset).
// email = mail, or userPrincipalName when mail is null or empty.
Identity identity_of(const GraphUser& user);
// The identity of a removed user, keeping the names an earlier item gave:
// status deleted, detail "soft-deleted" (reason changed) or "hard-deleted".
Identity removed_identity_of(const GraphUser& user);

// Merges the items of users/delta pages.
class UserDeltaMerge {
 public:
  // Throws SourceReadError naming `where` for an item without an id or with
  // a property of the wrong type.
  void add(const nlohmann::json& item, const std::string& where);
  const std::map<std::string, GraphUser>& users() const { return users_; }

 private:
  std::map<std::string, GraphUser> users_;
};

// What a round said about one group.
struct GraphGroup {
  std::string id;
  std::optional<std::string> display_name;
  bool removed = false;
  // Each word about a user member, in the order Graph said them: the
  // member's number in its GroupDeltaMerge (member_id), and true (member)
  // or false (@removed). Only user members: nested groups, devices and
  // service principals hold no Palette keys. Numbers, not ids: 1,000,000
  // memberships cost 8 MB here instead of over 100 MB of id strings.
  std::vector<std::pair<uint32_t, bool>> member_words;
};

// Merges the items of groups/delta pages, members@delta included.
class GroupDeltaMerge {
 public:
  void add(const nlohmann::json& item, const std::string& where);
  const std::map<std::string, GraphGroup>& groups() const { return groups_; }
  // The object id of member number `member`.
  const std::string& member_id(uint32_t member) const { return member_ids_[member]; }
  size_t member_count() const { return member_ids_.size(); }
  // `group`'s members by the last word said about each: (number, present),
  // ordered by number.
  static std::vector<std::pair<uint32_t, bool>> last_words(const GraphGroup& group);

 private:
  uint32_t number_of(const std::string& member_id);

  std::map<std::string, GraphGroup> groups_;
  std::vector<std::string> member_ids_;                  // number -> id
  std::unordered_map<std::string, uint32_t> member_numbers_;  // id -> number
};

// The directory a complete initial round shows: every user Graph lists, with
// the display name AND the object id of each group it is a member of (SPEC
// §3: entitled_groups match either). A user whose last word in the round is
// @removed is reported deleted when the round named it earlier, and left out
// otherwise (an absent user becomes deleted in the store, which keeps the
// email it knew; a listed one with no email would lose it). Memberships of ids
// the users round did not list are dropped. Throws SourceReadError when a
// listed user lacks accountEnabled or a name, or when there are no users at
// all (a tenant always has at least its administrator).
std::vector<Identity> directory_from_rounds(const UserDeltaMerge& users, const GroupDeltaMerge& groups,
                                            const std::string& where);

}  // namespace keywarden

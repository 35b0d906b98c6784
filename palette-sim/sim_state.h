// The simulated tenant: its users and API keys, loaded from a seed document
// and changed by API calls and control requests. Renders the Palette JSON
// shapes of reference/palette-api.md (v1User, v1ApiKey, v1UserInfo, v1Team).
//
// Not thread-safe: the simulator runs on one I/O thread. Times are wall-clock
// milliseconds since the Unix epoch, passed in by the caller.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace palette_sim {

using Json = nlohmann::json;

// "2024-09-16T14:46:28.677Z" (always milliseconds, always UTC).
std::string format_time_ms(std::int64_t ms_since_epoch);
// RFC 3339: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; 't'/'z' allowed.
// nullopt on anything else.
std::optional<std::int64_t> parse_time_ms(std::string_view text);

struct SimUser {
  std::string uid;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string name;  // metadata.name; default "first last"
  bool active = true;
  bool deleted = false;  // removed with DELETE /__sim/users/{uid}
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> last_sign_in_ms;
};

struct SimKey {
  std::string uid;
  std::string name;
  std::string owner_uid;    // spec.user.uid
  std::string creator_uid;  // metadata.annotations.ownerUid; default owner_uid
  std::string description;
  bool active = true;
  bool deleted = false;  // DELETE /v1/apiKeys/{uid}; kept for /__sim/state
  std::int64_t created_ms = 0;
  std::int64_t modified_ms = 0;
  std::int64_t expiry_ms = 0;
};

// A Palette team (v1Team). Members are user uids (spec.users).
struct SimTeam {
  std::string uid;
  std::string name;
  std::vector<std::string> user_uids;
  std::vector<std::string> role_uids;
  std::int64_t created_ms = 0;
};

struct SimSelf {
  std::string user_uid;
  std::string tenant_uid;
  std::string org_name;
};

class SimState {
 public:
  // Builds the tenant from a seed document (format in README.md). `now_ms`
  // fills createdAt/expiry defaults. Throws std::invalid_argument naming the
  // offending entry when the seed is malformed (missing uid, duplicate uid,
  // bad time, wrong type).
  static SimState from_seed(const Json& seed, std::int64_t now_ms);

  const SimSelf& self() const { return self_; }
  // The seed's "apiKey", "" when absent.
  const std::string& seed_api_key() const { return seed_api_key_; }

  // --- API views -----------------------------------------------------------
  Json user_info() const;  // v1UserInfo
  // Users that are not deleted, in seed/insertion order.
  std::vector<const SimUser*> listed_users() const;
  // nullptr when unknown or deleted.
  const SimUser* find_user(std::string_view uid) const;
  // Keys that are not deleted, in insertion order.
  std::vector<const SimKey*> listed_keys() const;
  SimKey* find_key(std::string_view uid);  // nullptr when unknown or deleted

  // Teams in seed/insertion order.
  const std::vector<SimTeam>& teams() const { return teams_; }

  Json user_json(const SimUser& user) const;  // v1User
  // v1Team. spec.users leaves out deleted users: Palette's user deletion
  // removes the user "from the tenant and all associated teams".
  Json team_json(const SimTeam& team) const;
  const SimTeam* find_team(std::string_view uid) const;  // nullptr when unknown
  Json key_json(const SimKey& key) const;     // v1ApiKey

  // --- changes -------------------------------------------------------------
  void set_key_active(SimKey& key, bool active, std::int64_t now_ms);
  void delete_key(SimKey& key, std::int64_t now_ms);

  // Adds users, or replaces those with the same uid (a replaced deleted user
  // comes back). Entries as in the seed's "users". All-or-nothing: throws
  // std::invalid_argument and changes nothing when one entry is bad.
  void upsert_users(const Json& users, std::int64_t now_ms);
  // Marks the user deleted: gone from the listing and from GET by uid; their
  // keys stay. False when unknown or already deleted.
  bool delete_user(std::string_view uid);
  // Adds keys, or replaces those with the same uid. Like upsert_users.
  void upsert_keys(const Json& keys, std::int64_t now_ms);

  // Adds teams, or replaces those with the same uid (its members with them).
  // Entries as in the seed's "teams". All-or-nothing, like upsert_users.
  void upsert_teams(const Json& teams, std::int64_t now_ms);
  // Removes the team. False when unknown.
  bool delete_team(std::string_view uid);

  // The whole tenant for GET /__sim/state, deleted entries included.
  Json dump() const;

 private:
  SimUser* find_any_user(std::string_view uid);
  const SimUser* find_any_user(std::string_view uid) const;

  SimSelf self_;
  std::string seed_api_key_;
  // Entries are never erased (deletion is a flag), so indexes stay valid.
  std::vector<SimUser> users_;
  std::vector<SimKey> keys_;
  std::vector<SimTeam> teams_;  // erased on delete: nothing indexes it
  std::unordered_map<std::string, std::size_t> user_index_;
  std::unordered_map<std::string, std::size_t> key_index_;
};

}  // namespace palette_sim

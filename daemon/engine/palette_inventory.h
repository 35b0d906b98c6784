// Palette's side of the picture, as the Palette client reads it. Only the
// Palette client knows Palette's JSON; everyone else sees these structs.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/engine/time_point.h"

namespace keywarden {

struct PaletteKey {
  std::string uid;
  std::string name;
  std::string owner_uid;  // spec.user.uid
  bool active = true;     // status.isActive
  Timestamp created_at{};
  std::optional<Timestamp> expiry;  // spec.expiry; nullopt when absent or zero time
};

struct PaletteUser {
  std::string uid;
  std::string email;  // normalized spec.emailId
  bool active = true;
  // Names of the Palette teams that list this user (GET /v1/teams,
  // spec.users), sorted. nullopt when the read did not list teams: then
  // nothing can be said about team membership (SPEC §9), neither that a
  // membership is stale nor that it ended. Kept on the user, not beside the
  // users, so that any copy of a user carries what was read about them.
  std::optional<std::vector<std::string>> teams;
};

// One consistent read of Palette: who we are, every user (with their teams),
// every key.
struct PaletteInventory {
  std::string self_user_uid;  // GET /v1/users/info userUid
  std::string tenant_uid;
  std::vector<PaletteKey> keys;
  std::unordered_map<std::string, PaletteUser> users_by_uid;
  // Why the team listing could not be read ("" when it was). Teams are
  // secondary: a failed team listing leaves every user's `teams` nullopt
  // rather than failing the whole read, so leavers are still revoked.
  std::string teams_error;
};

}  // namespace keywarden

// Palette's JSON, read into the structs of daemon/engine/palette_inventory.h
// (reference/palette-api.md §2-§5). Only the Palette client uses this.
//
// Every parser is all-or-nothing: a body that is not JSON, lacks `items`, or
// holds an item without a uid, a malformed time or a field of the wrong type
// throws PaletteFormatError. A caller never sees part of a page.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/palette_inventory.h"

namespace keywarden {

class PaletteFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GET /v1/users/info. userUid and tenantUid are required: without them the
// daemon could not tell its own keys apart.
struct PaletteUserInfo {
  std::string org_name;
  std::string tenant_uid;
  std::string user_uid;
};
PaletteUserInfo parse_user_info(std::string_view body);

// One page of GET /v1/users. `continue_token` is "" on the last page.
// Emails are normalized (identity.h); status.isActive defaults to true.
struct PaletteUsersPage {
  std::vector<PaletteUser> users;
  std::string continue_token;
};
PaletteUsersPage parse_users_page(std::string_view body);

// One team of GET /v1/teams (v1Team): metadata.uid, metadata.name and
// spec.users, the uids of its members (reference/palette-api.md §3.1).
struct PaletteTeam {
  std::string uid;
  std::string name;
  std::vector<std::string> user_uids;
};
// One page of GET /v1/teams. A team without a name, or whose spec.users is
// not an array of strings, spoils the page: a team silently read as empty
// would look like every member removed from it.
struct PaletteTeamsPage {
  std::vector<PaletteTeam> teams;
  std::string continue_token;
};
PaletteTeamsPage parse_teams_page(std::string_view body);

// One page of GET /v1/apiKeys (the spec has no paging, but a listmeta.continue
// is reported if it ever appears). An absent, empty or zero-time
// ("0001-01-01T00:00:00.000Z") expiry is nullopt. creationTimestamp is
// required: a made-up creation time could make a key look too old.
struct PaletteKeysPage {
  std::vector<PaletteKey> keys;
  std::string continue_token;
};
PaletteKeysPage parse_keys_page(std::string_view body);

// A V1Error body {"code","message","ref","details"}; nullopt when the body is
// not one (not JSON, or neither code nor message). Never throws.
struct PaletteApiError {
  std::string code;
  std::string message;
  std::string ref;
};
std::optional<PaletteApiError> parse_api_error(std::string_view body);

// The body of PUT /v1/apiKeys/{uid}/state: {"isActive":false} or
// {"isActive":true}, the field always written out (the Go SDK drops false).
std::string key_state_body(bool active);

}  // namespace keywarden

// keywarden's SCIM 2.0 service provider (RFC 7643/7644) for one `scim`
// source, as a library: the HTTP layer hands it one request at a time and
// sends back what it returns. It speaks the dialects of Microsoft Entra ID,
// Okta and OneLogin (reference/idp-protocols.md §1) and turns their pushes
// into identity facts through a ScimRepository:
// - a User is an Identity: subject = SCIM id, email = primary, else work,
//   else first email, else userName when it holds '@'; inactive when
//   "active" is false; groups = display names of the groups that list it;
// - DELETE /Users/{id} makes the identity `deleted` ("SCIM DELETE") and
//   removes the user from every group;
// - a group change sets memberships (by display name) on and off for the
//   members it adds or removes; a rename moves them; a DELETE ends them.
//
// Endpoints (relative to the source's base): /Users, /Users/{id}, /Groups,
// /Groups/{id}, /Users/.search, /Groups/.search, /ServiceProviderConfig,
// /ResourceTypes[/{id}], /Schemas[/{id}]. /Bulk and /Me answer 501; other
// paths 404; a method a path does not serve, 405 with Allow.
#pragma once

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "connectors/scim/scim_message.h"
#include "connectors/scim/scim_repository.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

struct ScimServiceOptions {
  // ServiceProviderConfig filter.maxResults: the largest page served, and the
  // page size when a request gives no `count`. Larger counts are clamped.
  int max_results = 1000;
  // Request bodies nesting arrays/objects deeper than this are rejected
  // (400 invalidSyntax) before they are parsed.
  int max_json_depth = 32;
  // Makes the id of a new resource; random UUIDs when empty. Tests and the
  // fuzzer inject a deterministic one.
  std::function<std::string()> new_id;
  // A group PATCH that adds or removes more members than this by value
  // lists is carried out in steps of this many (ScimResponse::rest), so
  // that a caller can commit between them and let other requests in.
  // A multiple of the store's largest batch (row_batches.h, 256 rows per
  // statement): at 500 each step also ran the 32- and 4-row statements
  // 12 times over, and 100,000 members took a fifth longer.
  size_t members_per_step = 512;
};

// What is left of a group PATCH carried out in steps: its parts still to
// apply, in order.
struct ScimPatchRest {
  std::string group_id;
  std::deque<nlohmann::json> parts;
};

// A new UUID, lower-case, version 7 (time-ordered, 74 random bits):
// "019d6b2c-3f10-7a3e-9d1f-413861904646".
std::string random_scim_id();

// True when the request creates a resource: a POST to the Users or Groups
// endpoint (segments and case as ScimService routes them), what an IdP's
// initial cycle sends by the thousand.
bool scim_creates_resource(std::string_view method, std::string_view path);

class ScimService {
 public:
  explicit ScimService(ScimServiceOptions options = {});

  // Answers one request. Synchronous; it calls `repository` several times
  // and opens no transaction: run it inside the caller's transaction, and
  // commit before sending a 2xx (SPEC §5 durability). Client mistakes are
  // answered with the SCIM error schema and write nothing. Throws only what
  // `repository` throws (the caller answers 500 and rolls back).
  // `now` stamps meta.created/lastModified and the identity facts.
  // Safe to call from several threads with different repositories.
  ScimResponse handle(const ScimRequest& request, ScimRepository& repository, Timestamp now) const;

  // Carries out the next step of a group PATCH that handle() (or an earlier
  // step) left unfinished, like handle() but without the If-Match check,
  // which the first step made: the group has moved on since.
  ScimResponse continue_patch(ScimPatchRest rest, ScimRepository& repository, Timestamp now) const;

 private:
  ScimServiceOptions options_;
};

}  // namespace keywarden

// One SCIM request as the HTTP layer hands it over, and the answer it sends
// back. Plain data: no networking here.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keywarden {

struct ScimRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE (any case)
  // Relative to the source's SCIM base and percent-decoded: "/Users",
  // "/Users/2819c223", "/Groups", "/ServiceProviderConfig".
  std::string path;
  // Decoded query parameters ("filter", "startIndex", "count", "attributes",
  // "excludedAttributes"); the service matches names case-insensitively.
  std::map<std::string, std::string> query;
  std::string body;
  // The absolute URL of the source's SCIM base, without a trailing slash, for
  // meta.location and Location: "https://kw.example.com/scim/v2/corp-entra".
  std::string base_url;
  std::string if_match;       // the If-Match header; "" when absent
  std::string if_none_match;  // the If-None-Match header; "" when absent
};

struct ScimPatchRest;  // scim_service.h

struct ScimResponse {
  int status = 200;
  std::string body;  // empty for 204 and 304
  std::string content_type = "application/scim+json";
  std::vector<std::pair<std::string, std::string>> headers;  // ETag, Location, Allow
  // Normalized emails whose entitlement this request may have changed: the
  // user written or deleted (its old and new email), and every member a group
  // change touched. The daemon reconciles their keys at once.
  std::set<std::string> affected_emails;
  // True when the request made or kept someone a leaver: it set a user's
  // active to false (also when it already was: a retry must still act),
  // deleted a user, or removed a member from a group (including by renaming
  // or deleting the group).
  bool deprovisioned = false;
  // Set on a 2xx answer to a group PATCH too large for one step: what is
  // left of it. ScimService::continue_patch carries it out, and the answer
  // to send is the last step's.
  std::shared_ptr<ScimPatchRest> rest;
};

// Builds a request from an HTTP request target relative to the source's base
// ("/Users?filter=userName%20eq%20%22a%40b.c%22&startIndex=1&count=100"):
// splits path and query, percent-decodes both, and reads '+' in the query
// as a space. A malformed escape is kept as it is.
ScimRequest make_scim_request(std::string method, std::string_view target, std::string body,
                              std::string base_url);

}  // namespace keywarden

// Okta Event Hooks (SPEC §6 /hooks/okta/<source>): the one-time verification
// GET and the POST deliveries, answered synchronously with what they mean.
//
// Okta authenticates itself with a static header (not a signature): every
// request, the verification GET included, must carry the configured header
// with the configured secret, or it is answered 401 and nothing is stored.
#pragma once

#include <string>
#include <string_view>

#include "connectors/source.h"

namespace keywarden {

struct OktaHookSettings {
  std::string header;  // the auth header's name, any case
  std::string secret;  // its expected value; empty refuses every request
};

// True when `presented` equals `expected` (secret_matches: constant time, an
// empty `expected` matches nothing).
bool hook_secret_matches(std::string_view presented, std::string_view expected);

// Answers one hook request. Never throws for bad input:
// - wrong or missing auth header → 401, nothing read or stored;
// - path other than "" or "/" → 404; method other than GET or POST → 405;
// - GET with X-Okta-Verification-Challenge → 200 {"verification": value}
//   (application/json); without it → 400;
// - POST whose Content-Type is not JSON → 415; malformed JSON, or no
//   data.events array, or an event that is not an object or lacks uuid or
//   eventType → 400 with nothing stored (Okta never retries a 4xx; System
//   Log polling is the backstop);
// - a good POST: events in `published` order, each with an effect
//   (okta_events.h) reported once per uuid (one not seen before goes into
//   changes.event_ids): status changes as identity upserts (groups
//   untouched; the email and userName keywarden already knows are kept, the
//   event's login fills them for someone new), memberships as membership
//   changes with the login as hints. Answers 200 with an empty body and no
//   Content-Type.
// Store failures (StoreError) propagate: the caller's transaction must roll
// back, and Okta's retry will deliver the events again.
PushResponse handle_okta_hook(const PushRequest& request, const PushContext& context, const OktaHookSettings& settings);

}  // namespace keywarden

// Microsoft Graph change notifications and lifecycle notifications delivered
// to /hooks/entra/<source> (SPEC §6). Pure request handling over the Store:
// no network I/O, so it can run inside the daemon's store transaction.
#pragma once

#include <optional>
#include <string>

#include "connectors/source.h"

namespace keywarden {

// Answers one request to the hook:
//
// - Validation: a POST (or GET) with the query parameter validationToken
//   answers 200, text/plain, with the token exactly as decoded from the query
//   (Graph rejects an encoded echo). Nothing is stored.
// - Notifications: {"value":[…]}. Each item's clientState is compared in
//   constant time with `client_state`; items that do not match (or every
//   item, when `client_state` is unset) are ignored and counted, never
//   failing the batch. A matching change notification not seen before is
//   remembered (its id in changes.event_ids, so a redelivery has no second
//   effect: see graph_notifications.cc for the key) and asks for an
//   incremental read at once (read_changes_now); a `deleted` user we know is
//   reported deleted right away (changes.identities). A matching lifecycle
//   notification records what the subscription needs (changes.cursors, see
//   graph_subscriptions.h): reauthorizationRequired → reauthorize,
//   subscriptionRemoved → recreate; missed → read_changes_now.
//   Answers 202 with {"accepted","duplicates","ignored","lifecycle"} counts.
// - A body that is not JSON, or has no "value" array: 400. Another method
//   without a validationToken: 405. Never throws for bad input (a StoreError
//   propagates: the daemon then answers 5xx and Graph delivers again).
PushResponse handle_graph_push(const std::optional<std::string>& client_state,
                               const PushRequest& request, const PushContext& context);

// True when `a` equals `b` (secret_matches: constant time; an empty `b`
// matches nothing).
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace keywarden

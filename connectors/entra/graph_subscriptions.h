// Microsoft Graph change-notification subscriptions of one entra source: the
// state kept with the source's other stored values, and the job that
// creates, renews and reauthorizes them.
//
// State (the source's stored values):
//   "subscription:users", "subscription:groups"  {"id":…, "expires":RFC 3339}
//   "reauthorize:<id>"  "1" after a reauthorizationRequired lifecycle event
//   "recreate:<id>"     "1" after a subscriptionRemoved lifecycle event
// Lifecycle notifications write only the flags; only the job writes the
// subscriptions, so a notification arriving while the job awaits Graph is
// never overwritten.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <string>

#include "connectors/entra/graph_client.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

// How long subscriptions live and when they are renewed. Graph allows user
// and group subscriptions under 41,760 minutes (29 days).
struct SubscriptionPolicy {
  std::chrono::seconds lifetime = std::chrono::hours(24 * 4);
  std::chrono::seconds renew_before = std::chrono::hours(24);  // renew when less than this remains
};

// For "users" and "groups": creates the subscription when there is none, it
// expired, or Graph removed it (POST /v1.0/subscriptions, changeType
// "updated,deleted", notificationUrl = lifecycleNotificationUrl =
// `notification_url`, clientState = `client_state`); reauthorizes it when a
// lifecycle notification asked (POST /subscriptions/{id}/reauthorize);
// renews it with PATCH when less than renew_before remains. A subscription
// Graph no longer knows (404) is created again. `stored` is the source's
// stored state; the result holds the values to store (whatever succeeded)
// and, when a step failed, `error` naming what failed after trying both
// resources.
//
// Graph validates notification_url while it creates a subscription, so the
// daemon's HTTP server must be answering /hooks/entra/<source> meanwhile.
struct SubscriptionUpkeep {
  std::map<std::string, std::string> cursors;  // values to store
  std::string error;                           // empty when every step succeeded
};
boost::asio::awaitable<SubscriptionUpkeep> maintain_graph_subscriptions(GraphClient& graph,
                                                                        std::map<std::string, std::string> stored,
                                                                        std::string notification_url,
                                                                        std::string client_state, Timestamp now,
                                                                        SubscriptionPolicy policy);

}  // namespace keywarden

#include "connectors/entra/graph_subscriptions.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "connectors/entra/graph_delta.h"

namespace keywarden {

namespace net = boost::asio;
using nlohmann::json;

namespace {

struct StoredSubscription {
  std::string id;
  Timestamp expires{};
};

// The source's stored values with this run's updates on top.
class SubscriptionState {
 public:
  SubscriptionState(const std::map<std::string, std::string>& stored, std::map<std::string, std::string>& updates)
      : stored_(stored), updates_(updates) {}
  std::optional<std::string> get(const std::string& name) const {
    if (auto it = updates_.find(name); it != updates_.end()) return it->second;
    if (auto it = stored_.find(name); it != stored_.end()) return it->second;
    return std::nullopt;
  }
  void set(const std::string& name, const std::string& value) { updates_[name] = value; }

 private:
  const std::map<std::string, std::string>& stored_;
  std::map<std::string, std::string>& updates_;
};

std::optional<StoredSubscription> load_subscription(const SubscriptionState& state, const std::string& resource) {
  const std::optional<std::string> text = state.get("subscription:" + resource);
  if (!text || text->empty()) return std::nullopt;
  const json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("id") || !doc["id"].is_string() || !doc.contains("expires") ||
      !doc["expires"].is_string()) {
    return std::nullopt;
  }
  const std::optional<Timestamp> expires = parse_rfc3339(doc["expires"].get<std::string>());
  if (!expires) return std::nullopt;
  return StoredSubscription{doc["id"].get<std::string>(), *expires};
}

void save_subscription(SubscriptionState& state, const std::string& resource, const StoredSubscription& subscription) {
  const json doc = {{"id", subscription.id}, {"expires", format_rfc3339(subscription.expires)}};
  state.set("subscription:" + resource, doc.dump());
}

bool flag_set(const SubscriptionState& state, const std::string& name) {
  const std::optional<std::string> value = state.get(name);
  return value && *value == "1";
}

// The subscription object of a 200/201 answer; `fallback_expiry` when Graph
// left expirationDateTime out.
std::optional<StoredSubscription> parse_subscription(const std::string& body, Timestamp fallback_expiry) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("id") || !doc["id"].is_string() || doc["id"].get<std::string>().empty()) {
    return std::nullopt;
  }
  StoredSubscription out{doc["id"].get<std::string>(), fallback_expiry};
  if (doc.contains("expirationDateTime") && doc["expirationDateTime"].is_string()) {
    if (auto t = parse_rfc3339(doc["expirationDateTime"].get<std::string>())) out.expires = *t;
  }
  return out;
}

}  // namespace

net::awaitable<SubscriptionUpkeep> maintain_graph_subscriptions(GraphClient& graph,
                                                                std::map<std::string, std::string> stored,
                                                                std::string notification_url, std::string client_state,
                                                                Timestamp now, SubscriptionPolicy policy) {
  SubscriptionUpkeep result;
  SubscriptionState state(stored, result.cursors);
  const Timestamp new_expiry = now + policy.lifetime;
  std::vector<std::string> errors;
  const std::vector<std::string> resources = {"users", "groups"};
  for (const std::string& resource : resources) {
    try {
      std::optional<StoredSubscription> current = load_subscription(state, resource);
      // Graph drops an expired subscription; one about to expire is cheaper
      // to replace than to race.
      bool create = !current || flag_set(state, "recreate:" + current->id) ||
                    current->expires <= now + std::chrono::minutes(5);

      if (!create && flag_set(state, "reauthorize:" + current->id)) {
        auto op = graph.send("POST", "/v1.0/subscriptions/" + url_encode(current->id) + "/reauthorize");
        const GraphResponse r = co_await std::move(op);
        if (r.status == 404) {
          create = true;
        } else if (r.status / 100 != 2) {
          throw SourceReadError(graph_http_failure("reauthorize subscription for " + resource, r));
        } else {
          state.set("reauthorize:" + current->id, "");
        }
      }

      if (!create && current->expires - now < policy.renew_before) {
        const json body = {{"expirationDateTime", format_rfc3339(new_expiry)}};
        auto op = graph.send("PATCH", "/v1.0/subscriptions/" + url_encode(current->id), body.dump());
        const GraphResponse r = co_await std::move(op);
        if (r.status == 404) {
          create = true;
        } else if (r.status / 100 != 2) {
          throw SourceReadError(graph_http_failure("renew subscription for " + resource, r));
        } else {
          StoredSubscription renewed{current->id, new_expiry};
          if (auto parsed = parse_subscription(r.body, new_expiry)) renewed.expires = parsed->expires;
          save_subscription(state, resource, renewed);
          state.set("reauthorize:" + current->id, "");  // a renewal reauthorizes too
        }
      }

      if (create) {
        const json body = {{"changeType", "updated,deleted"},
                           {"notificationUrl", notification_url},
                           {"lifecycleNotificationUrl", notification_url},
                           {"resource", resource},
                           {"expirationDateTime", format_rfc3339(new_expiry)},
                           {"clientState", client_state}};
        auto op = graph.send("POST", "/v1.0/subscriptions", body.dump());
        const GraphResponse r = co_await std::move(op);
        if (r.status / 100 != 2) throw SourceReadError(graph_http_failure("create subscription for " + resource, r));
        const std::optional<StoredSubscription> created = parse_subscription(r.body, new_expiry);
        if (!created) throw SourceReadError("create subscription for " + resource + ": the answer has no id");
        save_subscription(state, resource, *created);
        if (current) {
          state.set("recreate:" + current->id, "");
          state.set("reauthorize:" + current->id, "");
        }
      }
    } catch (const SourceReadError& e) {
      std::string text = e.what();
      const std::string prefix = graph.message("");
      if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
      errors.push_back(std::move(text));
    }
  }
  if (!errors.empty()) {
    std::string text;
    for (const auto& e : errors) text += (text.empty() ? "" : "; ") + e;
    result.error = graph.message("subscriptions: " + text);
  }
  co_return result;
}

}  // namespace keywarden

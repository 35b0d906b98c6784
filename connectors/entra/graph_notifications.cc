#include "connectors/entra/graph_notifications.h"

#include <openssl/evp.h>

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "connectors/entra/graph_subscriptions.h"
#include "connectors/secret_match.h"
#include "daemon/base/ascii.h"

namespace keywarden {

namespace {

using nlohmann::json;

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

std::string string_field(const json& item, const char* name) {
  const auto it = item.find(name);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The key a change notification is remembered under. Graph gives an "id" to
// some notifications: then it is the key. Directory notifications have none,
// and two real changes of one user give identical items, so the key is a
// digest of the fields plus the minute it arrived in: a key without the
// minute would swallow the second change for good. Within the minute a
// redelivery does nothing; later, a replay costs one more incremental read.
std::string event_id(const json& item, Timestamp now) {
  const std::string id = string_field(item, "id");
  if (!id.empty()) return "graph-notification:" + string_field(item, "subscriptionId") + ":" + id;
  std::string resource_id;
  if (const auto data = item.find("resourceData"); data != item.end() && data->is_object()) {
    resource_id = string_field(*data, "id");
  }
  const std::string fields = string_field(item, "subscriptionId") + "\n" + string_field(item, "changeType") + "\n" +
                             string_field(item, "resource") + "\n" + resource_id + "\n" +
                             string_field(item, "tenantId") + "\n" +
                             string_field(item, "subscriptionExpirationDateTime");
  const auto minute = std::chrono::floor<std::chrono::minutes>(now).time_since_epoch().count();
  return "graph-notification:" + sha256_hex(fields) + ":" + std::to_string(minute);
}

// The object id of a user a notification is about, or "" when it is about
// something else. Graph writes resource "Users/{id}" and resourceData
// {"@odata.type":"#Microsoft.Graph.User","id":…}.
std::string user_id_of(const json& item) {
  std::string type;
  std::string id;
  if (const auto data = item.find("resourceData"); data != item.end() && data->is_object()) {
    type = ascii_lower(string_field(*data, "@odata.type"));
    id = string_field(*data, "id");
  }
  const std::string resource = string_field(item, "resource");
  const bool user_resource = ascii_lower(resource).rfind("users/", 0) == 0 || ascii_lower(resource).rfind("/users/", 0) == 0;
  if (type != "#microsoft.graph.user" && !(type.empty() && user_resource)) return "";
  if (id.empty() && user_resource) id = resource.substr(resource.find('/', 1) + 1);
  return id.find('/') == std::string::npos ? id : "";
}

PushResponse answer(int status, json body) {
  PushResponse response;
  response.status = status;
  response.body = body.dump();
  return response;
}

PushResponse error(int status, const std::string& message) { return answer(status, json{{"error", message}}); }

// A user Graph says was deleted: deleted at once (the store keeps the names
// it had), so the revoke need not wait for the next read.
void mark_user_deleted(const std::string& subject_id, const PushContext& context, PushResponse& response) {
  const std::optional<IdentityRecord> known = context.known.identity(subject_id);
  if (!known || known->status == IdentityStatus::deleted) return;
  Identity identity;
  identity.subject_id = known->subject_id;
  identity.status = IdentityStatus::deleted;
  identity.status_detail = "deleted (Graph change notification)";
  response.changes.identities.push_back(std::move(identity));
}

}  // namespace

bool constant_time_equal(const std::string& a, const std::string& b) { return secret_matches(a, b); }

PushResponse handle_graph_push(const std::optional<std::string>& client_state, const PushRequest& request,
                               const PushContext& context) {
  if (const auto token = request.query_params.find("validationToken"); token != request.query_params.end()) {
    if (request.method != "POST" && request.method != "GET") return error(405, "use POST");
    PushResponse response;
    response.status = 200;
    response.content_type = "text/plain";
    response.headers["X-Content-Type-Options"] = "nosniff";
    response.body = token->second;  // already URL-decoded; echoed verbatim
    return response;
  }
  if (request.method != "POST") {
    PushResponse response = error(405, "Graph delivers notifications with POST");
    response.headers["Allow"] = "POST";
    return response;
  }
  const json doc = json::parse(request.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return error(400, "the body is not a JSON object");
  const auto value = doc.find("value");
  if (value == doc.end() || !value->is_array()) return error(400, "the body has no \"value\" array");

  PushResponse response;
  response.status = 202;
  int accepted = 0, duplicates = 0, ignored = 0, lifecycle = 0;
  std::set<std::string> this_delivery;
  for (const auto& item : *value) {
    if (!item.is_object()) {
      ++ignored;
      continue;
    }
    const auto state = item.find("clientState");
    if (!client_state || state == item.end() || !state->is_string() ||
        !constant_time_equal(state->get_ref<const std::string&>(), *client_state)) {
      ++ignored;  // not from our subscription: a rogue sender, or a stale one
      continue;
    }
    const std::string subscription = string_field(item, "subscriptionId");
    if (const std::string event = string_field(item, "lifecycleEvent"); !event.empty()) {
      ++lifecycle;
      if (event == "reauthorizationRequired" && !subscription.empty()) {
        response.changes.cursors["reauthorize:" + subscription] = "1";
      } else if (event == "subscriptionRemoved" && !subscription.empty()) {
        response.changes.cursors["recreate:" + subscription] = "1";
        response.read_changes_now = true;  // nothing was delivered meanwhile
      } else if (event == "missed") {
        response.read_changes_now = true;
      }
      continue;
    }
    const std::string id = event_id(item, context.now);
    if (context.known.event_seen(id) || !this_delivery.insert(id).second) {
      ++duplicates;
      continue;
    }
    response.changes.event_ids.push_back(id);
    ++accepted;
    response.read_changes_now = true;  // notifications carry no attributes: delta tells what changed
    if (ascii_lower(string_field(item, "changeType")) == "deleted") {
      if (const std::string user = user_id_of(item); !user.empty()) mark_user_deleted(user, context, response);
    }
  }
  json body = {{"accepted", accepted}, {"duplicates", duplicates}, {"ignored", ignored}, {"lifecycle", lifecycle}};
  if (ignored > 0) {
    body["ignored_reason"] = client_state ? "clientState missing or not ours" : "no client_state configured";
  }
  response.body = body.dump();
  return response;
}

}  // namespace keywarden

#include "connectors/okta/okta_hook.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "connectors/okta/okta_events.h"
#include "connectors/secret_match.h"
#include "daemon/base/ascii.h"

namespace keywarden {

namespace {

// Okta batches events; a delivery far beyond this is not from Okta.
constexpr size_t kMaxDeliveryBytes = 8 * 1024 * 1024;

PushResponse answer(int status, std::string error) {
  PushResponse r;
  r.status = status;
  r.body = nlohmann::json{{"error", std::move(error)}}.dump();
  return r;
}

std::string email_from_login(const std::string& login) {
  return login.find('@') != std::string::npos ? login : std::string();
}

// A status change: the names keywarden already knows are kept (an empty
// name keeps the stored one); the event's login fills them for someone new.
void report_status(const OktaEventEffect& effect, const PushContext& context, PushResponse& response) {
  const std::optional<IdentityRecord> known = context.known.identity(effect.subject_id);
  Identity identity;
  identity.subject_id = effect.subject_id;
  if (!known || known->user_name.empty()) identity.user_name = effect.subject_login;
  if (!known || known->email.empty()) identity.email = email_from_login(effect.subject_login);
  identity.status = effect.status;
  identity.status_detail = effect.status_detail;
  response.changes.identities.push_back(std::move(identity));
}

// Someone keywarden has not read yet is recorded with what the event says of
// them (the hints), so that the membership joins a person with an email.
void report_membership(const OktaEventEffect& effect, PushResponse& response) {
  response.changes.memberships.push_back(MembershipChange{effect.subject_id, effect.group, effect.member,
                                                          effect.subject_login, email_from_login(effect.subject_login)});
}

}  // namespace

bool hook_secret_matches(std::string_view presented, std::string_view expected) {
  return secret_matches(presented, expected);
}

PushResponse handle_okta_hook(const PushRequest& request, const PushContext& context, const OktaHookSettings& settings) {
  const auto auth = request.headers.find(ascii_lower(settings.header));
  if (settings.secret.empty() || auth == request.headers.end() || !hook_secret_matches(auth->second, settings.secret)) {
    return answer(401, "missing or wrong " + settings.header + " header");
  }
  if (!request.path.empty() && request.path != "/") return answer(404, "no such hook path");

  if (request.method == "GET") {
    // Okta's one-time verification: echo the challenge as JSON.
    const auto challenge = request.headers.find("x-okta-verification-challenge");
    if (challenge == request.headers.end()) return answer(400, "no X-Okta-Verification-Challenge header");
    PushResponse r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = nlohmann::json{{"verification", challenge->second}}.dump(-1, ' ', false,
                                                                        nlohmann::json::error_handler_t::replace);
    return r;
  }
  if (request.method != "POST") {
    PushResponse r = answer(405, "Okta Event Hooks use GET (verification) and POST (delivery)");
    r.headers["Allow"] = "GET, POST";
    return r;
  }

  const auto type = request.headers.find("content-type");
  if (type == request.headers.end() || ascii_lower(type->second).rfind("application/json", 0) != 0) {
    return answer(415, "an Event Hook delivery is application/json");
  }
  if (request.body.size() > kMaxDeliveryBytes) return answer(413, "delivery too large");
  const nlohmann::json doc = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return answer(400, "malformed JSON");
  const auto data = doc.is_object() ? doc.find("data") : doc.end();
  if (!doc.is_object() || data == doc.end() || !data->is_object()) return answer(400, "no \"data\" object");
  const auto events = data->find("events");
  if (events == data->end() || !events->is_array()) return answer(400, "no \"data.events\" array");

  // Everything is checked before anything is stored: a bad delivery changes nothing.
  std::vector<OktaLogEvent> parsed;
  parsed.reserve(events->size());
  for (size_t i = 0; i < events->size(); ++i) {
    try {
      parsed.push_back(parse_log_event((*events)[i]));
    } catch (const OktaFormatError& e) {
      return answer(400, "data.events[" + std::to_string(i) + "]: " + e.what());
    }
    if (parsed.back().uuid.empty()) return answer(400, "data.events[" + std::to_string(i) + "] has no uuid");
  }
  sort_by_published(parsed);

  PushResponse response;
  response.status = 200;
  response.content_type.clear();
  std::set<std::string> this_delivery;
  for (const OktaLogEvent& event : parsed) {
    if (!event.effect) continue;
    // At-least-once delivery: a uuid seen before has had its effect.
    if (context.known.event_seen(event.uuid) || !this_delivery.insert(event.uuid).second) continue;
    response.changes.event_ids.push_back(event.uuid);
    if (event.effect->kind == OktaEventEffect::Kind::status) {
      report_status(*event.effect, context, response);
    } else {
      report_membership(*event.effect, response);
    }
  }
  return response;
}

}  // namespace keywarden

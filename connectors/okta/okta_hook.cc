#include "connectors/okta/okta_hook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "connectors/okta/okta_events.h"
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

bool sha256(std::string_view text, std::array<unsigned char, 32>& digest) {
  unsigned int size = 0;
  return EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) == 1 &&
         size == digest.size();
}

std::string email_from_login(const std::string& login) {
  return login.find('@') != std::string::npos ? login : std::string();
}

void apply_status(const OktaEventEffect& effect, PushContext& context, const std::string& source,
                  PushResponse& response) {
  Identity identity;
  identity.subject_id = effect.subject_id;
  if (auto known = context.store.load_identity(source, effect.subject_id)) {
    identity.user_name = known->user_name;
    identity.email = known->email;
  }
  if (identity.user_name.empty()) identity.user_name = effect.subject_login;
  if (identity.email.empty()) identity.email = email_from_login(effect.subject_login);
  identity.status = effect.status;
  identity.status_detail = effect.status_detail;
  context.store.apply_identity_update(source, identity, /*groups_known=*/false, context.now);
  if (!identity.email.empty()) response.affected_emails.insert(normalize_email(identity.email));
}

void apply_membership(const OktaEventEffect& effect, PushContext& context, const std::string& source,
                      PushResponse& response) {
  auto known = context.store.load_identity(source, effect.subject_id);
  if (!known) {
    // Someone keywarden has not read yet: record what the event says of them,
    // so that the membership joins a person with an email.
    Identity identity;
    identity.subject_id = effect.subject_id;
    identity.user_name = effect.subject_login;
    identity.email = email_from_login(effect.subject_login);
    context.store.apply_identity_update(source, identity, /*groups_known=*/false, context.now);
  }
  context.store.set_membership(source, effect.subject_id, effect.group, effect.member, context.now);
  const std::string email = known && !known->email.empty() ? known->email : email_from_login(effect.subject_login);
  if (!email.empty()) response.affected_emails.insert(normalize_email(email));
}

}  // namespace

bool hook_secret_matches(std::string_view presented, std::string_view expected) {
  std::array<unsigned char, 32> a{}, b{};
  if (!sha256(presented, a) || !sha256(expected, b)) return false;
  const bool equal = CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
  return equal && !expected.empty();
}

PushResponse handle_okta_hook(const PushRequest& request, PushContext& context, const OktaHookSettings& settings) {
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
  for (const OktaLogEvent& event : parsed) {
    if (!event.effect) continue;
    // At-least-once delivery: a uuid seen before has had its effect.
    if (!context.store.remember_event(settings.source, event.uuid, context.now)) continue;
    if (event.effect->kind == OktaEventEffect::Kind::status) {
      apply_status(*event.effect, context, settings.source, response);
    } else {
      apply_membership(*event.effect, context, settings.source, response);
    }
  }
  return response;
}

}  // namespace keywarden

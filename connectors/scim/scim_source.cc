#include "connectors/scim/scim_source.h"

#include <nlohmann/json.hpp>

#include "connectors/scim/store_scim_repository.h"
#include "connectors/secret_match.h"

namespace keywarden {

namespace {

PushResponse scim_error(int status, const std::string& detail) {
  PushResponse r;
  r.status = status;
  r.content_type = "application/scim+json";
  r.body = nlohmann::json{{"schemas", {"urn:ietf:params:scim:api:messages:2.0:Error"}},
                          {"status", std::to_string(status)},
                          {"detail", detail}}
               .dump();
  if (status == 401) r.headers["WWW-Authenticate"] = "Bearer realm=\"keywarden\"";
  return r;
}

std::unique_ptr<Source> make(const SourceConfig& config, boost::asio::any_io_executor) {
  return std::make_unique<ScimSource>(config);
}

}  // namespace

const SourceType& scim_source_type() {
  static const SourceType type{
      {"scim",
       {{"token", ValueKind::secret, true, {}, {}, "the bearer token the IdP's SCIM client sends"}},
       {},
       "SCIM 2.0 service provider that Entra ID, Okta or OneLogin push to"},
      "/scim/v2/", "scim",
      &make,
  };
  return type;
}

ScimSource::ScimSource(SourceConfig config) : Source(with_defaults(std::move(config), scim_source_type().schema)) {
  try {
    token_ = read_secret(this->config().secret("token"));
  } catch (const std::exception&) {
    // The daemon refuses to start without it (it reads every secret first);
    // a CLI command that never serves pushes does not need it.
  }
}

std::optional<PushResponse> ScimSource::authorize(const PushRequest& head) const {
  if (token_.empty()) return scim_error(503, "the source's bearer token cannot be read");
  const auto it = head.headers.find("authorization");
  const std::string& authorization = it == head.headers.end() ? std::string() : it->second;
  const std::string presented = authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : "";
  if (presented.empty() || !secret_matches(presented, token_)) {
    return scim_error(401, "a valid bearer token is required");
  }
  return std::nullopt;
}

PushResponse ScimSource::handle_push(const PushRequest& request, const PushContext& context) {
  ScimRequest scim = make_scim_request(request.method, request.path + (request.query.empty() ? "" : "?" + request.query),
                                       request.body, request.base_url);
  if (auto it = request.headers.find("if-match"); it != request.headers.end()) scim.if_match = it->second;
  if (auto it = request.headers.find("if-none-match"); it != request.headers.end()) scim.if_none_match = it->second;
  PushResponse r;
  StoreScimRepository repository(context.resources, context.known, r.changes);  // writes r.changes
  ScimResponse scim_answer = service_.handle(scim, repository, context.now);
  return answer(std::move(scim_answer), std::move(r));
}

bool ScimSource::may_report_departure(const PushRequest& head) const {
  return !scim_creates_resource(head.method, head.path);
}

PushResponse ScimSource::answer(ScimResponse scim, PushResponse r) {
  if (scim.status >= 300) r.changes = IdentityChanges{};
  r.status = scim.status;
  r.body = std::move(scim.body);
  r.content_type = r.body.empty() ? "" : scim.content_type;
  for (auto& [k, v] : scim.headers) r.headers[k] = v;
  if (scim.status < 300 && scim.rest) {
    r.next_step = [this, rest = std::move(scim.rest)](const PushContext& context) {
      PushResponse next;
      StoreScimRepository repository(context.resources, context.known, next.changes);  // writes next.changes
      ScimResponse scim_answer = service_.continue_patch(std::move(*rest), repository, context.now);
      return answer(std::move(scim_answer), std::move(next));
    };
  }
  return r;
}

}  // namespace keywarden

#include "connectors/scim/scim_source.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "connectors/scim/scim_attribute.h"
#include "connectors/scim/store_scim_repository.h"

namespace keywarden {
namespace {

// Equal strings, in time that depends only on their lengths.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

std::string header(const PushRequest& request, const std::string& name) {
  const auto it = request.headers.find(name);
  return it == request.headers.end() ? "" : it->second;
}

PushResponse scim_error(int status, std::string detail) {
  PushResponse response;
  response.status = status;
  response.content_type = "application/scim+json";
  response.body = nlohmann::json{{"schemas", {"urn:ietf:params:scim:api:messages:2.0:Error"}},
                                 {"status", std::to_string(status)},
                                 {"detail", std::move(detail)}}
                      .dump();
  return response;
}

}  // namespace

ScimSource::ScimSource(SourceConfig config) : Source(std::move(config)) {}

boost::asio::awaitable<FullRead> ScimSource::read_all() {
  throw std::logic_error("source \"" + name() +
                         "\" is a SCIM push source: read_all() must not be called for it");
}

PushResponse ScimSource::handle_push(const PushRequest& request, PushContext& context) {
  if (!token_) {
    try {
      token_ = read_secret(config().secret("token"));
    } catch (const std::exception& e) {
      // The message names the file or variable, never the value.
      return scim_error(503, std::string("the SCIM bearer token is unavailable: ") + e.what());
    }
  }
  const std::string authorization = header(request, "authorization");
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size() || !iequals(authorization.substr(0, kBearer.size()), kBearer) ||
      !same_secret(std::string_view(authorization).substr(kBearer.size()), *token_)) {
    PushResponse response = scim_error(401, "a valid bearer token is required");
    response.headers["WWW-Authenticate"] = "Bearer";
    return response;
  }

  std::string host = header(request, "x-forwarded-host");
  if (host.empty()) host = header(request, "host");
  if (host.empty()) host = "localhost";
  std::string scheme = header(request, "x-forwarded-proto");
  if (scheme != "http" && scheme != "https") scheme = "https";

  ScimRequest scim;
  scim.method = request.method;
  scim.path = request.path;
  scim.query = request.query;
  scim.body = request.body;
  scim.base_url = scheme + "://" + host + "/scim/v2/" + name();
  scim.if_match = header(request, "if-match");
  scim.if_none_match = header(request, "if-none-match");

  StoreScimRepository repository(context.store, name());
  ScimResponse answer = service_.handle(scim, repository, context.now);

  PushResponse response;
  response.status = answer.status;
  response.content_type = std::move(answer.content_type);
  response.body = std::move(answer.body);
  for (auto& [name, value] : answer.headers) response.headers[name] = std::move(value);
  response.affected_emails = std::move(answer.affected_emails);
  return response;
}

}  // namespace keywarden

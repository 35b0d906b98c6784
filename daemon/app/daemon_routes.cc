// The daemon's HTTP surface (SPEC §6): health, readiness, metrics, and the
// push routes of each source. This layer knows routes, auth and status codes;
// what a push means is the connector's business.
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "connectors/scim/store_scim_repository.h"
#include "daemon/app/daemon.h"
#include "daemon/app/log.h"

namespace keywarden {

namespace net = boost::asio;

namespace {

// Compares two secrets in constant time, whatever their lengths: both are
// hashed first, and the digests compared with CRYPTO_memcmp.
bool secrets_equal(const std::string& a, const std::string& b) {
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

server::Response json_error(int status, const std::string& message) {
  return server::Response::json(status, nlohmann::json{{"error", message}}.dump());
}

server::Response scim_error(int status, const std::string& detail) {
  server::Response r;
  r.status = status;
  r.content_type = "application/scim+json";
  r.body = nlohmann::json{{"schemas", {"urn:ietf:params:scim:api:messages:2.0:Error"}},
                          {"status", std::to_string(status)},
                          {"detail", detail}}
               .dump();
  if (status == 401) r.headers["WWW-Authenticate"] = "Bearer realm=\"keywarden\"";
  return r;
}

// "/scim/v2/corp/Users/1" with prefix "/scim/v2/" gives {"corp", "/Users/1"}.
std::pair<std::string, std::string> split_source(const std::string& path, const std::string& prefix) {
  const std::string rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash)};
}

std::map<std::string, std::string> decoded_query(const server::Request& request) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  const std::string& q = request.query;
  while (start <= q.size() && !q.empty()) {
    const size_t end = std::min(q.find('&', start), q.size());
    const std::string part = q.substr(start, end - start);
    const size_t eq = part.find('=');
    const std::string name = scim_percent_decode(part.substr(0, eq), true);
    if (!name.empty() && !out.count(name)) {
      out[name] = eq == std::string::npos ? "" : scim_percent_decode(part.substr(eq + 1), true);
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

Source* Daemon::find_source(const std::string& name, const std::string& type) {
  for (auto& s : sources_) {
    if (s->name() == name && s->config().type == type) return s.get();
  }
  return nullptr;
}

net::awaitable<std::optional<server::Response>> Daemon::handle(server::Request request) {
  std::string route_label = "unknown";
  server::Response response;
  try {
    auto op = route(request, route_label);
    response = co_await std::move(op);
  } catch (const std::exception& e) {
    logger().error("request failed", {{"route", route_label}, {"error", e.what()}});
    response = json_error(500, "internal error; nothing was acknowledged");
  }
  metrics_.count("keywarden_http_requests_total", {{"route", route_label}, {"code", std::to_string(response.status)}});
  co_return response;
}

net::awaitable<server::Response> Daemon::route(const server::Request& request, std::string& route_label) {
  const std::string& path = request.path;
  if (path == "/healthz") {
    route_label = "healthz";
    co_return server::Response::text(200, "ok\n");
  }
  if (path == "/readyz") {
    route_label = "readyz";
    co_return readiness();
  }
  if (path == "/metrics") {
    route_label = "metrics";
    if (pushes_) {
      metrics_.set("keywarden_store_commits_total", {}, static_cast<double>(pushes_->commits()));
      metrics_.set("keywarden_store_committed_pushes_total", {}, static_cast<double>(pushes_->items()));
    }
    server::Response r = server::Response::text(200, metrics_.render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    co_return r;
  }
  if (path.rfind("/scim/v2/", 0) == 0) {
    route_label = "scim";
    auto [name, subpath] = split_source(path, "/scim/v2/");
    Source* source = find_source(name, "scim");
    if (!source) co_return scim_error(404, "no SCIM source named \"" + name + "\"");
    auto op = handle_scim(*source, request, subpath);
    co_return co_await std::move(op);
  }
  for (const auto& [prefix, type, label] : {std::tuple{"/hooks/okta/", "okta", "okta_hook"},
                                            std::tuple{"/hooks/entra/", "entra", "entra_hook"},
                                            std::tuple{"/ssf/", "ssf", "ssf"}}) {
    if (path.rfind(prefix, 0) != 0) continue;
    route_label = label;
    auto [name, subpath] = split_source(path, prefix);
    Source* source = find_source(name, type);
    if (!source || !source->accepts_pushes()) co_return json_error(404, "no " + std::string(type) + " source named \"" + name + "\"");
    auto op = handle_push(*source, request, subpath);
    co_return co_await std::move(op);
  }
  co_return json_error(404, "not found");
}

server::Response Daemon::readiness() const {
  nlohmann::json body;
  int status = 200;
  if (!store_) {
    status = 503;
    body = {{"ready", false}, {"reason", "the store is not open"}};
  } else if (!last_reconcile_) {
    status = 503;
    body = {{"ready", false}, {"reason", "no reconcile has completed yet (last result: " + last_result_ + ")"}};
  } else {
    const auto age = now_utc() - *last_reconcile_;
    if (age > 3 * config_.daemon.reconcile_interval) {
      status = 503;
      body = {{"ready", false},
              {"reason", "the last reconcile finished " + std::to_string(age.count()) + "s ago, more than 3 x reconcile_interval"},
              {"last_reconcile", format_rfc3339(*last_reconcile_)}};
    } else {
      body = {{"ready", true}, {"last_reconcile", format_rfc3339(*last_reconcile_)}, {"last_result", last_result_}};
    }
  }
  return server::Response::json(status, body.dump());
}

net::awaitable<server::Response> Daemon::handle_scim(Source& source, const server::Request& request,
                                                     const std::string& subpath) {
  const auto arrived = Clock::now();
  const auto token = push_tokens_.find(source.name());
  const std::string authorization = request.header("authorization").value_or("");
  const std::string presented = authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : "";
  if (token == push_tokens_.end() || presented.empty() || !secrets_equal(presented, token->second)) {
    metrics_.count("keywarden_push_events_total", {{"source", source.name()}, {"result", "unauthorized"}});
    co_return scim_error(401, "a valid bearer token is required");
  }
  const std::string scheme = request.tls ? "https://" : "http://";
  const std::string host = request.header("host").value_or(config_.daemon.listen);
  ScimRequest scim = make_scim_request(request.method, subpath + (request.query.empty() ? "" : "?" + request.query),
                                       request.body, scheme + host + "/scim/v2/" + source.name());
  scim.if_match = request.header("if-match").value_or("");
  scim.if_none_match = request.header("if-none-match").value_or("");
  const std::string name = source.name();
  const ScimService* service = &scim_;
  std::function<ScimResponse(Store&)> work = [service, scim, name](Store& store) {
    StoreScimRepository repository(store, name);
    return service->handle(scim, repository, now_utc());
  };
  auto op = pushes_->run<ScimResponse>(std::move(work));
  ScimResponse answer = co_await std::move(op);
  // Durable now: acknowledge, and revoke at once.
  metrics_.count("keywarden_push_events_total", {{"source", name}, {"result", std::to_string(answer.status)}});
  if (answer.status < 300 && !answer.affected_emails.empty()) request_targeted(answer.affected_emails, arrived);
  server::Response r;
  r.status = answer.status;
  r.body = std::move(answer.body);
  r.content_type = answer.body.empty() && r.status == 204 ? "" : answer.content_type;
  if (!r.body.empty()) r.content_type = answer.content_type;
  for (auto& [k, v] : answer.headers) r.headers[k] = v;
  co_return r;
}

net::awaitable<server::Response> Daemon::handle_push(Source& source, const server::Request& request,
                                                     const std::string& subpath) {
  const auto arrived = Clock::now();
  PushRequest push;
  push.method = request.method;
  push.path = subpath;
  push.query = decoded_query(request);
  push.headers = request.headers;
  push.body = request.body;
  Source* target = &source;
  std::function<PushResponse(Store&)> work = [target, push](Store& store) {
    PushContext context{store, now_utc()};
    return target->handle_push(push, context);
  };
  auto op = pushes_->run<PushResponse>(std::move(work));
  PushResponse answer = co_await std::move(op);
  metrics_.count("keywarden_push_events_total", {{"source", source.name()}, {"result", std::to_string(answer.status)}});
  if (answer.status < 300) {
    if (!answer.affected_emails.empty()) request_targeted(answer.affected_emails, arrived);
    if (answer.read_changes_now) {
      next_poll_[source.name()] = Clock::now();
      if (wake_) wake_->cancel();
    }
  }
  server::Response r;
  r.status = answer.status;
  r.body = std::move(answer.body);
  r.content_type = r.body.empty() ? "" : answer.content_type;
  for (auto& [k, v] : answer.headers) r.headers[k] = v;
  co_return r;
}

}  // namespace keywarden

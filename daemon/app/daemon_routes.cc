// The daemon's HTTP surface (SPEC §6): health, readiness, metrics, and the
// push routes of each source. This layer knows routes, auth and status codes;
// what a push means is the connector's business.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "connectors/source_registry.h"
#include "daemon/app/daemon.h"
#include "daemon/app/log.h"
#include "daemon/base/percent_decode.h"

namespace keywarden {

namespace net = boost::asio;

namespace {

server::Response json_error(int status, const std::string& message) {
  return server::Response::json(status, nlohmann::json{{"error", message}}.dump());
}

// Source names are [a-z0-9-]+ (config/): anything else in a URL names none,
// and is never echoed (it may not even be UTF-8).
bool is_source_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::map<std::string, std::string> decoded_query(const std::string& q) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= q.size() && !q.empty()) {
    const size_t end = std::min(q.find('&', start), q.size());
    const std::string part = q.substr(start, end - start);
    const size_t eq = part.find('=');
    const std::string name = percent_decode(part.substr(0, eq), true);
    if (!name.empty() && !out.count(name)) {
      out[name] = eq == std::string::npos ? "" : percent_decode(part.substr(eq + 1), true);
    }
    start = end + 1;
  }
  return out;
}

server::Response to_server_response(PushResponse answer) {
  server::Response r;
  r.status = answer.status;
  r.body = std::move(answer.body);
  r.content_type = r.body.empty() ? "" : answer.content_type;
  for (auto& [k, v] : answer.headers) r.headers[k] = v;
  return r;
}

}  // namespace

Daemon::PushTarget Daemon::push_target(const std::string& path) {
  PushTarget target;
  for (const SourceType* type : source_types()) {
    if (type->push_prefix.empty() || !path.starts_with(type->push_prefix)) continue;
    target.type = type;
    const std::string rest = path.substr(type->push_prefix.size());
    const auto slash = rest.find('/');
    target.name = rest.substr(0, slash);
    target.subpath = slash == std::string::npos ? "" : rest.substr(slash);
    if (!is_source_name(target.name)) return target;
    for (auto& s : sources_) {
      if (s->name() == target.name && s->config().type == type->schema.type && s->accepts_pushes()) {
        target.source = s.get();
      }
    }
    return target;
  }
  return target;
}

namespace {

PushRequest push_request_of(const server::Request& request, const std::string& subpath, const std::string& prefix,
                            const std::string& name, const std::string& listen) {
  PushRequest push;
  push.method = request.method;
  push.path = subpath;
  push.query = request.query;
  push.query_params = decoded_query(request.query);
  push.headers = request.headers;
  push.tls = request.tls;
  push.base_url = std::string(request.tls ? "https://" : "http://") + request.header("host").value_or(listen) +
                  prefix + name;
  return push;
}

}  // namespace

std::optional<server::Response> Daemon::check_headers(const server::Request& head) {
  const PushTarget target = push_target(head.path);
  if (!target.source) return std::nullopt;  // answered 404 once routed
  const PushRequest push =
      push_request_of(head, target.subpath, std::string(target.type->push_prefix), target.name, config_.daemon.listen);
  std::optional<PushResponse> refused = target.source->authorize(push);
  if (!refused) return std::nullopt;
  metrics_.count("keywarden_push_events_total", {{"source", target.name}, {"result", "unauthorized"}});
  return to_server_response(std::move(*refused));
}

net::awaitable<std::optional<server::Response>> Daemon::handle(server::Request request) {
  std::string route_label = "unknown";
  server::Response response;
  try {
    auto op = route(request, route_label);
    response = co_await std::move(op);
  } catch (const StoreError& e) {
    // The disk is full or failing: nothing was committed, so nothing is
    // acknowledged, and the IdP is told to come back (its retry is the
    // durability of this push until the store takes writes again).
    logger().error("request failed: the store cannot be written", {{"route", route_label}, {"error", e.what()}});
    response = json_error(503, "the store cannot be written; nothing was acknowledged, try again later");
    response.headers["Retry-After"] = "30";
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
    if (checkpointer_) {
      metrics_.set("keywarden_store_checkpoints_total", {{"on", "checkpointer"}},
                   static_cast<double>(checkpointer_->background_checkpoints()));
      metrics_.set("keywarden_store_checkpoints_total", {{"on", "writer"}},
                   static_cast<double>(checkpointer_->inline_checkpoints()));
      metrics_.set("keywarden_store_checkpoint_failures_total", {},
                   static_cast<double>(checkpointer_->failed_checkpoints()));
      metrics_.set("keywarden_store_wal_pages", {}, static_cast<double>(checkpointer_->wal_pages()));
    }
    for (const auto& source : sources_) {
      for (SourceMetric& m : source->metrics()) {
        metrics_.declare(m.name, m.type, m.help);
        m.labels["source"] = source->name();
        metrics_.set(m.name, m.labels, m.value);
      }
    }
    server::Response r = server::Response::text(200, metrics_.render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    co_return r;
  }
  const PushTarget target = push_target(path);
  if (target.type) {
    route_label = std::string(target.type->route_label);
    if (!target.source) {
      co_return json_error(404, is_source_name(target.name)
                                    ? "no " + std::string(target.type->schema.type) + " source named \"" + target.name + "\""
                                    : "no such source");
    }
    auto op = handle_push(target, request);
    co_return co_await std::move(op);
  }
  co_return json_error(404, "not found");
}

server::Response Daemon::readiness() const {  nlohmann::json body;
  int status = 200;
  const std::string write_failure = pushes_ ? pushes_->write_failure() : std::string();
  if (!store_) {
    status = 503;
    body = {{"ready", false}, {"reason", "the store is not open"}};
  } else if (!write_failure.empty()) {
    // Pushes cannot be acknowledged while this lasts (issue 14).
    status = 503;
    body = {{"ready", false}, {"reason", "the store cannot be written: " + write_failure}};
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

net::awaitable<server::Response> Daemon::handle_push(const PushTarget& target, const server::Request& request) {
  const auto arrived = Clock::now();
  // The server asks check_headers() before it reads a body (head_checked);
  // a request it did not ask about must not slip through. Trusting that
  // earlier check is sound because sources and their credentials are fixed
  // for the daemon's life: a reload does not change them (apply_reload). If
  // it ever did, a push whose head passed before the reload would have to
  // be checked again here.
  if (!request.head_checked) {
    if (auto refused = check_headers(request)) co_return std::move(*refused);
  }
  PushRequest push =
      push_request_of(request, target.subpath, std::string(target.type->push_prefix), target.name, config_.daemon.listen);
  push.body = request.body;
  // A push that may end someone's access goes ahead of bulk traffic
  // (StoreWorker's urgent items).
  const auto urgency = target.source->may_report_departure(push) ? StoreWorker::Urgency::urgent
                                                                 : StoreWorker::Urgency::normal;
  struct Outcome {
    PushResponse response;
    std::set<std::string> affected;  // of every step that committed
  };
  Source* source = target.source;
  const bool push_only = !source->polls();
  const std::string name = target.name;
  // One step per call: the push itself, then each next_step it hands back
  // (StoreWorker::run_steps lets waiting pushes in between).
  auto progress = std::make_shared<Outcome>();
  std::function<std::optional<Outcome>(Store&)> step =
      [source, push = std::move(push), name, push_only, progress](Store& store) -> std::optional<Outcome> {
    SourceFacts known(store, name);
    PushedResources resources(store, name);
    const PushContext context{now_utc(), known, resources};
    PushResponse response = progress->response.next_step ? progress->response.next_step(context)
                                                         : source->handle_push(push, context);
    if (response.status < 300) {
      // A push source is healthy while it is served, and its last success is
      // its last accepted push; a polled source's health is its reads'.
      progress->affected.merge(store.apply_changes(name, response.changes, context.now, /*mark_success=*/push_only));
    }
    response.changes = {};  // applied (or refused): freed here, by the thread that built them
    const bool more = response.status < 300 && response.next_step;
    progress->response = std::move(response);
    if (more) return std::nullopt;
    return std::move(*progress);
  };
  auto op = pushes_->run_steps<Outcome>(std::move(step), urgency);
  Outcome outcome = co_await std::move(op);
  // Durable now: acknowledge, and revoke at once (also what the steps before
  // a failed one changed).
  metrics_.count("keywarden_push_events_total", {{"source", name}, {"result", std::to_string(outcome.response.status)}});
  // A push source is up while it is served (SPEC §6; apply_changes recorded it).
  if (push_only && outcome.response.status < 300) metrics_.set("keywarden_source_up", {{"source", name}}, 1);
  if (!outcome.affected.empty()) request_targeted(outcome.affected, arrived);
  if (outcome.response.status < 300 && outcome.response.read_changes_now) {
    next_poll_[name] = Clock::now();
    if (wake_) wake_->cancel();
  }
  co_return to_server_response(std::move(outcome.response));
}

}  // namespace keywarden

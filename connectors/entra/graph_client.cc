#include "connectors/entra/graph_client.h"

#include "daemon/base/backoff.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "connectors/entra/graph_delta.h"

namespace keywarden {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

struct Endpoint {
  Url origin;
  std::string base_path;  // "" or "/prefix", no trailing slash
};

Endpoint parse_endpoint(const std::string& text, const std::string& key, const std::string& source) {
  std::optional<Url> url = parse_url(text);
  if (!url || url->target.find('?') != std::string::npos) {
    throw SourceReadError("entra source \"" + source + "\": " + key + " is not an http(s) URL without a query");
  }
  std::string base = url->target;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return Endpoint{std::move(*url), std::move(base)};
}

// Retry-After in whole seconds, as Graph sends it. Anything else: nullopt
// (the caller backs off instead).
std::optional<milliseconds> retry_after_seconds(const std::string& value) {
  if (value.empty() || value.size() > 9) return std::nullopt;
  if (!std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  return milliseconds(std::stoll(value) * 1000);
}

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

// "HTTP 503" or "HTTP 401 InvalidAuthenticationToken".
std::string status_text(const HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  const std::string code = graph_error_code(response.body);
  if (!code.empty()) text += " " + code;
  return text;
}

}  // namespace

std::string path_for_message(const std::string& url_or_path) {
  std::string_view rest = url_or_path;
  if (const size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
    const size_t slash = rest.find('/');
    rest = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  }
  return std::string(rest.substr(0, rest.find('?')));
}

milliseconds graph_backoff(int retry, milliseconds base, milliseconds max, std::mt19937_64& rng) {
  return Backoff{base, max, 0.5}.delay(retry, rng);
}

class GraphClient::Impl {
 public:
  Impl(net::any_io_executor executor, const GraphSettings& settings, GraphToken& token, const GraphRetryPolicy& policy)
      : executor_(std::move(executor)),
        settings_(settings),
        token_(token),
        policy_(policy),
        graph_(parse_endpoint(settings.graph_url, "graph_url", settings.source)),
        login_(parse_endpoint(settings.login_url, "login_url", settings.source)),
        graph_http_(executor_, graph_.origin, TlsOptions{}, policy.timeout),
        login_http_(executor_, login_.origin, TlsOptions{}, policy.timeout),
        rng_(std::random_device{}()) {}

  std::string message(const std::string& text) const {
    return "entra source \"" + settings_.source + "\": " + text;
  }

  net::awaitable<GraphResponse> send(std::string method, std::string url_or_path, std::string body) {
    const std::string target = graph_target(url_or_path);
    const std::string what = method + " " + graph_.origin.origin() + path_for_message(target);
    for (int authorization = 0;; ++authorization) {
      auto token_op = ensure_token(authorization > 0);
      co_await std::move(token_op);
      HttpRequest request;
      request.method = method;
      request.target = target;
      request.headers["Authorization"] = "Bearer " + token_.access_token;
      request.headers["Accept"] = "application/json";
      if (!body.empty() || method == "POST" || method == "PATCH") request.headers["Content-Type"] = "application/json";
      request.body = body;
      auto op = exchange(graph_http_, std::move(request), what);
      HttpResponse response = co_await std::move(op);
      // An expired or revoked token (InvalidAuthenticationToken): one fresh
      // token, one more try of the same request.
      if (response.status == 401 && authorization == 0) continue;
      GraphResponse out;
      out.status = response.status;
      out.body = std::move(response.body);
      out.location = response.header("location");
      co_return out;
    }
  }

 private:
  // The request target on graph_url for a path or for a link Graph gave.
  std::string graph_target(const std::string& url_or_path) const {
    if (url_or_path.rfind("http://", 0) != 0 && url_or_path.rfind("https://", 0) != 0) {
      return graph_.base_path + url_or_path;
    }
    const std::optional<Url> url = parse_url(url_or_path);
    const bool same_origin = url && url->scheme == graph_.origin.scheme && url->host == graph_.origin.host &&
                             url->port == graph_.origin.port;
    const bool below_base = url && (graph_.base_path.empty() || url->target.rfind(graph_.base_path + "/", 0) == 0);
    if (!same_origin || !below_base) {
      throw SourceReadError(message("Graph gave a link outside graph_url (" +
                                    (url ? url->origin() : std::string("not a URL")) +
                                    "); the token is not sent there"));
    }
    return url->target;
  }

  net::awaitable<void> ensure_token(bool force) {
    if (!force && !token_.access_token.empty() && steady_clock::now() < token_.refresh_at) co_return;
    std::string secret;
    try {
      secret = read_secret(settings_.client_secret);
    } catch (const std::exception& e) {
      throw SourceReadError(message(std::string("client secret: ") + e.what()));
    }
    const std::string path = login_.base_path + "/" + url_encode(settings_.tenant_id) + "/oauth2/v2.0/token";
    HttpRequest request;
    request.method = "POST";
    request.target = path;
    request.headers["Content-Type"] = "application/x-www-form-urlencoded";
    request.headers["Accept"] = "application/json";
    request.body = "client_id=" + url_encode(settings_.client_id) + "&scope=" + url_encode(settings_.graph_url + "/.default") +
                   "&client_secret=" + url_encode(secret) + "&grant_type=client_credentials";
    std::fill(secret.begin(), secret.end(), '\0');
    const std::string what = "token request to " + login_.origin.origin() + path;
    auto op = exchange(login_http_, std::move(request), what);
    HttpResponse response = co_await std::move(op);
    const nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
    if (response.status != 200) {
      std::string error;
      if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) error = " " + doc["error"].get<std::string>();
      throw SourceReadError(message(what + ": HTTP " + std::to_string(response.status) + error));
    }
    const auto token = doc.is_object() ? doc.find("access_token") : doc.end();
    if (!doc.is_object() || token == doc.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
      throw SourceReadError(message(what + ": the answer has no access_token"));
    }
    long long expires_in = 3599;
    if (const auto e = doc.find("expires_in"); e != doc.end()) {
      if (e->is_number_integer()) expires_in = e->get<long long>();
      else if (e->is_string() && retry_after_seconds(e->get<std::string>())) expires_in = std::stoll(e->get<std::string>());
      else throw SourceReadError(message(what + ": expires_in is not a number"));
    }
    if (expires_in <= 0) throw SourceReadError(message(what + ": expires_in is not positive"));
    const auto lifetime = std::chrono::seconds(expires_in);
    const auto margin = std::min<std::chrono::seconds>(policy_.token_refresh_margin, lifetime / 2);
    token_.access_token = token->get<std::string>();
    token_.refresh_at = steady_clock::now() + lifetime - margin;
    ++token_.issued;
  }

  // One request until a final answer: 429 and 503 wait for Retry-After, other
  // 5xx and transport errors back off; each bounded by max_attempts.
  net::awaitable<HttpResponse> exchange(HttpClient& http, HttpRequest request, std::string what) {
    for (int attempt = 1;; ++attempt) {
      std::optional<HttpResponse> response;
      std::string failure;
      try {
        HttpRequest copy = request;
        auto op = http.send(std::move(copy));
        HttpResponse answer = co_await std::move(op);
        response = std::move(answer);
      } catch (const boost::system::system_error& e) {
        failure = e.code().message();
      } catch (const std::invalid_argument& e) {
        throw SourceReadError(message(what + ": " + e.what()));
      }
      milliseconds wait = graph_backoff(attempt - 1, policy_.backoff_base, policy_.backoff_max, rng_);
      if (response) {
        const int status = response->status;
        const bool throttled = status == 429 || status == 503;
        if (!throttled && status < 500) co_return std::move(*response);
        if (attempt >= policy_.max_attempts) {
          throw SourceReadError(message(what + ": " + status_text(*response) + ", giving up after " +
                                        plural(attempt, "attempt")));
        }
        if (throttled) {
          if (const auto asked = retry_after_seconds(response->header("retry-after"))) {
            if (*asked > policy_.max_retry_after) {
              throw SourceReadError(message(what + ": " + status_text(*response) + " asks to wait " +
                                            std::to_string(asked->count() / 1000) + "s, longer than keywarden waits"));
            }
            wait = *asked;
          }
        }
      } else {
        http.close();
        if (attempt >= policy_.max_attempts) {
          throw SourceReadError(message(what + ": " + failure + ", giving up after " + plural(attempt, "attempt")));
        }
      }
      net::steady_timer timer(executor_, wait);
      auto wait_op = timer.async_wait(net::use_awaitable);
      co_await std::move(wait_op);
    }
  }

  net::any_io_executor executor_;
  GraphSettings settings_;
  GraphToken& token_;
  GraphRetryPolicy policy_;
  Endpoint graph_;
  Endpoint login_;
  HttpClient graph_http_;
  HttpClient login_http_;
  std::mt19937_64 rng_;
};

GraphClient::GraphClient(net::any_io_executor executor, const GraphSettings& settings, GraphToken& token,
                         const GraphRetryPolicy& policy)
    : impl_(std::make_unique<Impl>(std::move(executor), settings, token, policy)) {}

GraphClient::~GraphClient() = default;

net::awaitable<GraphResponse> GraphClient::send(std::string method, std::string url_or_path, std::string json_body) {
  return impl_->send(std::move(method), std::move(url_or_path), std::move(json_body));
}

std::string GraphClient::message(const std::string& text) const { return impl_->message(text); }

std::string graph_http_failure(const std::string& what, const GraphResponse& response) {
  std::string text = what + ": HTTP " + std::to_string(response.status);
  const std::string code = graph_error_code(response.body);
  if (!code.empty()) text += " " + code;
  return text;
}

}  // namespace keywarden

#include "connectors/keycloak/keycloak_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "connectors/source.h"
#include "daemon/net/url.h"
#include "daemon/base/retry_after.h"

namespace keywarden {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

// Keycloak's error answers are {"error": "...", "error_description": "..."}
// (OAuth) or {"errorMessage": "..."} (Admin API). Only the code-like
// "error" is quoted: a description may echo what was sent.
std::string status_text(const HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  const nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
  if (doc.is_object()) {
    if (const auto e = doc.find("error"); e != doc.end() && e->is_string() && e->get_ref<const std::string&>().size() < 80) {
      text += " " + printable_snippet(e->get<std::string>(), 80);
    }
  }
  return text;
}

}  // namespace

std::string client_secret_basic(const std::string& client_id, const std::string& client_secret) {
  const std::string plain = url_encode(client_id) + ":" + url_encode(client_secret);
  std::string encoded(4 * ((plain.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(std::max(n, 0)));
  return "Basic " + encoded;
}

class KeycloakClient::Impl {
 public:
  Impl(net::any_io_executor executor, const KeycloakSettings& settings, KeycloakToken& token,
       const KeycloakRetryPolicy& policy)
      : executor_(std::move(executor)),
        settings_(settings),
        token_(token),
        policy_(policy),
        origin_(parse_origin(settings)),
        base_path_(base_of(origin_)),
        http_(executor_, origin_, TlsOptions{}, policy.timeout),
        rng_(std::random_device{}()) {}

  std::string message(const std::string& text) const {
    return "keycloak source \"" + settings_.source + "\": " + text;
  }

  std::string admin_target(const std::string& admin_path) const {
    return base_path_ + "/admin/realms/" + url_encode(settings_.realm) + admin_path;
  }

  std::string describe(const std::string& admin_path) const {
    const std::string target = admin_target(admin_path);
    return "GET " + origin_.origin() + target.substr(0, target.find('?'));
  }

  net::awaitable<HttpResponse> get(std::string admin_path) {
    const std::string target = admin_target(admin_path);
    const std::string what = describe(admin_path);
    for (int authorization = 0;; ++authorization) {
      auto token_op = ensure_token(authorization > 0);
      co_await std::move(token_op);
      HttpRequest request;
      request.method = "GET";
      request.target = target;
      request.headers["Authorization"] = "Bearer " + token_.access_token;
      request.headers["Accept"] = "application/json";
      auto op = exchange(std::move(request), what);
      HttpResponse response = co_await std::move(op);
      // A token that expired or was revoked mid-read: one fresh token, one
      // more try of the same request; a second 401 is final.
      if (response.status == 401 && authorization == 0) continue;
      co_return response;
    }
  }

 private:
  static Url parse_origin(const KeycloakSettings& settings) {
    std::optional<Url> url = parse_url(settings.url);
    if (!url || url->target.find('?') != std::string::npos) {
      throw SourceReadError("keycloak source \"" + settings.source + "\": url is not an http(s) URL without a query");
    }
    if (settings.realm.empty()) throw SourceReadError("keycloak source \"" + settings.source + "\": realm is empty");
    if (settings.client_id.empty()) {
      throw SourceReadError("keycloak source \"" + settings.source + "\": client_id is empty");
    }
    return *url;
  }

  static std::string base_of(const Url& url) {
    std::string base = url.target;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
  }

  net::awaitable<void> ensure_token(bool force) {
    if (!force && !token_.access_token.empty() && steady_clock::now() < token_.refresh_at) co_return;
    std::string secret;
    try {
      secret = read_secret(settings_.client_secret);
    } catch (const std::exception& e) {
      // read_secret names the file or variable, never the value.
      throw SourceReadError(message(std::string("client secret: ") + e.what()));
    }
    const std::string path = base_path_ + "/realms/" + url_encode(settings_.realm) + "/protocol/openid-connect/token";
    HttpRequest request;
    request.method = "POST";
    request.target = path;
    request.headers["Authorization"] = client_secret_basic(settings_.client_id, secret);
    request.headers["Content-Type"] = "application/x-www-form-urlencoded";
    request.headers["Accept"] = "application/json";
    request.body = "grant_type=client_credentials";
    std::fill(secret.begin(), secret.end(), '\0');
    const std::string what = "token request to " + origin_.origin() + path;
    auto op = exchange(std::move(request), what);
    HttpResponse response = co_await std::move(op);
    if (response.status != 200) throw SourceReadError(message(what + ": " + status_text(response)));
    const nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
    const auto token = doc.is_object() ? doc.find("access_token") : doc.end();
    if (!doc.is_object() || token == doc.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
      throw SourceReadError(message(what + ": the answer has no access_token"));
    }
    if (token->get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos) {
      throw SourceReadError(message(what + ": the access_token holds a line break"));
    }
    // Keycloak sends expires_in as a number of seconds (its default access
    // token lifespan is 300 s); without one, assume a minute.
    long long expires_in = 60;
    if (const auto e = doc.find("expires_in"); e != doc.end()) {
      if (!e->is_number_integer() || e->get<long long>() <= 0) {
        throw SourceReadError(message(what + ": expires_in is not a positive number"));
      }
      expires_in = e->get<long long>();
    }
    const auto lifetime = std::chrono::seconds(expires_in);
    const auto margin = std::min<std::chrono::seconds>(policy_.refresh_margin, lifetime / 2);
    token_.access_token = token->get<std::string>();
    token_.refresh_at = steady_clock::now() + lifetime - margin;
    ++token_.issued;
  }

  // One request until a final answer: 429 and 5xx wait (Retry-After when
  // given, else backoff), as do connection errors; each bounded by max_attempts.
  net::awaitable<HttpResponse> exchange(HttpRequest request, std::string what) {
    for (int attempt = 1;; ++attempt) {
      std::optional<HttpResponse> response;
      std::string failure;
      try {
        HttpRequest copy = request;
        auto op = http_.send(std::move(copy));
        HttpResponse answer = co_await std::move(op);
        response = std::move(answer);
      } catch (const boost::system::system_error& e) {
        failure = e.code().message();
      } catch (const std::invalid_argument& e) {
        throw SourceReadError(message(what + ": " + e.what()));
      }
      milliseconds wait = policy_.backoff.delay(attempt - 1, rng_);
      if (response) {
        const int status = response->status;
        if (status != 429 && status < 500) co_return std::move(*response);
        if (attempt >= policy_.max_attempts) {
          throw SourceReadError(message(what + ": " + status_text(*response) + ", giving up after " +
                                        plural(attempt, "attempt")));
        }
        if (const auto asked = parse_retry_after(response->header("retry-after"), std::chrono::system_clock::now())) {
          if (*asked > policy_.max_retry_after) {
            throw SourceReadError(message(what + ": " + status_text(*response) + " asks to wait " +
                                          std::to_string(asked->count() / 1000) + "s, longer than keywarden waits"));
          }
          wait = *asked;
        }
      } else {
        http_.close();
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
  KeycloakSettings settings_;
  KeycloakToken& token_;
  KeycloakRetryPolicy policy_;
  Url origin_;
  std::string base_path_;
  HttpClient http_;
  std::mt19937_64 rng_;
};

KeycloakClient::KeycloakClient(net::any_io_executor executor, const KeycloakSettings& settings, KeycloakToken& token,
                               const KeycloakRetryPolicy& policy)
    : impl_(std::make_unique<Impl>(std::move(executor), settings, token, policy)) {}

KeycloakClient::~KeycloakClient() = default;

net::awaitable<HttpResponse> KeycloakClient::get(std::string admin_path) { return impl_->get(std::move(admin_path)); }

std::string KeycloakClient::message(const std::string& text) const { return impl_->message(text); }

std::string KeycloakClient::describe(const std::string& admin_path) const { return impl_->describe(admin_path); }

}  // namespace keywarden

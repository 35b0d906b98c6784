// The Keycloak Admin REST API transport for one realm: a service-account
// token (OAuth 2.0 client credentials), GETs with retries, and nothing about
// what the pages mean (keycloak_directory.h has that).
//
// Token: POST {url}/realms/{realm}/protocol/openid-connect/token with
// grant_type=client_credentials and the client authenticated by HTTP Basic
// (client_secret_basic, RFC 6749 §2.3.1: client id and secret each
// form-urlencoded, then joined by ':' and base64-encoded). Keycloak's default
// client authenticator ("client-secret") accepts the secret this way.
// The token is kept in a KeycloakToken owned by the source, so consecutive
// reads share it; it is renewed `refresh_margin` before `expires_in` runs
// out, and at once when the Admin API answers 401 in the middle of a read
// (the request is then sent once more with the new token).
//
// Retries: 429 and 5xx answers and connection errors are retried with the
// shared jittered Backoff (daemon/base/backoff.h), a Retry-After (seconds or
// HTTP-date, RFC 9110 §10.2.3) being honoured when present and not longer
// than max_retry_after; each request tries at most max_attempts times.
//
// No message of this file holds the client secret or a token.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "config/config.h"
#include "daemon/base/backoff.h"
#include "daemon/net/http_client.h"

namespace keywarden {

// How hard one request tries. Every number is a bound.
struct KeycloakRetryPolicy {
  int max_attempts = 6;  // per request, the first included
  Backoff backoff{std::chrono::milliseconds(500), std::chrono::milliseconds(30000), 0.5};
  std::chrono::milliseconds max_retry_after{120000};  // a longer Retry-After fails the request instead
  std::chrono::milliseconds timeout{30000};           // one HTTP exchange
  std::chrono::seconds refresh_margin{30};            // renew this long before expires_in runs out
};

// Where and as whom. The secret is read for every token request, so a
// rotated file is picked up.
struct KeycloakSettings {
  std::string source;  // the source name, for messages
  std::string url;     // "https://sso.example.com" (a path prefix such as "/auth" allowed)
  std::string realm;
  std::string client_id;
  SecretRef client_secret;
};

// The cached access token of one source.
struct KeycloakToken {
  std::string access_token;  // empty: none yet
  std::chrono::steady_clock::time_point refresh_at{};
  int issued = 0;  // tokens fetched so far (tests)
};

class KeycloakClient {
 public:
  // Throws SourceReadError when `url` is not an http(s) URL without a query,
  // or realm / client_id is empty.
  KeycloakClient(boost::asio::any_io_executor executor, const KeycloakSettings& settings, KeycloakToken& token,
                 const KeycloakRetryPolicy& policy);
  ~KeycloakClient();
  KeycloakClient(const KeycloakClient&) = delete;
  KeycloakClient& operator=(const KeycloakClient&) = delete;

  // GETs `admin_path` below {url}/admin/realms/{realm} (e.g. "/users?first=0&max=100")
  // with the bearer token. Returns the final answer: a 2xx or any status
  // that retrying cannot fix (4xx other than 429; a 401 only after one
  // renewed token was refused too). Throws SourceReadError when the
  // transport keeps failing, 429/5xx outlast max_attempts, the token cannot
  // be had, or the answer is cut off.
  boost::asio::awaitable<HttpResponse> get(std::string admin_path);

  // "keycloak source \"NAME\": " followed by `text`.
  std::string message(const std::string& text) const;
  // "GET <origin>/admin/realms/<realm><path without query>", for messages.
  std::string describe(const std::string& admin_path) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// RFC 6749 §2.3.1 client_secret_basic: "Basic " + base64(form-urlencode(id)
// + ":" + form-urlencode(secret)).
std::string client_secret_basic(const std::string& client_id, const std::string& client_secret);

}  // namespace keywarden

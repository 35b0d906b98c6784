// Requests to Microsoft Graph with an app-only token (OAuth 2.0 client
// credentials), throttling and retries, for the entra connector.
//
// GraphClient holds one keep-alive connection to the Graph origin and one to
// the login origin, and sends one request at a time: make one per read (or
// other job) and await its calls in turn. The token lives in a GraphToken that
// outlives the clients, so consecutive reads reuse it.
//
// No message of this file carries the client secret or a token; request
// targets appear without their query (Graph's state tokens are noise there).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "connectors/source.h"
#include "daemon/net/http_client.h"
#include "daemon/net/url.h"

namespace keywarden {

// How hard one request tries. Every number is a bound: a read never waits
// forever and never retries without end.
struct GraphRetryPolicy {
  int max_attempts = 6;                                  // per request, the first included
  std::chrono::milliseconds backoff_base{500};           // 5xx and connection errors: base * 2^n, jittered
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds max_retry_after{300000};     // a longer Retry-After fails the request instead
  std::chrono::milliseconds timeout{30000};              // one HTTP exchange
  std::chrono::seconds token_refresh_margin{300};        // refresh this long before expires_in runs out
};

// Where the connector talks to and as whom. The secret is read lazily (and
// again on every token request, so a rotated file is picked up).
struct GraphSettings {
  std::string source;       // the source name, for messages
  std::string tenant_id;
  std::string client_id;
  SecretRef client_secret;
  std::string graph_url;    // e.g. "https://graph.microsoft.com", no trailing slash
  std::string login_url;    // e.g. "https://login.microsoftonline.com", no trailing slash
};

// The cached access token of one source.
struct GraphToken {
  std::string access_token;                       // empty: none yet
  std::chrono::steady_clock::time_point refresh_at{};
  int issued = 0;                                 // tokens fetched so far (tests, metrics)
};

// One Graph answer that is not an error of the transport: any status.
struct GraphResponse {
  int status = 0;
  std::string body;
  std::string location;  // the Location header (410 Gone carries one)
};

// "<what>: HTTP <status>[ <Graph error code>]", for an answer that is not a
// good 2xx. Never the body itself: it may echo what was sent.
std::string graph_http_failure(const std::string& what, const GraphResponse& response);

class GraphClient {
 public:
  // Throws SourceReadError when graph_url or login_url is not an http(s) URL.
  GraphClient(boost::asio::any_io_executor executor, const GraphSettings& settings, GraphToken& token,
              const GraphRetryPolicy& policy);
  ~GraphClient();
  GraphClient(const GraphClient&) = delete;
  GraphClient& operator=(const GraphClient&) = delete;

  // Sends `method` to `url_or_path`: a path below graph_url ("/v1.0/users")
  // or a whole URL that Graph gave (a nextLink or deltaLink), which must be
  // on graph_url's origin and path: the bearer token goes nowhere else.
  // Retries 429 and 503 after their Retry-After, other 5xx and connection
  // errors with jittered backoff, each up to policy.max_attempts; on a 401
  // refreshes the token once and sends again. Returns the final answer (2xx
  // or not). Throws SourceReadError when the transport keeps failing, the
  // token cannot be had, or Graph asks to wait longer than max_retry_after.
  boost::asio::awaitable<GraphResponse> send(std::string method, std::string url_or_path, std::string json_body = "");

  // "entra source \"NAME\": " followed by `text`.
  std::string message(const std::string& text) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The path of a URL or target without its query, for messages.
std::string path_for_message(const std::string& url_or_path);

// Graph's rule for the delay before retry number `retry` (0 for the first):
// base * 2^retry capped at `max`, at least half of it kept (Backoff with
// floor_share 0.5).
std::chrono::milliseconds graph_backoff(int retry, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        std::mt19937_64& rng);

}  // namespace keywarden

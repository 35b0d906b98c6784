// The Okta Management API transport: authenticated GETs against one org,
// with Okta's rate limits and retries, and Link-header paging.
//
// Only this file pair knows how Okta throttles (X-Rate-Limit-* headers, 429
// with E0000047) and pages (Link: <…>; rel="next"). What the pages contain is
// okta_directory.h's business.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "daemon/net/http_client.h"
#include "daemon/net/url.h"

namespace keywarden {

// How patient one OktaClient is. The defaults suit a real org; tests shrink
// the waits.
struct OktaClientOptions {
  // One exchange (connect, send, read). Okta ends a System Log query after
  // 30 s itself, so a longer wait is a network problem.
  std::chrono::milliseconds timeout{45000};
  // Attempts of one request that meets 5xx answers or connection errors.
  int max_attempts = 5;
  // Exponential backoff between those attempts, with jitter.
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{15000};
  // 429 answers one request sits out before it gives up.
  int max_throttled = 6;
  // The longest wait for X-Rate-Limit-Reset: a reset further away is waited
  // for this long, then the request is tried again (and counts as throttled).
  std::chrono::milliseconds max_rate_limit_wait{60000};
};

// When the org lets us send again. Shared by every client of one source, so
// that a bucket emptied by one read is respected by the next.
struct OktaRateLimitGate {
  // Wall-clock time (X-Rate-Limit-Reset is UTC epoch seconds) before which
  // no request is sent; unset when nothing is owed.
  std::optional<std::chrono::system_clock::time_point> not_before;
};

// One org, one connection, one request at a time (callers await each get()
// before the next). Every request carries "Authorization: SSWS <token>"; the
// token appears in no message this class produces.
class OktaClient {
 public:
  // `org` is the configured `url` ("https://corp.okta.com", optionally with a
  // path prefix). Throws std::invalid_argument when it is not an http(s) URL
  // or has a query, and when the token is empty or holds a line break.
  OktaClient(boost::asio::any_io_executor executor, const std::string& org, std::string token,
             OktaClientOptions options, OktaRateLimitGate& gate);
  ~OktaClient();
  OktaClient(const OktaClient&) = delete;
  OktaClient& operator=(const OktaClient&) = delete;

  // The absolute URL of `path_and_query` ("/api/v1/users?limit=200") in this org.
  std::string url(std::string_view path_and_query) const;

  // True when `url` is an absolute URL on this org's scheme, host and port:
  // the only URLs the token is ever sent to.
  bool same_org(const std::string& url) const;

  // GETs `url` (absolute, same org) and returns Okta's final answer: a 2xx,
  // or any status that retrying cannot fix (4xx other than 429). 429s are
  // sat out until X-Rate-Limit-Reset, 5xx and connection errors are retried
  // with backoff, both a bounded number of times; after that, and for a URL
  // of another origin, it throws SourceReadError naming the URL and the
  // problem. A 2xx whose X-Rate-Limit-Remaining is 0 makes the next request
  // wait for the reset.
  boost::asio::awaitable<HttpResponse> get(std::string url);

  // `text` with every occurrence of the token replaced by "[redacted]": for
  // messages built from what the server sent back.
  std::string redact(std::string text) const;

 private:
  boost::asio::awaitable<void> wait_for_gate();

  Url origin_;
  std::string base_path_;
  std::string token_;
  OktaClientOptions options_;
  OktaRateLimitGate& gate_;
  HttpClient http_;
  std::mt19937_64 rng_;
};

// The rel="next" target of a Link header (several links, possibly joined
// with ", " from repeated fields), exactly as given; nullopt when there is none.
std::optional<std::string> next_link(std::string_view link_header);

// X-Rate-Limit-Reset (UTC epoch seconds) as a time point; nullopt when absent
// or not a number.
std::optional<std::chrono::system_clock::time_point> parse_rate_limit_reset(std::string_view value);

// How long to wait for a rate-limit reset at `reset`, seen at `now`: never
// negative, at most `cap`.
std::chrono::milliseconds rate_limit_wait(std::chrono::system_clock::time_point reset,
                                          std::chrono::system_clock::time_point now,
                                          std::chrono::milliseconds cap);

// "Okta E0000047: API call exceeded rate limit…" from an Okta error body, or
// a printable snippet of any other body; "" for an empty one.
std::string describe_okta_error(const std::string& body);

}  // namespace keywarden

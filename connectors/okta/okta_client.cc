#include "connectors/okta/okta_client.h"

#include "daemon/base/backoff.h"

#include <algorithm>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "connectors/source.h"
#include "daemon/base/ascii.h"

namespace keywarden {

namespace net = boost::asio;
using std::chrono::milliseconds;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

// Okta's rule: half of min(max, base·2^retry) for sure, the other half at
// random, so that clients failing together do not come back together and no
// retry comes back at once.
milliseconds backoff_delay(int retry, milliseconds base, milliseconds max, std::mt19937_64& rng) {
  return Backoff{base, max, 0.5}.delay(retry, rng);
}

}  // namespace

std::optional<std::string> next_link(std::string_view header) {
  size_t at = 0;
  while (at < header.size()) {
    const size_t open = header.find('<', at);
    if (open == std::string_view::npos) break;
    const size_t close = header.find('>', open + 1);
    if (close == std::string_view::npos) break;
    const std::string_view target = header.substr(open + 1, close - open - 1);
    // The link's parameters run to the next comma outside a quoted string.
    size_t end = close + 1;
    bool quoted = false;
    for (; end < header.size(); ++end) {
      if (header[end] == '"') quoted = !quoted;
      if (header[end] == ',' && !quoted) break;
    }
    std::string_view params = header.substr(close + 1, end - close - 1);
    while (!params.empty()) {
      const size_t semi = params.find(';');
      const std::string_view param = trim(params.substr(0, semi));
      params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
      const size_t eq = param.find('=');
      if (eq == std::string_view::npos || ascii_lower(trim(param.substr(0, eq))) != "rel") continue;
      std::string_view value = trim(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      // rel may list several relation types separated by spaces.
      while (!value.empty()) {
        const size_t space = value.find(' ');
        if (ascii_lower(value.substr(0, space)) == "next") return std::string(trim(target));
        value = space == std::string_view::npos ? std::string_view() : trim(value.substr(space + 1));
      }
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> parse_rate_limit_reset(std::string_view value) {
  value = trim(value);
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

milliseconds rate_limit_wait(std::chrono::system_clock::time_point reset, std::chrono::system_clock::time_point now,
                             milliseconds cap) {
  if (reset <= now) return milliseconds(0);
  return std::min(std::chrono::ceil<milliseconds>(reset - now), cap);
}

std::string describe_okta_error(const std::string& body) {
  if (body.empty()) return "";
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    const auto text = [&](const char* name) {
      const auto it = doc.find(name);
      return it != doc.end() && it->is_string() ? printable_snippet(it->get<std::string>()) : std::string();
    };
    const std::string code = text("errorCode");
    const std::string summary = text("errorSummary");
    if (!code.empty() || !summary.empty()) {
      return "Okta " + code + (code.empty() || summary.empty() ? "" : ": ") + summary;
    }
  }
  return printable_snippet(body);
}

OktaClient::OktaClient(net::any_io_executor executor, const std::string& org, std::string token,
                       OktaClientOptions options, OktaRateLimitGate& gate)
    : origin_([&] {
        std::optional<Url> url = parse_url(org);
        if (!url) throw std::invalid_argument("Okta url is not an http(s) URL: " + org);
        if (url->target.find('?') != std::string::npos) {
          throw std::invalid_argument("Okta url must not have a query: " + org);
        }
        return *url;
      }()),
      base_path_([this] {
        std::string base = origin_.target;
        while (!base.empty() && base.back() == '/') base.pop_back();
        return base;
      }()),
      token_(std::move(token)),
      options_(options),
      gate_(gate),
      http_(executor, origin_, TlsOptions{}, options.timeout),
      rng_(std::random_device{}()) {
  if (token_.empty()) throw std::invalid_argument("the Okta API token is empty");
  if (token_.find_first_of("\r\n") != std::string::npos) {
    throw std::invalid_argument("the Okta API token contains a line break");
  }
  if (options_.max_attempts < 1 || options_.max_throttled < 0) {
    throw std::invalid_argument("OktaClientOptions: bad attempt limits");
  }
}

OktaClient::~OktaClient() = default;

std::string OktaClient::url(std::string_view path_and_query) const {
  return origin_.origin() + base_path_ + std::string(path_and_query);
}

bool OktaClient::same_org(const std::string& url) const {
  const std::optional<Url> parsed = parse_url(url);
  return parsed && ascii_lower(parsed->scheme) == ascii_lower(origin_.scheme) && ascii_lower(parsed->host) == ascii_lower(origin_.host) &&
         parsed->port == origin_.port;
}

std::string OktaClient::redact(std::string text) const {
  for (size_t at = text.find(token_); at != std::string::npos; at = text.find(token_, at)) {
    text.replace(at, token_.size(), "[redacted]");
  }
  return text;
}

net::awaitable<void> OktaClient::wait_for_gate() {
  if (!gate_.not_before) co_return;
  const milliseconds wait =
      rate_limit_wait(*gate_.not_before, std::chrono::system_clock::now(), options_.max_rate_limit_wait);
  gate_.not_before.reset();
  if (wait.count() <= 0) co_return;
  const net::any_io_executor executor = co_await net::this_coro::executor;
  net::steady_timer timer(executor, wait);
  co_await timer.async_wait(net::use_awaitable);
}

net::awaitable<HttpResponse> OktaClient::get(std::string url) {
  if (!same_org(url)) {
    // A Link header (or a stored cursor) pointing elsewhere must never
    // receive the org's API token.
    throw SourceReadError(redact("Okta GET " + url + ": not on the configured org " + origin_.origin() +
                                 "; refusing to send the API token there"));
  }
  HttpRequest request;
  request.method = "GET";
  request.target = parse_url(url)->target;
  request.headers["Authorization"] = "SSWS " + token_;
  request.headers["Accept"] = "application/json";

  int failures = 0;   // 5xx answers and connection errors
  int throttled = 0;  // 429 answers
  for (;;) {
    co_await wait_for_gate();
    std::optional<HttpResponse> response;
    std::string failure;
    try {
      HttpRequest copy = request;
      // The awaitable is a named local: GCC 12 destroys temporaries inside a
      // co_await expression twice.
      auto exchange = http_.send(std::move(copy));
      HttpResponse answer = co_await std::move(exchange);
      response = std::move(answer);
    } catch (const boost::system::system_error& e) {
      // A certificate that does not verify will not verify next time either.
      if (e.code().category() == net::error::get_ssl_category()) {
        throw SourceReadError(redact("Okta GET " + url + ": TLS: " + e.code().message()));
      }
      failure = e.code().message();
    } catch (const std::invalid_argument& e) {
      // A target HttpClient will not send (a space or line break in a next link).
      throw SourceReadError(redact("Okta GET " + url + ": " + e.what()));
    }

    milliseconds wait{0};
    if (response) {
      const int status = response->status;
      const auto reset = parse_rate_limit_reset(response->header("x-rate-limit-reset"));
      if (status == 429) {
        ++throttled;
        if (throttled > options_.max_throttled) {
          throw SourceReadError(redact("Okta GET " + url + ": HTTP 429 " + describe_okta_error(response->body) +
                                       "; still rate limited after " + plural(throttled, "attempt")));
        }
        // Okta promises no Retry-After: X-Rate-Limit-Reset says when the
        // bucket refills. Without it, back off as for a server error.
        wait = reset ? rate_limit_wait(*reset, std::chrono::system_clock::now(), options_.max_rate_limit_wait)
                     : backoff_delay(throttled - 1, options_.backoff_base, options_.backoff_max, rng_);
        // A little jitter, so that clients sharing a bucket do not all return
        // in the same millisecond of the reset.
        std::uniform_int_distribution<int> jitter(0, 250);
        wait = std::min(wait + milliseconds(jitter(rng_)), options_.max_rate_limit_wait);
      } else if (status >= 500) {
        ++failures;
        if (failures >= options_.max_attempts) {
          throw SourceReadError(redact("Okta GET " + url + ": HTTP " + std::to_string(status) + " " +
                                       describe_okta_error(response->body) + "; gave up after " +
                                       plural(failures + throttled, "attempt")));
        }
        wait = backoff_delay(failures - 1, options_.backoff_base, options_.backoff_max, rng_);
      } else {
        if (status >= 200 && status < 300 && trim(response->header("x-rate-limit-remaining")) == "0" && reset) {
          gate_.not_before = *reset;  // the bucket is empty: the next request waits for its refill
        }
        co_return std::move(*response);
      }
    } else {
      ++failures;
      if (failures >= options_.max_attempts) {
        throw SourceReadError(redact("Okta GET " + url + ": " + failure + "; gave up after " +
                                     plural(failures + throttled, "attempt")));
      }
      wait = backoff_delay(failures - 1, options_.backoff_base, options_.backoff_max, rng_);
    }
    if (wait.count() > 0) {
      const net::any_io_executor executor = co_await net::this_coro::executor;
      net::steady_timer timer(executor, wait);
      co_await timer.async_wait(net::use_awaitable);
    }
  }
}

}  // namespace keywarden

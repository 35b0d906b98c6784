#include "daemon/palette/palette_client.h"

#include <algorithm>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <set>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/system_error.hpp>
#include <cmath>
#include <optional>
#include <random>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "daemon/net/http_client.h"
#include "daemon/net/url.h"
#include "daemon/palette/palette_json.h"
#include "daemon/palette/request_pacer.h"
#include "daemon/base/backoff.h"
#include "daemon/base/retry_after.h"

namespace keywarden {

namespace net = boost::asio;
using std::chrono::milliseconds;

namespace {

// The key list of a large tenant (250,000 keys, SPEC §7) is a few hundred MB
// of JSON; anything beyond this is not a Palette answer.
constexpr size_t kMaxBodyBytes = 512 * 1024 * 1024;
// A user list is 50 a page; this many pages is 5 million users, far past any
// tenant. Beyond it the server is looping.
constexpr int kMaxPages = 100000;
// The longest Retry-After we sit out (unless backoff_max is longer). A server
// asking for more gets a transient error now; the caller tries again later
// rather than blocking a reconcile for an hour.
constexpr milliseconds kMaxRetryAfter = std::chrono::minutes(5);
constexpr const char* kAdminHint = "; keywarden's Palette API key must belong to a tenant admin and be active";

struct Endpoint {
  Url origin;
  std::string base_path;  // "" or "/prefix", without a trailing slash
};

Endpoint parse_endpoint(const std::string& text) {
  const std::string with_scheme = text.find("://") == std::string::npos ? "https://" + text : text;
  std::optional<Url> url = parse_url(with_scheme);
  if (!url) throw std::invalid_argument("Palette endpoint is not an http(s) URL: " + text);
  if (url->target.find('?') != std::string::npos) {
    throw std::invalid_argument("Palette endpoint must not have a query: " + text);
  }
  std::string base = url->target;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return Endpoint{std::move(*url), std::move(base)};
}

PaletteClientOptions checked(PaletteClientOptions options) {
  if (options.api_key.empty()) throw std::invalid_argument("Palette API key is empty");
  if (options.api_key.find_first_of("\r\n") != std::string::npos) {
    throw std::invalid_argument("Palette API key contains a line break");
  }
  if (options.max_attempts < 1) throw std::invalid_argument("Palette max_attempts must be at least 1");
  if (options.timeout.count() <= 0) throw std::invalid_argument("Palette timeout must be positive");
  if (options.backoff_base.count() < 0 || options.backoff_max.count() < 0) {
    throw std::invalid_argument("Palette backoff must not be negative");
  }
  return options;
}

// Connection-level failures worth another attempt. A certificate that does
// not verify or an oversized body will be the same next time.
bool is_retryable(const boost::system::error_code& ec) {
  if (ec.category() == net::error::get_ssl_category()) return false;
  if (ec == boost::beast::http::error::body_limit || ec == boost::beast::http::error::header_limit) return false;
  return true;
}

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

}  // namespace

class PaletteClient::Impl {
 public:
  Impl(net::any_io_executor executor, PaletteClientOptions options)
      : options_(checked(std::move(options))),
        endpoint_(parse_endpoint(options_.endpoint)),
        http_(executor, endpoint_.origin, TlsOptions{.ca_file = options_.ca_file}, options_.timeout, kMaxBodyBytes),
        pacer_(executor, options_.requests_per_second),
        rng_(std::random_device{}()) {
    // Every request the server may have received takes a pacer turn: no
    // transparent resend behind the pacer's back. A connection idle long
    // enough for a server to have dropped it is replaced before use instead.
    http_.set_resend_on_stale(false);
    http_.set_max_idle(std::chrono::seconds(20));
  }

  const PaletteClientStats& stats() const { return stats_; }

  void stop() {
    stopping_ = true;
    for (net::steady_timer* wait : retry_waits_) wait->cancel();
  }

  net::awaitable<PaletteInventory> read_inventory() {
    PaletteInventory inventory;
    {
      const Answer answer = co_await call("GET", "/v1/users/info", "", false);
      const PaletteUserInfo info = parse_answer(answer, "GET", "/v1/users/info", parse_user_info);
      inventory.self_user_uid = info.user_uid;
      inventory.tenant_uid = info.tenant_uid;
    }

    std::string token;
    std::unordered_set<std::string> seen_tokens;
    for (int page = 0;; ++page) {
      const std::string target = "/v1/users?limit=50" + (token.empty() ? "" : "&continue=" + url_encode(token));
      check_paging(page, token, seen_tokens, "GET", target);
      const Answer answer = co_await call("GET", target, "", false);
      PaletteUsersPage users = parse_answer(answer, "GET", target, parse_users_page);
      for (PaletteUser& user : users.users) {
        std::string uid = user.uid;
        inventory.users_by_uid.insert_or_assign(std::move(uid), std::move(user));
      }
      token = std::move(users.continue_token);
      if (token.empty()) break;
    }

    try {
      co_await read_teams(inventory);
    } catch (const PaletteError& e) {
      inventory.teams_error = e.what();
      for (auto& [uid, user] : inventory.users_by_uid) user.teams.reset();
    }

    token.clear();
    seen_tokens.clear();
    for (int page = 0;; ++page) {
      const std::string target = "/v1/apiKeys" + (token.empty() ? "" : "?continue=" + url_encode(token));
      check_paging(page, token, seen_tokens, "GET", target);
      const Answer answer = co_await call("GET", target, "", false);
      PaletteKeysPage keys = parse_answer(answer, "GET", target, parse_keys_page);
      std::move(keys.keys.begin(), keys.keys.end(), std::back_inserter(inventory.keys));
      token = std::move(keys.continue_token);
      if (token.empty()) break;
    }
    co_return inventory;
  }

  // Pages through GET /v1/teams (50 a page, like users) and gives every user
  // of `inventory` the sorted names of the teams that list them. All pages or
  // nothing: a user is never seen as out of a team because a page was lost.
  net::awaitable<void> read_teams(PaletteInventory& inventory) {
    std::unordered_map<std::string, std::vector<std::string>> teams_of_user;
    std::string token;
    std::unordered_set<std::string> seen_tokens;
    for (int page = 0;; ++page) {
      const std::string target = "/v1/teams?limit=50" + (token.empty() ? "" : "&continue=" + url_encode(token));
      check_paging(page, token, seen_tokens, "GET", target);
      const Answer answer = co_await call("GET", target, "", false);
      PaletteTeamsPage teams = parse_answer(answer, "GET", target, parse_teams_page);
      for (const PaletteTeam& team : teams.teams) {
        for (const std::string& uid : team.user_uids) teams_of_user[uid].push_back(team.name);
      }
      token = std::move(teams.continue_token);
      if (token.empty()) break;
    }
    for (auto& [uid, user] : inventory.users_by_uid) {
      auto found = teams_of_user.find(uid);
      std::vector<std::string> names = found == teams_of_user.end() ? std::vector<std::string>{} : std::move(found->second);
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      user.teams = std::move(names);
    }
  }

  net::awaitable<MutationResult> set_key_active(std::string key_uid, bool active) {
    const std::string target = key_path(key_uid) + "/state";
    const Answer answer = co_await call("PUT", target, key_state_body(active), true);
    co_return MutationResult{answer.response.status, answer.attempts};
  }

  net::awaitable<MutationResult> delete_key(std::string key_uid) {
    const std::string target = key_path(key_uid);
    const Answer answer = co_await call("DELETE", target, "", true);
    co_return MutationResult{answer.response.status, answer.attempts};
  }

 private:
  struct Answer {
    HttpResponse response;
    int attempts = 0;
  };

  static std::string key_path(const std::string& key_uid) {
    if (key_uid.empty()) throw std::invalid_argument("empty Palette key uid");
    return "/v1/apiKeys/" + url_encode(key_uid);
  }

  // One logical request: paced attempts until a final answer. Returns a 2xx
  // (or, when `missing_is_done`, a 404); throws PaletteError otherwise.
  //
  // Parameters are by value: a coroutine must not hold references to its
  // caller's temporaries across a suspension.
  net::awaitable<Answer> call(std::string method, std::string target, std::string body, bool missing_is_done) {
    HttpRequest request;
    request.method = method;
    request.target = endpoint_.base_path + target;
    request.headers["ApiKey"] = options_.api_key;  // tenant scope: never a ProjectUid
    request.headers["Accept"] = "application/json";
    if (!body.empty()) request.headers["Content-Type"] = "application/json";
    request.body = std::move(body);

    for (int attempt = 1;; ++attempt) {
      if (stopping_) throw stopping_error(method, target, attempt - 1);
      std::optional<HttpResponse> response;
      boost::system::error_code failure;
      {
        RequestPacer::Turn turn = co_await pacer_.next_turn();
        ++stats_.requests;
        try {
          HttpRequest copy = request;
          response = co_await http_.send(std::move(copy));
        } catch (const boost::system::system_error& e) {
          failure = e.code();
        }
      }

      // Palette's rule: full jitter, so clients that failed together spread out.
      milliseconds wait = Backoff{options_.backoff_base, options_.backoff_max, 0.0}.delay(attempt - 1, rng_);
      if (response) {
        const int status = response->status;
        if ((status >= 200 && status < 300) || (status == 404 && missing_is_done)) {
          co_return Answer{std::move(*response), attempt};
        }
        if (status == 429) ++stats_.throttled;
        if (status >= 500) ++stats_.server_errors;
        if (status != 429 && status < 500) throw http_error(method, target, *response, attempt, "");
        if (attempt >= options_.max_attempts) {
          throw http_error(method, target, *response, attempt, "; giving up after " + plural(attempt, "attempt"));
        }
        if (auto retry_after = parse_retry_after(response->header("retry-after"), std::chrono::system_clock::now())) {
          if (*retry_after > std::max(kMaxRetryAfter, options_.backoff_max)) {
            throw http_error(method, target, *response, attempt,
                             "; the server asked to wait " +
                                 std::to_string(std::chrono::ceil<std::chrono::seconds>(*retry_after).count()) +
                                 "s, longer than keywarden waits");
          }
          wait = std::max(wait, *retry_after);
        }
      } else {
        ++stats_.connection_errors;
        if (!is_retryable(failure) || attempt >= options_.max_attempts) {
          throw PaletteError(redact("Palette " + method + " " + target + ": " + failure.message() + " (" +
                                    plural(attempt, "attempt") + ")"),
                             0, "", attempt);
        }
      }
      ++stats_.retries;
      const net::any_io_executor executor = co_await net::this_coro::executor;
      net::steady_timer timer(executor, wait);
      retry_waits_.insert(&timer);
      boost::system::error_code cancelled;
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, cancelled));
      retry_waits_.erase(&timer);
    }
  }

  // What a request that stop() cut short throws: transient (status 0), so
  // an action stays pending in the journal for the next start.
  static PaletteError stopping_error(const std::string& method, const std::string& target, int attempts) {
    return PaletteError("Palette " + method + " " + target + ": keywarden is stopping (" +
                            plural(attempts, "attempt") + " made)",
                        0, "", attempts);
  }

  // A PaletteError for a final non-2xx answer, with the V1Error code and
  // message when the body has them.
  PaletteError http_error(const std::string& method, const std::string& target, const HttpResponse& response,
                          int attempts, const std::string& note) const {
    std::string what = "Palette " + method + " " + target + ": HTTP " + std::to_string(response.status);
    std::string code;
    if (std::optional<PaletteApiError> error = parse_api_error(response.body)) {
      code = error->code;
      if (!error->code.empty()) what += " " + error->code;
      if (!error->message.empty()) what += ": " + error->message;
      if (!error->ref.empty()) what += " (ref " + error->ref + ")";
    } else if (!response.body.empty()) {
      what += ": " + printable_snippet(response.body);
    }
    if (response.status == 401 || response.status == 403) what += kAdminHint;
    what += note;
    return PaletteError(redact(what), response.status, redact(code), attempts);
  }

  // Parses a 2xx body; a malformed one is a PaletteError, never a partial result.
  template <class Parser>
  std::invoke_result_t<Parser, std::string_view> parse_answer(const Answer& answer, const std::string& method,
                                                              const std::string& target, Parser parse) const {
    try {
      return parse(answer.response.body);
    } catch (const PaletteFormatError& e) {
      throw PaletteError(redact("Palette " + method + " " + target + ": malformed response: " + e.what()),
                         answer.response.status, "", answer.attempts);
    }
  }

  void check_paging(int page, const std::string& token, std::unordered_set<std::string>& seen,
                    const std::string& method, const std::string& target) const {
    if (page >= kMaxPages || (!token.empty() && !seen.insert(token).second)) {
      throw PaletteError("Palette " + method + " " + target + ": paging does not advance (continue token repeats)",
                         200, "", 0);
    }
  }

  // Nothing the server sends back should carry our key, but an error message
  // is the last place it could leak from, so it is scrubbed on the way out.
  std::string redact(std::string text) const {
    const std::string& key = options_.api_key;
    if (key.empty()) return text;
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
      text.replace(at, key.size(), "[redacted]");
    }
    return text;
  }

  PaletteClientOptions options_;
  Endpoint endpoint_;
  HttpClient http_;
  RequestPacer pacer_;
  std::mt19937_64 rng_;
  PaletteClientStats stats_;
  bool stopping_ = false;
  std::set<net::steady_timer*> retry_waits_;  // the backoff waits in progress, for stop()
};

PaletteClient::PaletteClient(net::any_io_executor executor, PaletteClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(options))) {}

PaletteClient::~PaletteClient() = default;

net::awaitable<PaletteInventory> PaletteClient::read_inventory() { return impl_->read_inventory(); }

net::awaitable<MutationResult> PaletteClient::set_key_active(std::string key_uid, bool active) {
  return impl_->set_key_active(std::move(key_uid), active);
}

net::awaitable<MutationResult> PaletteClient::delete_key(std::string key_uid) {
  return impl_->delete_key(std::move(key_uid));
}

const PaletteClientStats& PaletteClient::stats() const { return impl_->stats(); }

void PaletteClient::stop() { impl_->stop(); }

}  // namespace keywarden

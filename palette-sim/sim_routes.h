// The simulator's HTTP face: answers the Palette API endpoints of
// reference/palette-api.md from a SimState, after the gateway behaviour
// (faults, rate limit, ApiKey check), and the /__sim/ control endpoints that
// tests use to inspect and steer it. README.md documents both.
//
// Not thread-safe: give the HttpServer an io_context run by one thread.
#pragma once

#include <utility>  // before awaitable.hpp: Boost 1.74's uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "daemon/server/http_server.h"
#include "palette-sim/call_log.h"
#include "palette-sim/rate_limiter.h"
#include "palette-sim/sim_faults.h"
#include "palette-sim/sim_state.h"

namespace palette_sim {

struct SimOptions {
  std::string api_key;  // the only ApiKey header value accepted; never logged
  double rate = 10;     // rate limit: tokens per second per (IP, prefix)
  double burst = 50;    // bucket size
  bool log_requests = true;  // one line per request on stderr
};

class SimRoutes {
 public:
  using Request = keywarden::server::Request;
  using Response = keywarden::server::Response;

  SimRoutes(SimState state, SimOptions options);

  // The HttpServer handler. Returns nullopt when a drop fault fires.
  boost::asio::awaitable<std::optional<Response>> handle(Request request);

  const SimState& state() const { return state_; }

  // Continue tokens of GET /v1/users: base64 of
  // {"offset":N,"count":C,"token":""}, the shape of the documented example.
  static std::string encode_continue(std::size_t offset, std::size_t count);
  // The offset, or nullopt for a token we did not make.
  static std::optional<std::size_t> decode_continue(std::string_view token);

 private:
  using Clock = std::chrono::steady_clock;

  Response control(const Request& req);
  Response api(const Request& req, Clock::time_point now);
  Response users(const Request& req, const std::vector<std::string>& segments);
  Response list_users(const Request& req);
  Response teams(const Request& req, const std::vector<std::string>& segments);
  // One page of a list with listmeta (GET /v1/users, GET /v1/teams):
  // `count` items, `item(i)` renders the i-th.
  Response list_page(const Request& req, std::size_t count, const std::function<Json(std::size_t)>& item);
  Response api_keys(const Request& req, const std::vector<std::string>& segments);
  Response set_key_state(const Request& req, const std::string& uid);

  std::int64_t wall_ms() const;
  std::int64_t uptime_ms(Clock::time_point now) const;
  bool key_matches(const std::optional<std::string>& value) const;
  void log_line(const Request& req, int status, Clock::time_point began) const;

  SimState state_;
  SimOptions options_;
  RateLimiter limiter_;
  FaultInjector faults_;
  CallLog calls_;
  Clock::time_point started_;
};

}  // namespace palette_sim

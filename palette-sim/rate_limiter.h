// Palette's documented rate limit (reference/palette-api.md §5): a token
// bucket per source IP and per parent resource prefix, so /v1/users and
// /v1/users/info share one budget. Requests past it get 429.
//
// Not thread-safe. Time is an argument, so tests need no clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace palette_sim {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate_per_second` tokens flow into each bucket; a bucket holds at most
  // `burst` and starts full. Palette: 10/s, burst 50.
  RateLimiter(double rate_per_second, double burst);

  // Takes a token from the bucket of (client, parent_prefix(path)). False
  // (and nothing taken) when the bucket is empty.
  bool allow(const std::string& client, std::string_view path, Clock::time_point now);

  // Refills every bucket.
  void reset() { buckets_.clear(); }

  // The first two segments of `path`: "/v1/apiKeys/abc/state" ->
  // "/v1/apiKeys". Shorter paths are their own prefix.
  static std::string parent_prefix(std::string_view path);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void refill(Bucket& b, Clock::time_point now) const;

  double rate_;
  double burst_;
  std::map<std::pair<std::string, std::string>, Bucket> buckets_;
};

}  // namespace palette_sim

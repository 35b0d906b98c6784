#include "palette-sim/rate_limiter.h"

#include <algorithm>
#include <iterator>

namespace palette_sim {
namespace {
// Buckets kept before full ones are forgotten (a full bucket is the same as
// no bucket), so a client inventing paths cannot grow memory without bound.
constexpr std::size_t kMaxBuckets = 10'000;
}  // namespace

RateLimiter::RateLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

std::string RateLimiter::parent_prefix(std::string_view path) {
  std::size_t slashes = 0;
  for (std::size_t i = 0; i < path.size(); ++i)
    if (path[i] == '/' && ++slashes == 3) return std::string(path.substr(0, i));
  return std::string(path);
}

void RateLimiter::refill(Bucket& b, Clock::time_point now) const {
  if (now <= b.updated) return;
  double seconds = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min(burst_, b.tokens + seconds * rate_);
  b.updated = now;
}

bool RateLimiter::allow(const std::string& client, std::string_view path, Clock::time_point now) {
  if (buckets_.size() > kMaxBuckets) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second, now);
      it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace({client, parent_prefix(path)}, Bucket{burst_, now});
  Bucket& b = it->second;
  refill(b, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace palette_sim

#include "daemon/base/backoff.h"

#include <algorithm>

namespace keywarden {

std::chrono::milliseconds Backoff::delay(int retry, std::mt19937_64& rng) const {
  const long long cap = std::max<long long>(max.count(), 0);
  long long d = std::clamp<long long>(base.count(), 0, cap);
  // Doubling stops at the cap, so a large retry count cannot overflow.
  for (int i = 0; i < retry && d < cap; ++i) d = std::min(cap, d * 2);
  const double share = std::clamp(floor_share, 0.0, 1.0);
  const long long floor = static_cast<long long>(static_cast<double>(d) * share);
  std::uniform_int_distribution<long long> pick(floor, d);
  return std::chrono::milliseconds(pick(rng));
}

}  // namespace keywarden

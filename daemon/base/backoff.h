// The one jittered exponential backoff that every retry loop uses (Palette,
// Okta, Graph, Keycloak, ...). Each vendor's rule is a parameterisation of
// it: how long the first wait is, its cap, and how much of each wait is
// random. Pure: the random source is an argument, so tests can pin it.
#pragma once

#include <chrono>
#include <random>

namespace keywarden {

struct Backoff {
  std::chrono::milliseconds base{500};   // the wait before the first retry, before jitter
  std::chrono::milliseconds max{30000};  // no wait is longer than this
  // The share of each wait that is fixed: the wait is uniform in
  // [floor_share * d, d] with d = min(max, base * 2^retry). 0 is "full
  // jitter" (clients that failed together do not retry together); 0.5 keeps
  // at least half of the exponential wait.
  double floor_share = 0.0;

  // The wait before retry number `retry` (0 for the first retry). Never
  // negative and never more than `max`, for any `retry`.
  std::chrono::milliseconds delay(int retry, std::mt19937_64& rng) const;
};

}  // namespace keywarden

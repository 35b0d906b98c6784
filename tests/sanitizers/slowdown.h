#pragma once

// How many times longer CPU-bound work may take in this build than in the
// optimized one, for the few tests that bound a CPU time to tell linear work
// from quadratic. scripts/sanitize.sh builds AddressSanitizer (with UBSan) at
// -O0, where such work measured about 6 times slower, and ThreadSanitizer at
// -O1. The bounds stay far below what the quadratic code took either way.
namespace keywarden {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr double kSanitizerSlowdown = 8.0;
#else
inline constexpr double kSanitizerSlowdown = 1.0;
#endif

}  // namespace keywarden

// When to try a Palette request again: exponential backoff with full jitter,
// and the server's Retry-After. Pure functions, so the policy is testable
// without a clock or a server.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string_view>

namespace keywarden {

// The wait before retry number `retry` (0 for the first retry): uniform in
// [0, min(max, base * 2^retry)] ("full jitter"), so that clients that failed
// together do not retry together.
std::chrono::milliseconds backoff_delay(int retry, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        std::mt19937_64& rng);

// A Retry-After value (RFC 9110 §10.2.3), delta-seconds or an HTTP-date in
// any of its three forms, as a wait from `now`. A date in the past is a zero
// wait. nullopt when the value is empty or neither form.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

}  // namespace keywarden

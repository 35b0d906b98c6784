// When to try a request again: the server's Retry-After. (The backoff itself
// is daemon/base/backoff.h.) Pure, so it is testable without a clock or a
// server.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string_view>

namespace keywarden {

// A Retry-After value (RFC 9110 §10.2.3), delta-seconds or an HTTP-date in
// any of its three forms, as a wait from `now`. A date in the past is a zero
// wait. nullopt when the value is empty or neither form.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

}  // namespace keywarden

// Faults the simulator injects into API requests, switched at run time by
// POST /__sim/faults. Every random choice comes from one generator that a
// "seed" makes deterministic: the same faults, seed and request sequence
// give the same answers.
//
// Not thread-safe. Time is an argument.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>

namespace palette_sim {

class FaultInjector {
 public:
  using Clock = std::chrono::steady_clock;

  FaultInjector();

  // Replaces the whole configuration with `config` (fields as in README.md;
  // absent fields are off, so {} clears every fault). Returns an error
  // message, and changes nothing, when a field has the wrong type or range.
  std::optional<std::string> configure(const nlohmann::json& config, Clock::time_point now);

  // The configuration in force, storm time left included.
  nlohmann::json describe(Clock::time_point now) const;

  // Delay to add before answering.
  std::chrono::milliseconds latency() const { return latency_; }
  // Draws: drop this request's connection without answering?
  bool should_drop();
  // Inside a 429 storm?
  bool in_storm(Clock::time_point now) const { return now < storm_until_; }
  // Seconds for a Retry-After header on 429s, when configured.
  std::optional<int> retry_after() const { return retry_after_; }
  // Draws: 500, 502 or 503 for this request, or nullopt.
  std::optional<int> server_error();

 private:
  double uniform();

  double five_xx_rate_ = 0;
  double drop_rate_ = 0;
  std::chrono::milliseconds latency_{0};
  Clock::time_point storm_until_{};
  std::optional<int> retry_after_;
  std::optional<std::uint64_t> seed_;
  std::mt19937_64 rng_;
};

}  // namespace palette_sim

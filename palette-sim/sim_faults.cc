#include "palette-sim/sim_faults.h"

#include <cmath>

namespace palette_sim {
namespace {

// Reads a number field; error text on a wrong type or range.
std::optional<std::string> read_number(const nlohmann::json& j, const char* key, double lo, double hi,
                                       double& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number() || it->is_boolean()) return std::string(key) + " must be a number";
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    return std::string(key) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi);
  out = v;
  return std::nullopt;
}

}  // namespace

FaultInjector::FaultInjector() : rng_(std::random_device{}()) {}

std::optional<std::string> FaultInjector::configure(const nlohmann::json& config, Clock::time_point now) {
  if (!config.is_object()) return "the faults body must be a JSON object";
  static const char* const known[] = {"five_xx_rate", "storm_429", "retry_after", "latency_ms", "drop_rate",
                                      "seed"};
  for (const auto& [key, value] : config.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) return "unknown fault \"" + key + "\"";
  }
  double five_xx = 0, storm = 0, retry = -1, latency = 0, drop = 0;
  for (auto err : {read_number(config, "five_xx_rate", 0, 1, five_xx), read_number(config, "storm_429", 0, 86400, storm),
                   read_number(config, "retry_after", 0, 86400, retry),
                   read_number(config, "latency_ms", 0, 600'000, latency), read_number(config, "drop_rate", 0, 1, drop)})
    if (err) return err;
  std::optional<std::uint64_t> seed;
  if (auto it = config.find("seed"); it != config.end() && !it->is_null()) {
    if (!it->is_number_integer()) return "seed must be an integer";
    seed = it->is_number_unsigned() ? it->get<std::uint64_t>() : static_cast<std::uint64_t>(it->get<std::int64_t>());
  }
  seed_ = seed;
  five_xx_rate_ = five_xx;
  drop_rate_ = drop;
  latency_ = std::chrono::milliseconds(static_cast<std::int64_t>(latency));
  storm_until_ = storm > 0 ? now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(storm))
                           : Clock::time_point{};
  retry_after_ = retry >= 0 ? std::optional<int>(static_cast<int>(std::ceil(retry))) : std::nullopt;
  if (seed_) rng_.seed(*seed_);
  return std::nullopt;
}

nlohmann::json FaultInjector::describe(Clock::time_point now) const {
  nlohmann::json out = {{"five_xx_rate", five_xx_rate_},
                        {"drop_rate", drop_rate_},
                        {"latency_ms", latency_.count()},
                        {"storm_429", in_storm(now) ? std::chrono::duration<double>(storm_until_ - now).count() : 0.0}};
  if (retry_after_) out["retry_after"] = *retry_after_;
  if (seed_) out["seed"] = *seed_;
  return out;
}

double FaultInjector::uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

bool FaultInjector::should_drop() { return drop_rate_ > 0 && uniform() < drop_rate_; }

std::optional<int> FaultInjector::server_error() {
  if (five_xx_rate_ <= 0 || uniform() >= five_xx_rate_) return std::nullopt;
  static const int statuses[] = {500, 502, 503};
  return statuses[rng_() % 3];
}

}  // namespace palette_sim

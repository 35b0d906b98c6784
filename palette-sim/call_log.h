// The log of API requests the simulator received, in arrival order, for tests
// to assert on (GET /__sim/calls). Secrets never enter it: the caller passes
// headers and query already redacted.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace palette_sim {

struct Call {
  std::string method;
  std::string path;
  std::string query;
  int status = 0;  // 0 while in flight, and for a dropped connection
  std::int64_t time_ms = 0;  // arrival, monotonic ms since the simulator started
  std::int64_t unix_us = 0;  // arrival, wall clock in µs: benchmarks match it with their own clock
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

class CallLog {
 public:
  using Id = std::uint64_t;

  // Appends a call and returns its id (valid for finish() until reset()).
  // When the log is full the oldest entry is forgotten.
  Id begin(Call call);
  // Records the status answered (0: dropped). Ignores ids forgotten since.
  void finish(Id id, int status);
  // Forgets every call; later finish() of earlier ids are ignored.
  void reset();

  // [{"method","path","query","status","time_ms","unix_us","body","headers"}...]
  nlohmann::json to_json() const;

  static constexpr std::size_t kCapacity = 100'000;

 private:
  std::deque<Call> calls_;
  Id first_id_ = 0;  // id of calls_.front()
  Id next_id_ = 0;
};

}  // namespace palette_sim

#include "palette-sim/call_log.h"

namespace palette_sim {

CallLog::Id CallLog::begin(Call call) {
  if (calls_.size() >= kCapacity) {
    calls_.pop_front();
    ++first_id_;
  }
  calls_.push_back(std::move(call));
  return next_id_++;
}

void CallLog::finish(Id id, int status) {
  if (id < first_id_ || id >= next_id_) return;
  calls_[id - first_id_].status = status;
}

void CallLog::reset() {
  calls_.clear();
  first_id_ = next_id_;
}

nlohmann::json CallLog::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : calls_)
    out.push_back({{"method", c.method},
                   {"path", c.path},
                   {"query", c.query},
                   {"status", c.status},
                   {"time_ms", c.time_ms},
                   {"unix_us", c.unix_us},
                   {"body", c.body},
                   {"headers", c.headers}});
  return out;
}

}  // namespace palette_sim

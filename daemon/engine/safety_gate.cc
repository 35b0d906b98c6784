#include "daemon/engine/safety_gate.h"

#include <algorithm>
#include <cstdio>
#include <unordered_set>

namespace keywarden {

long entitled_population(const std::vector<Identity>& identities, const std::vector<std::string>& entitled_groups) {
  const std::unordered_set<std::string> entitled(entitled_groups.begin(), entitled_groups.end());
  return std::count_if(identities.begin(), identities.end(), [&](const Identity& id) {
    if (id.status != IdentityStatus::active) return false;
    if (entitled.empty()) return true;
    return std::any_of(id.groups.begin(), id.groups.end(), [&](const std::string& g) { return entitled.count(g) > 0; });
  });
}

GateDecision check_thresholds(const std::vector<Action>& actions, size_t inventory_size,
                              const SafetyLimits& limits, long recent_revocations) {
  const long planned = std::count_if(actions.begin(), actions.end(),
                                     [](const Action& a) { return a.kind == ActionKind::revoke; });
  if (planned == 0) return {};
  const long total = planned + std::max(0L, recent_revocations);
  char buf[200];
  if (total > limits.max_revocations) {
    std::snprintf(buf, sizeof buf, "would revoke %ld keys (%ld planned, %ld recent), more than max_revocations %ld",
                  total, planned, std::max(0L, recent_revocations), limits.max_revocations);
    return {true, buf};
  }
  if (inventory_size > 0) {
    const double percent = 100.0 * static_cast<double>(total) / static_cast<double>(inventory_size);
    if (percent > limits.max_revocations_percent) {
      std::snprintf(buf, sizeof buf,
                    "would revoke %ld of %zu keys (%.1f%%), more than max_revocations_percent %g",
                    total, inventory_size, percent, limits.max_revocations_percent);
      return {true, buf};
    }
  }
  return {};
}

bool shrank_too_much(long previous, long current, double max_shrink_percent) {
  if (previous <= 0 || current >= previous) return false;
  const double shrink = 100.0 * static_cast<double>(previous - current) / static_cast<double>(previous);
  return shrink > max_shrink_percent;
}

}  // namespace keywarden

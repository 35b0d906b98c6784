// The safety gate of SPEC §5: thresholds that hold a plan back, and the
// shrink rule that turns a suspicious read into a failed one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/plan.h"
#include "daemon/engine/policy.h"

namespace keywarden {

struct GateDecision {
  bool quarantine = false;
  std::string reason;  // why it was held, for status, logs and `plan --json`
};

// Counts the plan's revocations plus `recent_revocations` (push-driven
// revocations already done in the rolling window) against max_revocations
// and max_revocations_percent of `inventory_size` keys.
GateDecision check_thresholds(const std::vector<Action>& actions, size_t inventory_size,
                              const SafetyLimits& limits, long recent_revocations = 0);

// The entitled population of a read, as max_shrink_percent counts it: active
// identities in one of `entitled_groups` (all active ones when it is empty).
long entitled_population(const std::vector<Identity>& identities, const std::vector<std::string>& entitled_groups);

// True when a source's entitled population fell from `previous` to `current`
// by more than max_shrink_percent. `previous` < 0 means no earlier good read.
bool shrank_too_much(long previous, long current, double max_shrink_percent);

}  // namespace keywarden

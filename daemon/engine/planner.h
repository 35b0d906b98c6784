// The pure planner of SPEC §4: identities + Palette's inventory + policy +
// the current time → a verdict for every key.
//
// No I/O, no clock, no globals: every input is an argument, so the same input
// always gives the same verdicts. Callers own all the data; the planner only
// reads it during the call.
#pragma once

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/palette_inventory.h"
#include "daemon/engine/plan.h"
#include "daemon/engine/policy.h"

namespace keywarden {

struct PlanInput {
  Timestamp now{};
  const PaletteInventory* inventory = nullptr;
  const std::vector<IdentityRecord>* identities = nullptr;  // every source's, last good state
  const std::unordered_map<std::string, RevokedKeyRecord>* revoked_by_us = nullptr;
  // Sources whose last read failed, or that never had a good read. No revoke
  // or delete may rest on what they say (SPEC §5).
  std::set<std::string> unhealthy_sources;
  const Policy* policy = nullptr;
};

// One verdict per key of the inventory, in inventory order.
std::vector<KeyVerdict> judge_keys(const PlanInput& input);

// The plan those verdicts make: the `act` verdicts' actions, in order.
Plan make_plan(std::string plan_id, Timestamp now, std::vector<KeyVerdict> verdicts);

// True when `name` matches the glob `pattern` (fnmatch: * ? [...]).
bool key_name_matches(const std::string& pattern, const std::string& name);

}  // namespace keywarden

// A synthetic tenant at the scale SPEC §7 names: identities with group
// memberships, Palette users and keys, for the benchmarks.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/palette_inventory.h"
#include "daemon/engine/plan.h"
#include "daemon/engine/policy.h"

namespace keywarden::bench {

struct TenantFixture {
  std::vector<Identity> identities;             // what a source reports
  std::vector<IdentityRecord> records;          // the same, as the store returns them
  PaletteInventory inventory;
  std::unordered_map<std::string, RevokedKeyRecord> revoked;
  Policy policy;
};

// What make_tenant builds: everything, or only Palette's side (inventory,
// policy). A benchmark that reads the identities from a store wants only
// the latter, so that the process's peak memory is not the fixture's.
enum class TenantParts { all, palette_only };

// `people` identities with `groups_per_person` memberships each (from a pool
// of 1,000 groups, one of them "palette-users"), one Palette user per person
// and `keys` keys spread over them. About 5 % of people are inactive, 2 %
// deleted and 3 % outside the entitled group. The random draws are the same
// whatever `parts` is, so palette_only gives the very inventory that all does.
TenantFixture make_tenant(size_t people, size_t groups_per_person, size_t keys, Timestamp now,
                          TenantParts parts = TenantParts::all);

}  // namespace keywarden::bench

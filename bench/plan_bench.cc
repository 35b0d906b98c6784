// The engine's speed at the scale of SPEC §7: a full plan over 100,000
// identities, 1,000,000 memberships and 250,000 keys, and a one-user change.
#include <benchmark/benchmark.h>

#include "bench/tenant_fixture.h"
#include "daemon/engine/planner.h"

namespace keywarden::bench {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-26T10:00:00Z");

const TenantFixture& full_tenant() {
  static const TenantFixture t = make_tenant(100'000, 10, 250'000, kNow);
  return t;
}

void BM_FullPlan(benchmark::State& state) {
  const auto& t = full_tenant();
  PlanInput in;
  in.now = kNow;
  in.inventory = &t.inventory;
  in.identities = &t.records;
  in.revoked_by_us = &t.revoked;
  in.policy = &t.policy;
  size_t actions = 0;
  for (auto _ : state) {
    auto plan = make_plan("p-bench", kNow, judge_keys(in));
    actions = plan.actions.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["keys"] = static_cast<double>(t.inventory.keys.size());
  state.counters["actions"] = static_cast<double>(actions);
}
BENCHMARK(BM_FullPlan)->Unit(benchmark::kMillisecond)->Iterations(3);

// A push changed one person: plan over that person's identities and keys only.
void BM_OneUserChange(benchmark::State& state) {
  const auto& t = full_tenant();
  const std::string email = "person4242@example.com";
  std::vector<IdentityRecord> ids;
  for (const auto& r : t.records) {
    if (r.email == email) ids.push_back(r);
  }
  ids.front().status = IdentityStatus::inactive;
  PaletteInventory scoped;
  scoped.self_user_uid = t.inventory.self_user_uid;
  scoped.users_by_uid.emplace("user-4242", t.inventory.users_by_uid.at("user-4242"));
  for (const auto& k : t.inventory.keys) {
    if (k.owner_uid == "user-4242") scoped.keys.push_back(k);
  }
  PlanInput in;
  in.now = kNow;
  in.inventory = &scoped;
  in.identities = &ids;
  in.revoked_by_us = &t.revoked;
  in.policy = &t.policy;
  for (auto _ : state) {
    auto plan = make_plan("p-one", kNow, judge_keys(in));
    benchmark::DoNotOptimize(plan);
  }
  state.counters["keys"] = static_cast<double>(scoped.keys.size());
}
BENCHMARK(BM_OneUserChange)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace keywarden::bench

BENCHMARK_MAIN();

// plan and keys: read everything, decide, change nothing. They run on a
// scratch copy of the store so that even the bookkeeping of the reads
// (first-seen times, source health) is thrown away afterwards.
#include <iostream>

#include "daemon/app/plan_output.h"
#include "daemon/cli/command_context.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/exit_codes.h"

namespace keywarden {

namespace {

struct DryRun {
  std::vector<SourceReadOutcome> reads;
  Plan plan;
};

// What a sync would do now: finish pending journaled work, then the plan.
DryRun dry_run(CommandContext& ctx) {
  auto& reconciler = ctx.reconciler(StoreMode::scratch);
  return ctx.run([&]() -> boost::asio::awaitable<DryRun> {
    const Timestamp now = now_utc();
    DryRun out;
    auto inventory = co_await ctx.palette().read_inventory();
    std::vector<Action> pending;
    for (const auto& entry : ctx.store(StoreMode::scratch).pending_intents()) pending.push_back(entry.action);
    apply_to_inventory(inventory, pending);
    out.reads = co_await reconciler.read_sources(inventory, now);
    Plan plan = reconciler.plan(inventory, now);
    plan.actions.insert(plan.actions.begin(), pending.begin(), pending.end());
    SettleOptions dry_run;
    dry_run.dry_run = true;
    out.plan = (co_await reconciler.settle(std::move(plan), inventory, now, dry_run)).plan;
    co_return out;
  }());
}

}  // namespace

int plan_command(const GlobalOptions& g, bool json, bool detailed_exitcode) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  const DryRun result = dry_run(ctx);
  if (json) {
    std::cout << plan_to_json(result.plan, result.reads).dump(2) << std::endl;
  } else {
    print_plan_table(std::cout, result.plan, result.reads);
  }
  if (detailed_exitcode && !result.plan.actions.empty()) return kExitChanges;
  return kExitOk;
}

int keys_command(const GlobalOptions& g, bool json) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  const DryRun result = dry_run(ctx);
  if (json) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& v : result.plan.verdicts) keys.push_back(verdict_to_json(v));
    std::cout << nlohmann::json{{"generated_at", format_rfc3339(result.plan.generated_at)}, {"keys", keys}}.dump(2)
              << std::endl;
  } else {
    print_verdict_table(std::cout, result.plan.verdicts);
  }
  return kExitOk;
}

}  // namespace keywarden

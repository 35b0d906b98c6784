// sync, approve and reject: the commands that change Palette.
#include <unistd.h>

#include <iostream>
#include <set>

#include "daemon/app/log.h"
#include "daemon/app/plan_output.h"
#include "daemon/cli/command_context.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/exit_codes.h"

namespace keywarden {

namespace {

// Asks on a terminal; anything but y/yes declines. Without a terminal (cron,
// systemd, CI) there is nobody to ask and the command proceeds.
bool confirm_on_terminal(const Plan& plan) {
  if (!isatty(STDIN_FILENO)) return true;
  std::cout << "Carry out " << plan.actions.size() << " action(s) against Palette? [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

std::string summarize(const ExecutionReport& r) {
  long revoked = 0, reactivated = 0, deleted = 0;
  for (const auto& a : r.completed) {
    if (a.kind == ActionKind::revoke) ++revoked;
    if (a.kind == ActionKind::reactivate) ++reactivated;
    if (a.kind == ActionKind::delete_key) ++deleted;
  }
  return "revoked " + std::to_string(revoked) + ", reactivated " + std::to_string(reactivated) + ", deleted " +
         std::to_string(deleted) + ", failed " + std::to_string(r.failed) + ", pending " + std::to_string(r.pending);
}

struct Prepared {
  std::vector<SourceReadOutcome> reads;
  PaletteInventory inventory;
  ExecutionReport resumed;
};

// The first half of every changing command: read Palette, finish what an
// interrupted run left in the journal, and read the sources.
boost::asio::awaitable<Prepared> prepare(CommandContext& ctx, Timestamp now) {
  auto& reconciler = ctx.reconciler();
  Prepared p;
  p.inventory = co_await ctx.palette().read_inventory();
  p.resumed = co_await reconciler.executor().resume_pending(p.inventory);
  apply_to_inventory(p.inventory, p.resumed.completed);
  p.reads = co_await reconciler.read_sources(p.inventory, now);
  co_return p;
}

}  // namespace

int sync_command(const GlobalOptions& g, bool yes) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  auto& reconciler = ctx.reconciler();
  const Timestamp now = now_utc();
  Prepared p = ctx.run(prepare(ctx, now));
  if (p.resumed.pending > 0) {
    std::cerr << "keywarden: Palette is unavailable; " << p.resumed.pending
              << " journaled action(s) stay pending for the next run\n";
    reconciler.record_result("", "palette_unavailable", now_utc());
    return kExitRuntime;
  }
  SettleOptions options;
  bool printed = false;
  options.confirm = [&](const Plan& plan) {
    print_plan_table(std::cout, plan, p.reads);
    std::cout << std::flush;  // the plan before the log lines of its execution
    printed = true;
    return yes || confirm_on_terminal(plan);
  };
  const ReconcileOutcome out = ctx.run(reconciler.settle(reconciler.plan(p.inventory, now), p.inventory, now, options));
  ctx.store().replace_stale_team_memberships(out.plan.stale_teams, now);  // SPEC §9, for `status`
  if (out.result == "quarantined") {
    print_plan_table(std::cout, out.plan, p.reads);
    std::cout << "nothing was changed; review with `keywarden status`, then `keywarden approve " << out.plan.plan_id
              << "` or `keywarden reject " << out.plan.plan_id << "`\n";
    reconciler.record_result(out.plan.plan_id, out.result, now_utc());
    return kExitQuarantine;
  }
  if (!printed) print_plan_table(std::cout, out.plan, p.reads);
  if (out.result == "declined") {
    std::cout << "declined; nothing was changed\n";
    return kExitOk;
  }
  ExecutionReport executed = out.executed;
  executed.merge(p.resumed);
  std::cout << summarize(executed) << "\n";
  const bool clean = executed.failed == 0 && executed.pending == 0;
  reconciler.record_result(out.plan.plan_id, clean ? "ok" : "incomplete", now_utc());
  return clean ? kExitOk : kExitRuntime;
}

int approve_command(const GlobalOptions& g, const std::string& plan_id) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  Store& store = ctx.store();
  const auto held = store.quarantined_plan(plan_id);
  if (!held) throw UsageError{"keywarden: no quarantined plan " + plan_id};
  if (held->state != QuarantineState::pending) throw UsageError{"keywarden: plan " + plan_id + " was already resolved"};

  auto& reconciler = ctx.reconciler();
  const Timestamp now = now_utc();
  Prepared p = ctx.run(prepare(ctx, now));
  if (p.resumed.pending > 0) {
    std::cerr << "keywarden: Palette is unavailable; try again later\n";
    return kExitRuntime;
  }
  // Still valid: the same action on the same key is what a plan made now would do.
  const Plan fresh = reconciler.plan(p.inventory, now);
  std::set<std::pair<ActionKind, std::string>> wanted;
  for (const auto& a : fresh.actions) wanted.emplace(a.kind, a.key_uid);
  std::vector<Action> valid;
  for (const auto& a : held->actions) {
    if (wanted.count({a.kind, a.key_uid})) {
      valid.push_back(a);
      continue;
    }
    AuditEntry e{now, plan_id, std::string(to_string(a.kind)), a.key_uid, a.key_name, a.owner_uid, a.owner_email,
                 std::string(to_string(a.reason)), a.source, "skipped", 0, 0, "no longer valid at approval"};
    store.append_audit(e);
  }
  store.resolve_quarantine(plan_id, QuarantineState::approved, now);
  logger().info("quarantined plan approved",
                {{"plan_id", plan_id}, {"valid", std::to_string(valid.size())},
                 {"skipped", std::to_string(held->actions.size() - valid.size())}});
  Plan approved;
  approved.plan_id = plan_id;
  approved.generated_at = now;
  approved.actions = std::move(valid);
  SettleOptions options;
  options.gated = false;  // a person released it
  const size_t still_valid = approved.actions.size();
  ExecutionReport executed = ctx.run(reconciler.settle(std::move(approved), p.inventory, now, options)).executed;
  executed.merge(p.resumed);
  std::cout << "plan " << plan_id << " approved: " << still_valid << " of " << held->actions.size()
            << " action(s) still valid; " << summarize(executed) << "\n";
  reconciler.record_result(plan_id, executed.failed == 0 && executed.pending == 0 ? "ok" : "incomplete", now_utc());
  return executed.failed == 0 && executed.pending == 0 ? kExitOk : kExitRuntime;
}

int reject_command(const GlobalOptions& g, const std::string& plan_id) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  Store& store = ctx.store();
  const auto held = store.quarantined_plan(plan_id);
  if (!held) throw UsageError{"keywarden: no quarantined plan " + plan_id};
  if (held->state != QuarantineState::pending) throw UsageError{"keywarden: plan " + plan_id + " was already resolved"};
  const Timestamp now = now_utc();
  store.resolve_quarantine(plan_id, QuarantineState::rejected, now);
  for (const auto& a : held->actions) {
    AuditEntry e{now, plan_id, std::string(to_string(a.kind)), a.key_uid, a.key_name, a.owner_uid, a.owner_email,
                 std::string(to_string(a.reason)), a.source, "skipped", 0, 0, "plan rejected"};
    store.append_audit(e);
  }
  logger().info("quarantined plan rejected", {{"plan_id", plan_id}});
  std::cout << "plan " << plan_id << " rejected: " << held->actions.size() << " action(s) discarded\n";
  return kExitOk;
}

}  // namespace keywarden

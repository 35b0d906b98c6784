#include "daemon/app/reconciler.h"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "connectors/blocking_work.h"
#include "daemon/app/log.h"
#include "daemon/engine/planner.h"

namespace keywarden {

Reconciler::Reconciler(const Config& config, Store& store, PaletteClient& palette,
                       std::vector<std::unique_ptr<Source>>& sources)
    : config_(config), store_(store), palette_(palette), sources_(sources), executor_(store, palette) {}

namespace {

// One good read of `source` judged and stored: the shrink rule, then the
// write. Empty when stored, else why the read is refused. Runs on the
// blocking pool with values copied from the config (a SIGHUP may change it
// meanwhile) and frees the read there too: at 100,000 users all of this is
// seconds of CPU the I/O thread must not spend.
std::string judge_and_store(Store& store, const std::string& source, FullRead read,
                            const std::vector<std::string>& entitled_groups, double max_shrink_percent,
                            Timestamp now) {
  const long entitled = entitled_population(read.identities, entitled_groups);
  const auto health = store.source_health(source);
  const long previous = health ? health->entitled_count : -1;
  if (shrank_too_much(previous, entitled, max_shrink_percent)) {
    return "entitled population shrank from " + std::to_string(previous) + " to " + std::to_string(entitled) +
           ", more than max_shrink_percent " + std::to_string(static_cast<int>(max_shrink_percent)) +
           "; treated as a bad read";
  }
  store.apply_full_read(source, read.identities, entitled, now, read.cursors);
  return "";
}

}  // namespace

ReadContext Reconciler::read_context(const Source& source, const PaletteInventory& inventory, Timestamp now) const {
  ReadContext context;
  context.now = now;
  context.state = store_.values(Store::cursor_scope(source.name()));
  std::set<std::string> owners;
  for (const PaletteKey& key : inventory.keys) {
    const auto user = inventory.users_by_uid.find(key.owner_uid);
    if (user == inventory.users_by_uid.end() || user->second.email.empty()) continue;
    if (key.owner_uid == inventory.self_user_uid) continue;
    owners.insert(user->second.email);
  }
  for (const std::string& exempt : config_.policy.exempt_users) owners.erase(normalize_email(exempt));
  context.owner_emails.assign(owners.begin(), owners.end());
  return context;
}

boost::asio::awaitable<std::vector<SourceReadOutcome>> Reconciler::read_sources(const PaletteInventory& inventory,
                                                                                Timestamp now) {
  std::vector<SourceReadOutcome> outcomes;
  for (auto& source : sources_) {
    if (!source->polls()) continue;
    SourceReadOutcome outcome;
    outcome.source = source->name();
    try {
      const ReadContext context = read_context(*source, inventory, now);
      FullRead read = co_await source->read_all(context);
      const size_t count = read.identities.size();
      // Nothing else uses this store connection until the job is done.
      auto op = run_blocking([store = &store_, name = source->name(), read = std::move(read),
                              groups = config_.policy.entitled_groups,
                              max_shrink = config_.safety.max_shrink_percent, now]() mutable {
        return judge_and_store(*store, name, std::move(read), groups, max_shrink, now);
      });
      outcome.error = co_await std::move(op);
      outcome.ok = outcome.error.empty();
      if (outcome.ok) outcome.identities = count;
    } catch (const SourceReadError& e) {
      outcome.error = e.what();
    } catch (const std::exception& e) {
      outcome.error = std::string("read failed: ") + e.what();
    }
    if (!outcome.ok) {
      store_.record_read_failure(source->name(), outcome.error, now);
      logger().warn("source read failed; its last good state stays in force and no revoke or delete rests on it",
                    {{"source", outcome.source}, {"error", outcome.error}});
    } else {
      logger().debug("source read", {{"source", outcome.source}, {"identities", std::to_string(outcome.identities)}});
    }
    outcomes.push_back(std::move(outcome));
  }
  co_return outcomes;
}

std::set<std::string> Reconciler::unhealthy_sources() const {
  std::set<std::string> out;
  for (const auto& source : sources_) {
    if (!source->polls()) continue;  // a push source's state is what it pushed
    const auto health = store_.source_health(source->name());
    if (!health || !health->healthy) out.insert(source->name());
  }
  return out;
}

Plan Reconciler::plan(const PaletteInventory& inventory, Timestamp now,
                      const std::optional<std::set<std::string>>& owner_emails) const {
  std::vector<IdentityRecord> identities;
  PaletteInventory scoped;
  const PaletteInventory* judged = &inventory;
  if (owner_emails) {
    scoped.self_user_uid = inventory.self_user_uid;
    scoped.tenant_uid = inventory.tenant_uid;
    // Only the owners' Palette users are copied: this runs for every push,
    // on the I/O thread, and a copy of every user of a 100,000-user tenant
    // would cost tens of ms each time. The planner looks up nothing but the
    // owners of the keys it judges, and the team rule only their teams.
    for (const auto& [uid, user] : inventory.users_by_uid) {
      if (owner_emails->count(user.email)) scoped.users_by_uid.emplace(uid, user);
    }
    // Identities are loaded for the owners of the keys judged only: a SCIM
    // PATCH that adds 20,000 group members (few of whom own a key) then costs
    // a lookup per key owner, not 20,000 lookups on the I/O thread.
    std::set<std::string> key_owners;
    if (!scoped.users_by_uid.empty()) {
      for (const auto& key : inventory.keys) {
        if (const auto owner = scoped.users_by_uid.find(key.owner_uid); owner != scoped.users_by_uid.end()) {
          scoped.keys.push_back(key);
          key_owners.insert(owner->second.email);
        }
      }
    }
    for (const auto& email : key_owners) {
      auto found = store_.load_identities_by_email(email);
      std::move(found.begin(), found.end(), std::back_inserter(identities));
    }
    judged = &scoped;
  } else {
    identities = store_.load_identities();
  }
  const auto revoked = store_.revoked_keys();
  PlanInput input;
  input.now = now;
  input.inventory = judged;
  input.identities = &identities;
  input.revoked_by_us = &revoked;
  input.unhealthy_sources = unhealthy_sources();
  input.policy = &config_.policy;
  return make_plan(new_plan_id(), now, judge_keys(input));
}

boost::asio::awaitable<ReconcileOutcome> Reconciler::settle(Plan plan, PaletteInventory& inventory, Timestamp now,
                                                            SettleOptions options) {
  ReconcileOutcome out;
  if (options.gated) {
    out.gate = check_thresholds(plan.actions, inventory.keys.size(), config_.safety, options.recent_revocations);
  }
  plan.blocked = out.gate.quarantine;
  plan.block_reason = out.gate.reason;
  if (options.dry_run) {
    out.result = "dry_run";
  } else if (out.gate.quarantine) {
    plan.plan_id = quarantine(plan, out.gate.reason, now);
    logger().warn("plan quarantined by the safety gate", {{"plan_id", plan.plan_id},
                                                          {"reason", out.gate.reason},
                                                          {"actions", std::to_string(plan.actions.size())}});
    out.result = "quarantined";
  } else if (!plan.actions.empty() && options.confirm && !options.confirm(plan)) {
    out.result = "declined";
  } else {
    out.result = "ok";
    if (!plan.actions.empty()) {
      out.executed = co_await executor_.carry_out(plan.plan_id, plan.actions);
      apply_to_inventory(inventory, out.executed.completed);
      if (out.executed.failed || out.executed.pending) out.result = "incomplete";
    }
  }
  out.plan = std::move(plan);
  co_return out;
}

void Reconciler::record_result(const std::string& plan_id, const std::string& result, Timestamp now) {
  store_.set_value("reconcile", "last_time", std::to_string(now.time_since_epoch().count()));
  store_.set_value("reconcile", "last_plan_id", plan_id);
  store_.set_value("reconcile", "last_result", result);
}

std::string Reconciler::quarantine(const Plan& plan, const std::string& reason, Timestamp now) {
  auto signature = [](const std::vector<Action>& actions) {
    std::vector<std::pair<std::string, std::string>> s;
    for (const auto& a : actions) s.emplace_back(std::string(to_string(a.kind)), a.key_uid);
    std::sort(s.begin(), s.end());
    return s;
  };
  const auto wanted = signature(plan.actions);
  for (const auto& held : store_.quarantined_plans(/*pending_only=*/true)) {
    if (signature(held.actions) == wanted) return held.plan_id;
  }
  store_.quarantine_plan(plan.plan_id, plan.actions, reason, now);
  return plan.plan_id;
}

std::string new_plan_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = "p-";
  uint64_t v = rng();
  for (int i = 0; i < 12; ++i, v >>= 4) id.push_back(hex[v & 0xf]);
  return id;
}

}  // namespace keywarden

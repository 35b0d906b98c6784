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

long Reconciler::entitled_population(const std::vector<Identity>& identities) const {
  const auto& groups = config_.policy.entitled_groups;
  const std::unordered_set<std::string> entitled(groups.begin(), groups.end());
  return std::count_if(identities.begin(), identities.end(), [&](const Identity& id) {
    if (id.status != IdentityStatus::active) return false;
    if (entitled.empty()) return true;
    return std::any_of(id.groups.begin(), id.groups.end(), [&](const std::string& g) { return entitled.count(g) > 0; });
  });
}

boost::asio::awaitable<std::vector<SourceReadOutcome>> Reconciler::read_sources(Timestamp now) {
  std::vector<SourceReadOutcome> outcomes;
  for (auto& source : sources_) {
    if (!source->polls()) continue;
    SourceReadOutcome outcome;
    outcome.source = source->name();
    try {
      const FullRead read = co_await source->read_all();
      const auto& identities = read.identities;
      const long entitled = entitled_population(identities);
      const auto health = store_.source_health(source->name());
      const long previous = health ? health->entitled_count : -1;
      if (shrank_too_much(previous, entitled, config_.safety.max_shrink_percent)) {
        outcome.error = "entitled population shrank from " + std::to_string(previous) + " to " +
                        std::to_string(entitled) + ", more than max_shrink_percent " +
                        std::to_string(static_cast<int>(config_.safety.max_shrink_percent)) +
                        "; treated as a bad read";
      } else {
        // At 100,000 identities this is seconds of SQLite work: off the I/O
        // thread, which keeps serving pushes, hooks and /readyz meanwhile.
        // Nothing else uses this store connection until it is done.
        Store* store = &store_;
        const std::string name = source->name();
        auto op = run_blocking([store, &name, &identities, entitled, now, &read] {
          store->apply_full_read(name, identities, entitled, now, read.cursors);
          return true;
        });
        co_await std::move(op);
        outcome.ok = true;
        outcome.identities = identities.size();
      }
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
    for (const auto& email : *owner_emails) {
      auto found = store_.load_identities_by_email(email);
      std::move(found.begin(), found.end(), std::back_inserter(identities));
    }
    scoped.self_user_uid = inventory.self_user_uid;
    scoped.tenant_uid = inventory.tenant_uid;
    scoped.users_by_uid = inventory.users_by_uid;
    for (const auto& key : inventory.keys) {
      const auto user = inventory.users_by_uid.find(key.owner_uid);
      if (user != inventory.users_by_uid.end() && owner_emails->count(user->second.email)) scoped.keys.push_back(key);
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

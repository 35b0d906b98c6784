// One reconcile, step by step: read the sources into the store, read
// Palette, finish journaled work, plan, pass the plan through the safety gate,
// and carry it out. The CLI commands and the daemon loop are built from these
// steps; none of them decides anything itself (the engine does).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "connectors/source.h"
#include "daemon/app/executor.h"
#include "daemon/engine/plan.h"
#include "daemon/engine/safety_gate.h"
#include "daemon/palette/palette_client.h"
#include "daemon/store/store.h"

namespace keywarden {

struct SourceReadOutcome {
  std::string source;
  bool ok = false;
  size_t identities = 0;
  std::string error;  // why the read was refused; never a secret
};

// How settle() treats a plan.
struct SettleOptions {
  // Push-driven revocations already done in the rolling window of one
  // reconcile_interval (SPEC §5): they count against the thresholds.
  long recent_revocations = 0;
  // `plan`: pass the plan through the gate and stop; nothing is stored or sent.
  bool dry_run = false;
  // `approve`: a person already released this plan; the gate is not asked again.
  bool gated = true;
  // Asked after the gate and before any Palette call (sync on a terminal);
  // false declines and nothing is changed.
  std::function<bool(const Plan&)> confirm;
};

// What became of one plan: quarantined, declined, or carried out.
struct ReconcileOutcome {
  Plan plan;  // blocked and block_reason set by the gate; plan_id is the quarantine's id when held
  GateDecision gate;
  ExecutionReport executed;
  // "ok", "quarantined", "incomplete" (an action failed or stays pending),
  // "declined", or "dry_run".
  std::string result;
};

class Reconciler {
 public:
  Reconciler(const Config& config, Store& store, PaletteClient& palette,
             std::vector<std::unique_ptr<Source>>& sources);

  Executor& executor() { return executor_; }

  // Reads every polling source, telling each the owners of `inventory`'s
  // keys and its own stored state. A good read replaces the source's
  // identities in the store; a failed, empty or shrunken read marks it
  // unhealthy and leaves its last good state in force.
  boost::asio::awaitable<std::vector<SourceReadOutcome>> read_sources(const PaletteInventory& inventory,
                                                                      Timestamp now);

  // What a source is told when it reads or keeps itself up (see ReadContext).
  ReadContext read_context(const Source& source, const PaletteInventory& inventory, Timestamp now) const;

  // Plans over the stored identities and `inventory`. With `owner_emails`,
  // only keys whose owner has one of those emails are judged (a targeted
  // reconcile after a push).
  Plan plan(const PaletteInventory& inventory, Timestamp now,
            const std::optional<std::set<std::string>>& owner_emails = std::nullopt) const;

  // Sources whose decisions must not be acted on now (SPEC §5).
  std::set<std::string> unhealthy_sources() const;

  // The one way a plan reaches Palette (daemon full and targeted reconciles,
  // sync, plan, approve): the safety gate, then quarantine or carry out.
  // Carried-out actions are applied to `inventory`. A quarantined plan is
  // stored and logged (unless dry_run).
  // `options` by value: a coroutine runs after the call's temporaries are
  // gone (`auto op = settle(plan, inventory, now); co_await op;` left the
  // default {} dangling, which AddressSanitizer caught).
  boost::asio::awaitable<ReconcileOutcome> settle(Plan plan, PaletteInventory& inventory, Timestamp now,
                                                  SettleOptions options = {});

  // Stores a quarantined plan, reusing the id of an identical pending one so
  // that every reconcile does not file the same plan again. Returns the id.
  std::string quarantine(const Plan& plan, const std::string& reason, Timestamp now);

  // Records how the last reconcile ended ("reconcile" values of the store).
  void record_result(const std::string& plan_id, const std::string& result, Timestamp now);

 private:
  const Config& config_;
  Store& store_;
  PaletteClient& palette_;
  std::vector<std::unique_ptr<Source>>& sources_;
  Executor executor_;
};

// "p-" followed by 12 random hex digits.
std::string new_plan_id();

}  // namespace keywarden

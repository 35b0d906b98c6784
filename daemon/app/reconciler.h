// One reconcile, step by step: read the sources into the store, read
// Palette, finish journaled work, plan, pass the plan through the safety gate,
// and carry it out. The CLI commands and the daemon loop are built from these
// steps; none of them decides anything itself (the engine does).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
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

struct ReconcileOutcome {
  std::vector<SourceReadOutcome> reads;
  PaletteInventory inventory;
  ExecutionReport resumed;  // journaled work finished before planning
  Plan plan;
  GateDecision gate;
  ExecutionReport executed;
};

class Reconciler {
 public:
  Reconciler(const Config& config, Store& store, PaletteClient& palette,
             std::vector<std::unique_ptr<Source>>& sources);

  Executor& executor() { return executor_; }

  // Reads every polling source. A good read replaces the source's identities
  // in the store; a failed, empty or shrunken read marks it unhealthy and
  // leaves its last good state in force.
  boost::asio::awaitable<std::vector<SourceReadOutcome>> read_sources(Timestamp now);

  // Plans over the stored identities and `inventory`. With `owner_emails`,
  // only keys whose owner has one of those emails are judged (a targeted
  // reconcile after a push).
  Plan plan(const PaletteInventory& inventory, Timestamp now,
            const std::optional<std::set<std::string>>& owner_emails = std::nullopt) const;

  // Sources whose decisions must not be acted on now (SPEC §5).
  std::set<std::string> unhealthy_sources() const;

  // Stores a quarantined plan, reusing the id of an identical pending one so
  // that every reconcile does not file the same plan again. Returns the id.
  std::string quarantine(const Plan& plan, const std::string& reason, Timestamp now);

 private:
  const Config& config_;
  Store& store_;
  PaletteClient& palette_;
  std::vector<std::unique_ptr<Source>>& sources_;
  Executor executor_;
};

// The entitled population of a read, as max_shrink_percent counts it: active
// identities in one of `entitled_groups` (all active ones when it is empty).
long entitled_population(const std::vector<Identity>& identities, const std::vector<std::string>& entitled_groups);

// "p-" followed by 12 random hex digits.
std::string new_plan_id();

}  // namespace keywarden

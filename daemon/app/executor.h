// Carries plans out against Palette, journaling as it goes (SPEC §5).
//
// Every action is written to the journal as a pending intent before its call
// is sent and marked done after, so a crash at any moment loses nothing: the
// next run finds the pending intents, confirms against Palette's inventory
// those whose effect already happened (so no call is repeated once it took
// effect), and carries out the rest. A transient failure (429/5xx/connection
// after all retries) leaves the intent pending for the next run: an action is
// never dropped.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "daemon/engine/palette_inventory.h"
#include "daemon/engine/plan.h"
#include "daemon/palette/palette_actions.h"
#include "daemon/store/store.h"

namespace keywarden {

struct ExecutionReport {
  long done = 0;       // calls that succeeded (or 404ed)
  long confirmed = 0;  // pending intents found already carried out
  long failed = 0;     // refused for good (4xx other than 404)
  long pending = 0;    // left for the next run
  std::vector<Action> completed;  // done + confirmed, in order

  void merge(const ExecutionReport& other);
};

class Executor {
 public:
  using Observer = std::function<void(const Action&, std::string_view result, double seconds)>;

  Executor(Store& store, PaletteActions& palette) : store_(store), palette_(palette) {}

  // Called after each action with result "done", "failed" or "pending".
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  // Where the journal's writes run: on the executor's own store (the
  // default, for the CLI), or through `writes` (the daemon hands them to its
  // store worker, so that its I/O thread never waits for the SQLite write
  // lock). Each write is awaited before the executor goes on: an intent is
  // durable before its call is sent.
  using StoreWrites = std::function<boost::asio::awaitable<void>(std::function<void(Store&)>)>;
  void set_store_writes(StoreWrites writes) { writes_ = std::move(writes); }

  // Finishes what an interrupted run left pending (see the file comment).
  boost::asio::awaitable<ExecutionReport> resume_pending(const PaletteInventory& inventory);

  // Journals `actions` under `plan_id`, then carries them out in order.
  boost::asio::awaitable<ExecutionReport> carry_out(const std::string& plan_id, const std::vector<Action>& actions);

  // Stop before the next call (SIGTERM); what is left stays pending.
  void request_stop() { stop_ = true; }

 private:
  boost::asio::awaitable<ExecutionReport> carry_out_intents(const std::vector<JournalEntry>& intents);
  boost::asio::awaitable<void> write(std::function<void(Store&)> work);

  Store& store_;
  PaletteActions& palette_;
  Observer observer_;
  StoreWrites writes_;
  bool stop_ = false;
};

// Updates `inventory` as if `done` actions had been applied, so that a plan
// made from it after a resume does not repeat them.
void apply_to_inventory(PaletteInventory& inventory, const std::vector<Action>& done);

}  // namespace keywarden

// `keywarden run`: the long-running service (SPEC §2, §5, §6).
//
// One io_context thread serves HTTP (webhooks, /healthz, /readyz, /metrics)
// and drives reconciles; a StoreWorker thread commits pushes in groups so a
// push is acknowledged only once durable. A single driver coroutine runs
// every reconcile, so two never overlap: a full reconcile each
// reconcile_interval, incremental reads each source's poll_interval, and a
// targeted reconcile of the affected owners as soon as a push committed.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "connectors/source.h"
#include "connectors/source_type.h"
#include "daemon/app/metrics.h"
#include "daemon/app/reconciler.h"
#include "daemon/app/store_worker.h"
#include "daemon/store/checkpointer.h"
#include "daemon/palette/palette_client.h"
#include "daemon/server/http_server.h"
#include "daemon/store/store.h"

namespace boost::asio::ssl {
class context;
}

namespace keywarden {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  // Runs until SIGTERM or SIGINT. Returns the process exit code. Throws for
  // a startup failure (store, listener, TLS files, secrets).
  int run();

 private:
  using Clock = std::chrono::steady_clock;

  // Startup and shutdown.
  void open();
  boost::asio::awaitable<void> handle_signals();
  void reload();
  void apply_reload(Config next);
  void stop();
  void notify_systemd(const std::string& state);

  // HTTP.
  boost::asio::awaitable<std::optional<server::Response>> handle(server::Request request);
  boost::asio::awaitable<server::Response> route(const server::Request& request, std::string& route_label);
  // The push route `request` is for: its source (null when none is
  // configured under that name), and the path below the source's base.
  struct PushTarget {
    const SourceType* type = nullptr;  // null: not a push route at all
    Source* source = nullptr;
    std::string name;
    std::string subpath;
  };
  PushTarget push_target(const std::string& path);
  // The push's own check on its headers (Source::authorize), before any of
  // its body is read; also the HTTP server's header check.
  std::optional<server::Response> check_headers(const server::Request& head);
  boost::asio::awaitable<server::Response> handle_push(const PushTarget& target, const server::Request& request);
  server::Response readiness() const;

  // Reconciles.
  void request_targeted(const std::set<std::string>& emails, Clock::time_point arrived);
  boost::asio::awaitable<void> drive();
  boost::asio::awaitable<void> full_reconcile();
  boost::asio::awaitable<void> targeted_reconcile();
  // Reconciler::plan on the blocking pool, for full plans.
  boost::asio::awaitable<Plan> plan_off_thread(const PaletteInventory& inventory, Timestamp now);
  boost::asio::awaitable<void> incremental_reads();
  // Every source's upkeep (Source::upkeep), its results stored.
  boost::asio::awaitable<void> upkeep();
  // Runs `write` on the store worker's connection, so that the I/O thread
  // never waits for the SQLite write lock.
  template <class T>
  boost::asio::awaitable<T> write_off_thread(std::function<T(Store&)> write,
                                             StoreWorker::Urgency urgency = StoreWorker::Urgency::normal);
  // The executor's journal writes, on the store worker (a named coroutine:
  // a lambda coroutine's captures would not outlive its first suspension).
  boost::asio::awaitable<void> journal_write(std::function<void(Store&)> work);
  void refresh_gauges();
  void record_action(const Action& action, std::string_view result, double seconds);

  Config config_;
  boost::asio::io_context io_;
  std::shared_ptr<WalCheckpointer> checkpointer_;  // WAL checkpoints of both connections
  std::unique_ptr<StoreWorker> pushes_;  // commits pushes (its own connection)
  std::unique_ptr<Store> store_;         // reconciles' reads and journal, on the io thread
  std::unique_ptr<PaletteClient> palette_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<server::HttpServer> server_;
  Metrics metrics_;

  std::optional<PaletteInventory> inventory_;  // the last full reconcile's, kept current
  std::set<std::string> pending_emails_;       // owners to reconcile at once
  std::map<std::string, Clock::time_point> push_arrivals_;  // email -> earliest unhandled push
  std::deque<Clock::time_point> push_revocations_;  // push-driven revocations, for the rolling window
  std::map<std::string, Clock::time_point> next_poll_;      // source -> next incremental read
  std::set<std::string> resync_sources_;                     // lost cursors: full read due
  Clock::time_point next_full_{};
  std::optional<boost::asio::steady_timer> wake_;
  std::optional<Timestamp> last_reconcile_;
  std::string last_result_ = "none yet";
  std::string last_plan_id_;  // of the last full reconcile that made a plan
  bool planning_off_thread_ = false;
  std::optional<Config> deferred_reload_;  // a valid config waiting for the plan in progress
  bool stopping_ = false;
  // How long a stop waits for work in flight (a source's read retrying, a
  // Palette call on the wire) before the process leaves anyway; well inside
  // the unit's TimeoutStopSec.
  static constexpr std::chrono::seconds kStopGrace{20};
  Clock::time_point stop_deadline_{};
  bool watchdog_ = false;
};

}  // namespace keywarden

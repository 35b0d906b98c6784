#include "daemon/app/daemon.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <malloc.h>  // malloc_trim

#include <cstdio>
#include <cstdlib>

#include "connectors/blocking_work.h"
#include "connectors/source_registry.h"
#include "daemon/app/log.h"
#include "daemon/app/palette_options.h"
#include "daemon/engine/safety_gate.h"
#include "daemon/store/state_files.h"

namespace keywarden {

namespace net = boost::asio;

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)) {
  logger().configure(config_.daemon.log_level, config_.daemon.log_format);
}

Daemon::~Daemon() {
  server_.reset();
  reconciler_.reset();
  pushes_.reset();
}

void Daemon::open() {
  create_state_dir(config_.daemon.state_dir);  // 0700 whatever the umask
  const auto db = config_.daemon.state_dir / "keywarden.db";
  store_ = Store::open(db);
  // Both connections leave their WAL checkpoints to a thread of their own,
  // so that no push waits for one (issue 16).
  checkpointer_ = std::make_shared<WalCheckpointer>(db);
  store_->checkpoint_with(checkpointer_);
  auto worker_store = Store::open(db);
  worker_store->checkpoint_with(checkpointer_);
  // The worker writes pushes row by row: a group change of 20,000 members
  // among 100,000 users otherwise reads the same index pages from the OS
  // again and again (a quarter of its time; 128 MiB measured no faster).
  // Pages are held only once read, so a small store stays small.
  worker_store->set_page_cache_kib(32 * 1024);
  pushes_ = std::make_unique<StoreWorker>(std::move(worker_store));

  palette_ = std::make_unique<PaletteClient>(io_.get_executor(), palette_client_options(config_.palette));

  for (const auto& named : secrets_of(config_)) {
    if (named.source.empty()) continue;  // the Palette key, read above
    logger().add_secret(read_secret(named.ref));
  }
  for (const auto& sc : config_.sources) {
    sources_.push_back(make_source(sc, io_.get_executor()));
    // For queries by type (an alert on every source of one type) without a
    // second label on keywarden_source_up.
    metrics_.set("keywarden_source_info", {{"source", sc.name}, {"type", sc.type}}, 1);
    // A source that only takes pushes is up while the daemon serves it.
    // A source with an upkeep (an SSF stream) has health of its own, which
    // its stored state keeps across a restart: a paused stream must not be
    // called healthy until the first upkeep looks again.
    if (!sources_.back()->polls() && !sources_.back()->has_upkeep()) store_->record_source_serving(sc.name);
  }
  reconciler_ = std::make_unique<Reconciler>(config_, *store_, *palette_, sources_);
  reconciler_->executor().set_observer(
      [this](const Action& a, std::string_view result, double seconds) { record_action(a, result, seconds); });
  reconciler_->executor().set_store_writes([this](std::function<void(Store&)> work) -> net::awaitable<void> {
    return journal_write(std::move(work));
  });

  const auto listen = server::parse_listen_address(config_.daemon.listen);
  if (!listen) throw std::invalid_argument("daemon.listen: cannot parse \"" + config_.daemon.listen + "\"");
  if (!config_.daemon.tls_cert.empty()) {
    tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(config_.daemon.tls_cert.string());
    tls_->use_private_key_file(config_.daemon.tls_key.string(), net::ssl::context::pem);
  }
  server::Limits limits;
  limits.body_limit = 1024 * 1024;
  limits.header_timeout = std::chrono::seconds(10);
  limits.body_timeout = std::chrono::seconds(15);
  server_ = std::make_unique<server::HttpServer>(
      io_.get_executor(), *listen, [this](server::Request r) { return handle(std::move(r)); }, limits, tls_.get());
  server_->set_error_log([](std::string_view message) { logger().warn("http server", {{"error", std::string(message)}}); });
  // Pushes with wrong credentials are refused on their header, before their
  // body is read.
  server_->set_header_check([this](const server::Request& head) { return check_headers(head); });
  server_->set_single_threaded(true);  // io_ runs on this thread only (run())
}

int Daemon::run() {
  open();
  wake_.emplace(io_);
  server_->start();
  uint64_t watchdog_usec = 0;
  watchdog_ = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  logger().info("keywarden running", {{"listen", config_.daemon.listen + " (port " + std::to_string(server_->port()) + ")"},
                                      {"sources", std::to_string(sources_.size())},
                                      {"tls", tls_ ? "on" : "off"}});
  // The store is open and the listener bound: ready for pushes.
  notify_systemd("READY=1\nSTATUS=serving; first reconcile starting");
  if (const char* port_file = std::getenv("KEYWARDEN_PORT_FILE"); port_file && *port_file) {
    // For tests that listen on port 0: where the daemon really listens.
    const std::string tmp = std::string(port_file) + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%u\n", static_cast<unsigned>(server_->port()));
      std::fclose(f);
      std::rename(tmp.c_str(), port_file);
    }
  }
  net::co_spawn(io_, handle_signals(), net::detached);
  net::co_spawn(io_, drive(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      logger().error("reconcile driver stopped", {{"error", ex.what()}});
    }
  });
  if (watchdog_) {
    auto period = std::chrono::microseconds(watchdog_usec / 2);
    net::co_spawn(
        io_,
        [](Daemon* self, std::chrono::microseconds every) -> net::awaitable<void> {
          net::steady_timer timer(co_await net::this_coro::executor);
          while (!self->stopping_) {
            self->notify_systemd("WATCHDOG=1");
            timer.expires_after(every);
            co_await timer.async_wait(net::use_awaitable);
          }
        }(this, period),
        net::detached);
  }
  // Until everything has finished; once stopping, for kStopGrace at most: a
  // source's read still retrying against an IdP that does not answer must
  // not keep the process past systemd's stop timeout. Leaving then is as
  // safe as a crash, which every write is built for: what was acknowledged
  // is committed, and pending Palette intents are carried out at the next
  // start.
  while (!io_.stopped()) {
    io_.run_for(std::chrono::milliseconds(250));
    if (stopping_ && !io_.stopped() && Clock::now() >= stop_deadline_) {
      logger().warn("stopping without waiting any longer: work still in flight",
                    {{"after", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kStopGrace).count()) + "s"}});
      std::fflush(nullptr);
      std::_Exit(0);
    }
  }
  logger().info("keywarden stopped");
  return 0;
}

void Daemon::notify_systemd(const std::string& state) { sd_notify(0, state.c_str()); }

net::awaitable<void> Daemon::handle_signals() {
  net::signal_set signals(io_, SIGTERM, SIGINT, SIGHUP);
  for (;;) {
    const int signal = co_await signals.async_wait(net::use_awaitable);
    if (signal == SIGHUP) {
      reload();
      continue;
    }
    logger().info("stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    notify_systemd("STOPPING=1");
    stop();
    co_return;
  }
}

void Daemon::stop() {
  stopping_ = true;
  // Stop taking work; a Palette call in flight finishes and is journaled,
  // what is left stays pending in the journal for the next start.
  if (reconciler_) reconciler_->executor().request_stop();
  if (palette_) palette_->stop();  // no Palette retry outlives the stop
  if (server_) server_->stop();
  if (wake_) wake_->cancel();
  stop_deadline_ = Clock::now() + kStopGrace;
}

void Daemon::reload() {
  notify_systemd("RELOADING=1");
  auto loaded = load_config(config_.file, source_schemas());
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) logger().error("reload refused, keeping the running config", {{"error", e.format()}});
    notify_systemd("READY=1\nSTATUS=reload refused: the new config is invalid; running the old one");
    return;
  }
  if (planning_off_thread_) {
    // A plan is being made on another thread from config_.policy: the new
    // config takes over as soon as it is done, never halfway through.
    deferred_reload_ = std::move(*loaded.config);
    logger().info("reload: applying the new config once the plan in progress is made");
    return;
  }
  apply_reload(std::move(*loaded.config));
}

void Daemon::apply_reload(Config next) {
  if (next.daemon.listen != config_.daemon.listen || next.daemon.state_dir != config_.daemon.state_dir ||
      next.palette.endpoint != config_.palette.endpoint || next.daemon.tls_cert != config_.daemon.tls_cert) {
    logger().warn("reload: listen, state_dir, tls and palette.endpoint changes take effect at the next restart");
  }
  // What a reload changes at once: policy, safety limits, intervals, logging.
  // Not the sources or their credentials (a restart): handle_push relies on
  // that when it trusts the check a push's head passed before its body.
  config_.policy = next.policy;
  config_.safety = next.safety;
  config_.daemon.reconcile_interval = next.daemon.reconcile_interval;
  config_.daemon.log_level = next.daemon.log_level;
  config_.daemon.log_format = next.daemon.log_format;
  logger().configure(config_.daemon.log_level, config_.daemon.log_format);
  logger().info("config reloaded", {{"file", config_.file.string()}});
  next_full_ = Clock::now();
  if (wake_) wake_->cancel();
  notify_systemd("READY=1\nSTATUS=config reloaded");
}

// ---- Reconciles --------------------------------------------------------------

void Daemon::request_targeted(const std::set<std::string>& emails, Clock::time_point arrived) {
  for (const auto& e : emails) {
    pending_emails_.insert(e);
    push_arrivals_.emplace(e, arrived);
  }
  if (!emails.empty() && wake_) wake_->cancel();
}

net::awaitable<void> Daemon::drive() {
  next_full_ = Clock::now();
  for (const auto& s : sources_) {
    if (s->reads_incrementally()) {
      next_poll_[s->name()] = Clock::now() + s->poll_interval().value_or(std::chrono::minutes(1));
    }
  }
  while (!stopping_) {
    bool failed = false;
    try {
      const auto now = Clock::now();
      if (!pending_emails_.empty() && inventory_) {
        co_await targeted_reconcile();
        continue;
      }
      if (now >= next_full_ || !resync_sources_.empty()) {
        co_await full_reconcile();
        next_full_ = Clock::now() + config_.daemon.reconcile_interval;
        continue;
      }
      bool poll_due = false;
      auto next = next_full_;
      for (const auto& [name, at] : next_poll_) {
        poll_due = poll_due || at <= now;
        next = std::min(next, at);
      }
      if (poll_due) {
        co_await incremental_reads();
        continue;
      }
      wake_->expires_at(next);
      boost::system::error_code ec;
      co_await wake_->async_wait(net::redirect_error(net::use_awaitable, ec));
    } catch (const std::exception& e) {
      logger().error("reconcile step failed", {{"error", e.what()}});
      last_result_ = "error";
      failed = true;
    }
    if (failed) {  // a pause before trying again (no co_await in a handler)
      net::steady_timer pause(io_, std::chrono::seconds(1));
      boost::system::error_code ec;
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }
}

net::awaitable<void> Daemon::full_reconcile() {
  const auto started = Clock::now();
  const Timestamp now = now_utc();
  resync_sources_.clear();
  std::string result = "ok";
  std::optional<std::vector<StaleMembership>> stale_teams;  // set when a full plan was made
  try {
    PaletteInventory inventory = co_await palette_->read_inventory();
    if (!inventory.teams_error.empty()) {
      logger().warn("Palette teams not read; stale team memberships unknown this time",
                    {{"error", inventory.teams_error}});
    }
    ExecutionReport resumed = co_await reconciler_->executor().resume_pending(inventory);
    apply_to_inventory(inventory, resumed.completed);
    const auto reads = co_await reconciler_->read_sources(inventory, now);
    for (const auto& r : reads) {
      metrics_.set("keywarden_source_up", {{"source", r.source}}, r.ok ? 1 : 0);
    }
    {
      // A full read frees hundreds of MB (pages, merged directories) in the
      // malloc arenas of the threads that built them, which the plan's
      // thread would not reuse: give it back before the plan loads
      // everything (issue 14: the 400 MB bound at 100,000 people).
      auto trimmed = run_blocking([] { ::malloc_trim(0); });
      co_await std::move(trimmed);
    }
    std::string plan_id;
    if (resumed.pending > 0) {
      result = "palette_unavailable";
    } else {
      auto planned = plan_off_thread(inventory, now);
      Plan plan = co_await std::move(planned);
      stale_teams = plan.stale_teams;
      auto settled = reconciler_->settle(std::move(plan), inventory, now);
      const ReconcileOutcome outcome = co_await std::move(settled);
      result = outcome.result;
      plan_id = outcome.plan.plan_id;
    }
    inventory_ = std::move(inventory);
    last_plan_id_ = plan_id;
  } catch (const PaletteError& e) {
    logger().error("reconcile: Palette unavailable", {{"error", e.what()}});
    result = "palette_unavailable";
  }
  const Timestamp done = now_utc();
  if (result == "ok" || result == "quarantined" || result == "incomplete") last_reconcile_ = done;
  last_result_ = result;
  {
    Reconciler* reconciler = reconciler_.get();
    Store* store = store_.get();
    auto op = run_blocking([reconciler, store, stale = std::move(stale_teams), id = last_plan_id_, result, done] {
      reconciler->record_result(id, result, done);
      if (stale) store->replace_stale_team_memberships(*stale, done);  // SPEC §9, for `status`
    });
    co_await std::move(op);
  }
  co_await upkeep();
  const double seconds = seconds_between(started, Clock::now());
  metrics_.observe("keywarden_reconcile_duration_seconds", seconds, {{"kind", "full"}});
  metrics_.count("keywarden_reconciles_total", {{"kind", "full"}, {"result", result}});
  refresh_gauges();
  notify_systemd("STATUS=last reconcile " + format_rfc3339(done) + ": " + result);
  logger().info("reconcile finished", {{"result", result}, {"seconds", std::to_string(seconds)}});
}

net::awaitable<Plan> Daemon::plan_off_thread(const PaletteInventory& inventory, Timestamp now) {
  // A full plan loads every identity and judges every key: 1.7 s at 100,000
  // people and 250,000 keys. The I/O thread keeps serving meanwhile; only
  // this coroutine uses store_, and it waits here.
  planning_off_thread_ = true;
  const Reconciler* reconciler = reconciler_.get();
  const PaletteInventory* judged = &inventory;
  auto op = run_blocking([reconciler, judged, now] { return reconciler->plan(*judged, now); });
  std::exception_ptr error;
  Plan plan;
  try {
    plan = co_await std::move(op);
  } catch (...) {
    error = std::current_exception();
  }
  planning_off_thread_ = false;
  if (deferred_reload_) {
    Config next = std::move(*deferred_reload_);
    deferred_reload_.reset();
    apply_reload(std::move(next));
  }
  if (error) std::rethrow_exception(error);
  co_return plan;
}

net::awaitable<void> Daemon::targeted_reconcile() {
  const auto started = Clock::now();
  std::set<std::string> emails;
  emails.swap(pending_emails_);
  const Timestamp now = now_utc();
  Plan plan = reconciler_->plan(*inventory_, now, emails);
  // Push-driven revocations count against the plan thresholds over a rolling
  // window of one reconcile_interval (SPEC §5).
  const auto window_start = Clock::now() - config_.daemon.reconcile_interval;
  while (!push_revocations_.empty() && push_revocations_.front() < window_start) push_revocations_.pop_front();
  SettleOptions options;
  options.recent_revocations = static_cast<long>(push_revocations_.size());
  auto settled = reconciler_->settle(std::move(plan), *inventory_, now, options);
  const ReconcileOutcome outcome = co_await std::move(settled);
  for (const auto& a : outcome.executed.completed) {
    if (a.kind == ActionKind::revoke) push_revocations_.push_back(Clock::now());
  }
  const std::string& result = outcome.result;
  for (const auto& e : emails) push_arrivals_.erase(e);
  metrics_.observe("keywarden_reconcile_duration_seconds", seconds_between(started, Clock::now()), {{"kind", "targeted"}});
  metrics_.count("keywarden_reconciles_total", {{"kind", "targeted"}, {"result", result}});
  refresh_gauges();
}

template <class T>
net::awaitable<T> Daemon::write_off_thread(std::function<T(Store&)> write, StoreWorker::Urgency urgency) {
  auto op = pushes_->run<T>(std::move(write), urgency);
  co_return co_await std::move(op);
}

// Urgent: a revoke waits for its journal entry, and a push's revoke should
// not wait behind a batch of bulk pushes twice (once for the push, once here).
net::awaitable<void> Daemon::journal_write(std::function<void(Store&)> work) {
  auto op = write_off_thread<bool>(
      [work = std::move(work)](Store& store) {
        work(store);
        return true;
      },
      StoreWorker::Urgency::urgent);
  co_await std::move(op);
}

net::awaitable<void> Daemon::incremental_reads() {
  const auto now = Clock::now();
  bool any_read = false;
  for (auto& source : sources_) {
    auto it = next_poll_.find(source->name());
    if (it == next_poll_.end() || it->second > now) continue;
    it->second = now + source->poll_interval().value_or(std::chrono::minutes(1));
    std::map<std::string, std::string> state = store_->values(Store::cursor_scope(source->name()));
    if (state.empty()) continue;  // no full read yet: the full reconcile comes first
    const std::string name = source->name();
    std::string error;
    try {
      auto op = source->read_changes(std::move(state));
      ChangeSet changes = co_await std::move(op);
      if (changes.resync_required) {
        logger().warn("source lost its cursor; a full read follows", {{"source", name}});
        resync_sources_.insert(name);
        continue;
      }
      // Written by the store worker: a large push or a full read holding
      // the write lock never stalls this thread.
      IdentityChanges facts = std::move(changes);
      auto write = write_off_thread<std::set<std::string>>([name, facts = std::move(facts)](Store& store) {
        return store.apply_changes(name, facts, now_utc(), /*mark_success=*/true);
      });
      request_targeted(co_await std::move(write), Clock::now());
      metrics_.set("keywarden_source_up", {{"source", name}}, 1);  // a good read, as apply_changes recorded
      any_read = true;
    } catch (const std::exception& e) {
      error = std::string("incremental read: ") + e.what();
    }
    if (!error.empty()) {  // no co_await inside a handler
      metrics_.set("keywarden_source_up", {{"source", name}}, 0);
      logger().warn("incremental read failed", {{"source", name}, {"error", error}});
      auto write = write_off_thread<bool>([name, error](Store& store) {
        store.record_read_failure(name, error, now_utc());
        return true;
      });
      try {
        co_await std::move(write);
      } catch (const std::exception& e) {
        logger().error("read failure not recorded", {{"source", name}, {"error", e.what()}});
      }
    }
  }
  if (any_read) co_await upkeep();
}

net::awaitable<void> Daemon::upkeep() {
  if (!inventory_) co_return;
  for (auto& source : sources_) {
    if (!source->has_upkeep()) continue;
    const std::string name = source->name();
    try {
      const ReadContext context = reconciler_->read_context(*source, *inventory_, now_utc());
      // Graph validates a notification URL while this runs: the HTTP server
      // keeps serving on the same io_context meanwhile.
      auto op = source->upkeep(context);
      UpkeepResult done = co_await std::move(op);
      if (done.warning) logger().warn("source upkeep", {{"source", name}, {"error", *done.warning}});
      IdentityChanges stored;
      stored.cursors = std::move(done.cursors);
      std::optional<std::string> unhealthy = std::move(done.unhealthy);
      auto write = write_off_thread<bool>([name, stored = std::move(stored), unhealthy](Store& store) {
        store.apply_changes(name, stored, now_utc(), /*mark_success=*/false);
        if (unhealthy) store.record_read_failure(name, *unhealthy, now_utc());
        return true;
      });
      co_await std::move(write);
      if (unhealthy) {
        metrics_.set("keywarden_source_up", {{"source", name}}, 0);
        logger().warn("source unhealthy", {{"source", name}, {"error", *unhealthy}});
      }
    } catch (const std::exception& e) {
      logger().warn("source upkeep failed; reads go on", {{"source", name}, {"error", e.what()}});
    }
  }
}

void Daemon::refresh_gauges() {
  const Store::Gauges gauges = store_->gauges();
  metrics_.set("keywarden_quarantined_plans", {}, static_cast<double>(gauges.quarantined_plans));
  metrics_.set("keywarden_pending_actions", {}, static_cast<double>(gauges.pending_intents));
  for (const auto& h : gauges.sources) {
    metrics_.set("keywarden_source_up", {{"source", h.source}}, h.healthy ? 1 : 0);
    if (h.last_success) {
      metrics_.set("keywarden_source_last_success_timestamp_seconds", {{"source", h.source}},
                   static_cast<double>(h.last_success->time_since_epoch().count()));
    }
  }
}

void Daemon::record_action(const Action& a, std::string_view result, double) {
  metrics_.count("keywarden_actions_total", {{"action", std::string(to_string(a.kind))}, {"result", std::string(result)}});
  if (result != "done") return;
  const auto it = push_arrivals_.find(a.owner_email);
  if (it != push_arrivals_.end()) {
    metrics_.observe("keywarden_push_to_action_seconds", seconds_between(it->second, Clock::now()));
  }
}

}  // namespace keywarden

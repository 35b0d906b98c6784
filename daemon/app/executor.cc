#include "daemon/app/executor.h"

#include <optional>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "daemon/app/log.h"

namespace keywarden {

void ExecutionReport::merge(const ExecutionReport& other) {
  done += other.done;
  confirmed += other.confirmed;
  failed += other.failed;
  pending += other.pending;
  completed.insert(completed.end(), other.completed.begin(), other.completed.end());
}

namespace {

// Whether `inventory` shows the effect of `action` already.
bool already_in_effect(const Action& action, const std::unordered_map<std::string, const PaletteKey*>& keys) {
  const auto it = keys.find(action.key_uid);
  switch (action.kind) {
    case ActionKind::revoke: return it == keys.end() || !it->second->active;
    case ActionKind::reactivate: return it != keys.end() && it->second->active;
    case ActionKind::delete_key: return it == keys.end();
  }
  return false;
}


}  // namespace

boost::asio::awaitable<void> Executor::write(std::function<void(Store&)> work) {
  if (writes_) {
    auto op = writes_(std::move(work));
    co_await std::move(op);
  } else {
    work(store_);
  }
}

boost::asio::awaitable<ExecutionReport> Executor::resume_pending(const PaletteInventory& inventory) {
  const auto pending = store_.pending_intents();
  ExecutionReport report;
  if (pending.empty()) co_return report;
  std::unordered_map<std::string, const PaletteKey*> keys;
  for (const auto& k : inventory.keys) keys.emplace(k.uid, &k);

  std::vector<JournalEntry> to_send;
  for (const auto& entry : pending) {
    if (already_in_effect(entry.action, keys)) {
      co_await write([&](Store& store) {
        store.mark_done(entry.id, entry.http_status, entry.attempts, now_utc(),
                        "confirmed from Palette's inventory after an interrupted run");
      });
      ++report.confirmed;
      report.completed.push_back(entry.action);
      if (observer_) observer_(entry.action, "done", 0);
    } else {
      to_send.push_back(entry);
    }
  }
  logger().info("resuming journaled actions", {{"pending", std::to_string(pending.size())},
                                               {"already_done", std::to_string(report.confirmed)}});
  report.merge(co_await carry_out_intents(to_send));
  co_return report;
}

boost::asio::awaitable<ExecutionReport> Executor::carry_out(const std::string& plan_id,
                                                             const std::vector<Action>& actions) {
  if (actions.empty()) co_return ExecutionReport{};
  std::vector<int64_t> ids;
  co_await write([&](Store& store) { ids = store.journal_intents(plan_id, actions, now_utc()); });
  std::vector<JournalEntry> intents;
  intents.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    JournalEntry e;
    e.id = ids[i];
    e.plan_id = plan_id;
    e.action = actions[i];
    intents.push_back(std::move(e));
  }
  co_return co_await carry_out_intents(intents);
}

boost::asio::awaitable<ExecutionReport> Executor::carry_out_intents(const std::vector<JournalEntry>& intents) {
  ExecutionReport report;
  for (size_t i = 0; i < intents.size(); ++i) {
    if (stop_) {
      report.pending += static_cast<long>(intents.size() - i);
      break;
    }
    const JournalEntry& entry = intents[i];
    const Action& a = entry.action;
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    std::optional<MutationResult> result;
    std::optional<PaletteError> error;
    try {
      // The call is made in its own statement: GCC 12 destroys temporaries
      // (here the copied key uid) inside a co_await expression twice.
      auto call = a.kind == ActionKind::delete_key ? palette_.delete_key(a.key_uid)
                                                   : palette_.set_key_active(a.key_uid, a.kind == ActionKind::reactivate);
      result = co_await std::move(call);
    } catch (const PaletteError& e) {
      error = e;
    }
    if (result) {  // journaled outside the handler: no co_await may run inside one
      const MutationResult r = *result;
      co_await write([&](Store& store) {
        store.mark_done(entry.id, r.http_status, entry.attempts + r.attempts, now_utc(),
                        r.http_status == 404 ? "Palette answered 404: already gone" : "");
      });
      ++report.done;
      report.completed.push_back(a);
      logger().info(std::string(to_string(a.kind)) + " done",
                    {{"key_uid", a.key_uid}, {"key_name", a.key_name}, {"owner", a.owner_email},
                     {"reason", std::string(to_string(a.reason))}, {"plan_id", entry.plan_id},
                     {"http_status", std::to_string(r.http_status)}});
      if (observer_) observer_(a, "done", elapsed());
      continue;
    }
    const PaletteError& e = *error;
    if (e.transient()) {
      // Palette is unavailable for now: keep this and every later intent
      // pending rather than spend every retry budget against an outage.
      report.pending += static_cast<long>(intents.size() - i);
      logger().warn("Palette unavailable; actions stay journaled for the next run",
                    {{"key_uid", a.key_uid}, {"error", e.what()}, {"pending", std::to_string(intents.size() - i)}});
      if (observer_) observer_(a, "pending", elapsed());
      break;
    }
    co_await write([&](Store& store) {
      store.mark_failed(entry.id, e.http_status(), entry.attempts + e.attempts(), e.what(), now_utc());
    });
    ++report.failed;
    logger().error(std::string(to_string(a.kind)) + " failed",
                   {{"key_uid", a.key_uid}, {"http_status", std::to_string(e.http_status())}, {"error", e.what()}});
    if (observer_) observer_(a, "failed", elapsed());
    if (e.http_status() == 401 || e.http_status() == 403) {
      // Our own credential is refused: every further call would be too.
      report.pending += static_cast<long>(intents.size() - i - 1);
      break;
    }
  }
  co_return report;
}

void apply_to_inventory(PaletteInventory& inventory, const std::vector<Action>& done) {
  std::unordered_map<std::string, const Action*> by_key;
  for (const auto& a : done) by_key[a.key_uid] = &a;
  auto& keys = inventory.keys;
  keys.erase(std::remove_if(keys.begin(), keys.end(),
                            [&](PaletteKey& k) {
                              const auto it = by_key.find(k.uid);
                              if (it == by_key.end()) return false;
                              switch (it->second->kind) {
                                case ActionKind::revoke: k.active = false; return false;
                                case ActionKind::reactivate: k.active = true; return false;
                                case ActionKind::delete_key: return true;
                              }
                              return false;
                            }),
             keys.end());
}

}  // namespace keywarden

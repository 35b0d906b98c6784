// A dedicated thread that owns one Store connection and runs work items on
// it with group commit: every item queued while the previous commit ran
// goes into the next transaction (a savepoint each), and all of them become
// durable with one disk sync. An item's caller resumes only after that sync,
// so a push is acknowledged only once it is durable (SPEC §5), and the Asio
// thread never waits on SQLite or fsync.
//
// The worker commits without waiting for the disk (Store::defer_commit_sync).
// When items wait behind a commit, a second thread (the syncer) syncs the WAL
// while the worker goes on with the next batch, then resumes the callers of
// every commit that sync covers; when none wait, the worker syncs itself. A
// failed sync fails all of them, as a failed commit does. What a commit
// wrote is visible to the next batch (and to other connections) before it
// is durable, as it always was inside one transaction; nobody is told it
// happened until it is.
//
// A long item can be run in steps (run_steps): between two of its steps, if
// other items wait, the worker commits what is done and serves them first,
// so one huge push holds the others back for one step, not for all of it.
//
// An urgent item (a push that may carry a departure, the journal entry
// before a revoke) jumps the queue: it goes before every ordinary item that
// waits, the batch it finds running starts no further ordinary item (those
// go back to the queue unstarted), and it is committed in a batch of urgent
// items only. So a deactivation that arrives amid thousands of creations
// waits for one item and one commit, not for a batch of thirty. Only items
// that wait at the same moment are reordered, and none of them has run yet:
// their callers sent them concurrently, so no caller can tell the order. The
// batch after an urgent-only one takes every waiting item, so a stream of
// urgent items cannot starve the ordinary ones.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/store.h"

namespace keywarden {

class StoreWorker {
 public:
  enum class Urgency { normal, urgent };

  // Takes ownership of `store` and starts the thread.
  explicit StoreWorker(std::unique_ptr<Store> store);
  // Finishes every queued item, then joins.
  ~StoreWorker();
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Runs `work(store)` on the worker thread inside the next group commit and
  // resumes the caller with its result once the commit is durable. If `work`
  // throws, only its own changes are undone and the exception is rethrown to
  // the caller; if the commit fails, every item of the batch gets the error.
  template <class T>
  boost::asio::awaitable<T> run(std::function<T(Store&)> work, Urgency urgency = Urgency::normal);

  // Runs `step(store)` again and again until it returns a value, and resumes
  // the caller with that value once the commit holding the last step is
  // durable. Each step is undone alone if it throws (the exception goes to
  // the caller; earlier steps stay). While no other item waits, the steps
  // follow one another in one transaction; when one does, the worker commits
  // the steps so far (not yet answered: the caller still waits) and serves
  // the waiting items, committed on their own, before the next step.
  template <class T>
  boost::asio::awaitable<T> run_steps(std::function<std::optional<T>(Store&)> step,
                                      Urgency urgency = Urgency::normal);

  // Items per commit so far (for metrics): total items and total commits.
  // Safe to read from any thread.
  long items() const { return items_.load(std::memory_order_relaxed); }
  long commits() const { return commits_.load(std::memory_order_relaxed); }

  // While the store cannot be written (a disk full, an I/O error): why, as
  // the last failed commit or item's StoreError said. Empty again once a
  // commit succeeds with no item failing that way. Safe from any thread.
  std::string write_failure() const;

 private:
  struct Item {
    // Runs one step inside the batch and stores the result; true when the
    // item is finished (one step for run()).
    std::function<bool(Store&)> work;
    std::function<void(std::exception_ptr)> done;  // after commit (or its failure)
    bool urgent = false;
  };
  template <class T>
  boost::asio::awaitable<T> submit(std::function<bool(Store&, std::optional<T>&)> step, Urgency urgency);
  void enqueue(Item item);
  bool others_waiting();
  // The items to run next, taken from queue_ (mutex_ held).
  std::deque<Item> take_batch();
  // Puts unstarted items back at the head of the queue, after the urgent
  // items that made way for them (mutex_ held).
  void put_back(std::deque<Item>& batch, size_t from);
  // The failure a commit or sync `seq` met (any thread).
  void note_store_error(const std::string& what, long seq);
  void loop();
  // The syncer: syncs, then resumes the callers of the commits it covers.
  void sync_loop();

  // Committed, not yet synced: one batch's callers.
  struct Unsynced {
    long seq = 0;  // the batch's commit number
    std::vector<std::function<void(std::exception_ptr)>> done;
    Store::WalSync wal;
  };
  // Syncs once, then resumes the callers of `commits` (worker or syncer).
  void sync_and_tell(std::deque<Unsynced>& commits);

  std::unique_ptr<Store> store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;  // urgent items first
  std::atomic<size_t> urgent_waiting_{0};  // urgent items in queue_ (written under mutex_)
  bool urgent_only_last_ = false;          // the last batch was urgent items only (worker thread only)
  std::deque<Item> resuming_;  // stepped items that yielded to waiting ones (worker thread only)
  bool resuming_passed_over_ = false;  // a batch ran without them (worker thread only)
  bool stopping_ = false;
  mutable std::mutex failure_mutex_;
  std::string write_failure_;   // guarded by failure_mutex_
  long failure_seq_ = 0;        // the commit it came with; guarded by failure_mutex_
  long batch_seq_ = 0;          // commits started (worker thread only)
  std::mutex sync_mutex_;
  std::condition_variable sync_wake_;
  std::deque<Unsynced> unsynced_;  // guarded by sync_mutex_
  bool sync_stopping_ = false;     // guarded by sync_mutex_
  bool syncing_ = false;           // the syncer has commits in hand; guarded by sync_mutex_
  std::atomic<long> items_{0};
  std::atomic<long> commits_{0};
  std::thread thread_;
  std::thread syncer_;
};

template <class T>
boost::asio::awaitable<T> StoreWorker::run(std::function<T(Store&)> work, Urgency urgency) {
  auto once = [work = std::move(work)](Store& store, std::optional<T>& result) {
    result.emplace(work(store));
    return true;
  };
  return submit<T>(std::move(once), urgency);
}

template <class T>
boost::asio::awaitable<T> StoreWorker::run_steps(std::function<std::optional<T>(Store&)> step, Urgency urgency) {
  auto stepped = [step = std::move(step)](Store& store, std::optional<T>& result) {
    result = step(store);
    return result.has_value();
  };
  return submit<T>(std::move(stepped), urgency);
}

template <class T>
boost::asio::awaitable<T> StoreWorker::submit(std::function<bool(Store&, std::optional<T>&)> step, Urgency urgency) {
  auto initiate = [this, step = std::move(step), urgency](auto handler) mutable {
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    auto result = std::make_shared<std::optional<T>>();
    auto item_error = std::make_shared<std::exception_ptr>();
    Item item;
    item.work = [this, step = std::move(step), result, item_error](Store& store) {
      bool finished = false;
      try {
        store.batch_item([&] { finished = step(store, *result); });
      } catch (const StoreError& e) {
        note_store_error(e.what(), batch_seq_);  // the worker thread's
        *item_error = std::current_exception();
        finished = true;
      } catch (...) {
        *item_error = std::current_exception();
        finished = true;
      }
      return finished;
    };
    item.done = [shared_handler, result, item_error](std::exception_ptr commit_error) {
      std::exception_ptr error = commit_error ? commit_error : *item_error;
      auto executor = boost::asio::get_associated_executor(*shared_handler);
      boost::asio::post(executor, [shared_handler, result, error]() mutable {
        if (error) {
          (*shared_handler)(error, T{});
        } else {
          (*shared_handler)(nullptr, std::move(**result));
        }
      });
    };
    item.urgent = urgency == Urgency::urgent;
    enqueue(std::move(item));
  };
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                 void(std::exception_ptr, T)>(std::move(initiate),
                                                                              boost::asio::use_awaitable);
}

}  // namespace keywarden

#include "daemon/app/store_worker.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <vector>

#include "daemon/base/thread_name.h"

namespace keywarden {

StoreWorker::StoreWorker(std::unique_ptr<Store> store) : store_(std::move(store)) {
  store_->defer_commit_sync();
  syncer_ = std::thread([this] { sync_loop(); });
  thread_ = std::thread([this] { loop(); });
}

StoreWorker::~StoreWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  // Every commit the worker made is handed over by now: sync them, then stop.
  {
    std::lock_guard lock(sync_mutex_);
    sync_stopping_ = true;
  }
  sync_wake_.notify_one();
  syncer_.join();
}

void StoreWorker::enqueue(Item item) {
  {
    std::lock_guard lock(mutex_);
    if (item.urgent) {
      // After the urgent items already waiting, before every ordinary one.
      queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(urgent_waiting_.load()), std::move(item));
      urgent_waiting_.fetch_add(1);
    } else {
      queue_.push_back(std::move(item));
    }
  }
  wake_.notify_one();
}

std::deque<StoreWorker::Item> StoreWorker::take_batch() {
  std::deque<Item> batch;
  const size_t urgent = urgent_waiting_.load();
  if (urgent > 0 && urgent < queue_.size() && !urgent_only_last_) {
    batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(urgent)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(urgent));
    urgent_only_last_ = true;
  } else {
    batch.swap(queue_);
    urgent_only_last_ = false;
  }
  urgent_waiting_ = 0;
  return batch;
}

void StoreWorker::put_back(std::deque<Item>& batch, size_t from) {
  if (from >= batch.size()) return;
  queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(urgent_waiting_.load()),
                std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(from)),
                std::make_move_iterator(batch.end()));
  batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(from), batch.end());
}

std::string StoreWorker::write_failure() const {
  std::lock_guard lock(failure_mutex_);
  return write_failure_;
}

void StoreWorker::note_store_error(const std::string& what, long seq) {
  std::lock_guard lock(failure_mutex_);
  write_failure_ = what;
  failure_seq_ = std::max(failure_seq_, seq);
}

bool StoreWorker::others_waiting() {
  std::lock_guard lock(mutex_);
  return !queue_.empty();
}

void StoreWorker::loop() {
  name_this_thread("kw-store");
  for (;;) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !resuming_.empty(); });
      if (queue_.empty() && resuming_.empty() && stopping_) return;
      batch = take_batch();
    }
    // Items that yielded wait for one batch of the items they yielded to,
    // which then commits after the step that was running, not after a whole
    // long item. Then they go on: alone, until they are done or someone
    // waits; with others, for one step each. So a long item takes at least a
    // step every other commit, and a steady stream of small pushes cannot
    // starve it.
    if (!resuming_.empty() && (batch.empty() || resuming_passed_over_)) {
      for (auto& item : resuming_) batch.push_back(std::move(item));
      resuming_.clear();
      resuming_passed_over_ = false;
    } else if (!resuming_.empty()) {
      resuming_passed_over_ = true;
    }
    std::vector<bool> yielded(batch.size(), false);
    std::exception_ptr commit_error;
    const long seq = ++batch_seq_;
    size_t started = batch.size();  // items before this one ran in the batch
    try {
      store_->batch([&] {
        for (size_t i = 0; i < batch.size(); ++i) {
          // An urgent item waits: commit what ran so far now, and keep the
          // ordinary items not yet started for after it.
          if (i > 0 && !batch[i].urgent && urgent_waiting_.load() > 0) {
            started = i;
            break;
          }
          while (!batch[i].work(*store_)) {
            if (batch.size() > 1 || others_waiting()) {
              yielded[i] = true;
              break;
            }
          }
        }
      });
    } catch (const StoreError& e) {
      note_store_error(e.what(), seq);
      commit_error = std::current_exception();
    } catch (...) {
      commit_error = std::current_exception();
    }
    if (started < batch.size()) {
      std::lock_guard lock(mutex_);
      put_back(batch, started);
      yielded.resize(batch.size());
    }
    Unsynced committed;
    committed.seq = seq;
    std::vector<Item*> failed;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (yielded[i] && !commit_error) {
        resuming_.push_back(std::move(batch[i]));
      } else if (commit_error) {
        failed.push_back(&batch[i]);
      } else {
        committed.done.push_back(std::move(batch[i].done));
      }
    }
    // The counters first: a caller that resumes may read them at once.
    items_.fetch_add(static_cast<long>(failed.size() + committed.done.size()), std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    // A failed commit undid this batch's steps of a yielded item too: it ends
    // with the error rather than go on from a state that is gone.
    for (Item* item : failed) item->done(commit_error);
    if (commit_error) continue;
    // Durable once synced. (Also a batch that wrote nothing: what it read
    // may be an earlier commit's, not durable yet either.) With nothing
    // waiting for the worker and nothing for the syncer, the worker syncs
    // itself: a handoff to the syncer would only add a thread's wake-up to
    // a lone push. Otherwise the syncer syncs and the next batch starts.
    committed.wal = store_->wal_sync();
    const bool more_work = !resuming_.empty() || others_waiting();
    std::deque<Unsynced> alone;
    {
      std::lock_guard lock(sync_mutex_);
      if (!more_work && unsynced_.empty() && !syncing_) {
        alone.push_back(std::move(committed));
      } else {
        unsynced_.push_back(std::move(committed));
      }
    }
    if (!alone.empty()) {
      sync_and_tell(alone);
    } else {
      sync_wake_.notify_one();
    }
  }
}

void StoreWorker::sync_and_tell(std::deque<Unsynced>& commits) {
  // One sync covers every commit given: their frames are all in the file.
  const long last = commits.back().seq;
  std::exception_ptr error;
  try {
    commits.back().wal.sync();
  } catch (const StoreError& e) {
    note_store_error(e.what(), last);
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  if (!error) {
    // Healthy again once a commit after the last failure is durable.
    std::lock_guard lock(failure_mutex_);
    if (last > failure_seq_) write_failure_.clear();
  }
  for (Unsynced& commit : commits) {
    for (auto& done : commit.done) done(error);
  }
}

void StoreWorker::sync_loop() {
  name_this_thread("kw-store-sync");
  for (;;) {
    std::deque<Unsynced> commits;
    {
      std::unique_lock lock(sync_mutex_);
      syncing_ = false;
      sync_wake_.wait(lock, [this] { return sync_stopping_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return;  // stopping, and nothing left
      commits.swap(unsynced_);
      syncing_ = true;
    }
    sync_and_tell(commits);
  }
}

}  // namespace keywarden

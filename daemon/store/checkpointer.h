// WAL checkpoints off the connections that commit (issue 16).
//
// SQLite's own automatic checkpoint runs on the connection that commits,
// right after the commit that took the WAL past 1,000 pages: that commit's
// caller (a push waiting for its acknowledgement, the store worker's next
// batch) then also waits for a thousand pages to be copied into the database
// file and for its fsync. A WalCheckpointer takes that work to a thread of
// its own, with a connection of its own:
//
// - each connection handed to it (take_over) stops checkpointing by itself,
//   and after each commit tells the checkpointer how large the WAL is (a WAL
//   hook: a comparison and, past the threshold, a notify);
// - the thread runs PASSIVE checkpoints, which take no lock that a writer or
//   a reader needs, so commits go on while it copies.
//
// A PASSIVE checkpoint cannot make the WAL start over by itself: the next
// writer does that, but only when the checkpoint had copied every frame
// before it wrote. Under a steady stream of commits one may always land
// while the checkpoint runs, and the WAL would grow for good. So past a hard
// limit (8 × the threshold) the committing connection checkpoints inline
// once, as SQLite would have, which bounds the WAL; the metrics count how
// often that happens.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace keywarden {

class WalCheckpointer {
 public:
  // Opens its own connection to `db_file` (which must exist, in WAL mode)
  // and starts the thread. `threshold_pages`: the WAL size that wakes it.
  explicit WalCheckpointer(const std::filesystem::path& db_file, int threshold_pages = 1000);
  // Stops the thread and closes the connection.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // From now on `db` leaves its checkpoints to this checkpointer (except
  // past the hard limit). Call it on the thread that owns `db`, before its
  // next write; `db` must be closed before this object is destroyed.
  void take_over(sqlite3* db);

  // Counters, safe from any thread.
  long background_checkpoints() const { return background_.load(std::memory_order_relaxed); }
  long inline_checkpoints() const { return inline_.load(std::memory_order_relaxed); }
  long failed_checkpoints() const { return failed_.load(std::memory_order_relaxed); }
  // The WAL size, in pages, after the last commit of any connection taken over.
  long wal_pages() const { return wal_pages_.load(std::memory_order_relaxed); }

  // Runs one checkpoint on the calling thread and waits for it (tests).
  void checkpoint_now();

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void loop();
  void checkpoint(sqlite3* db, std::atomic<long>& counter);

  const int threshold_;
  const int hard_limit_;
  sqlite3* db_ = nullptr;  // the checkpointer's own connection (its thread only)
  std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;       // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::atomic<long> background_{0};
  std::atomic<long> inline_{0};
  std::atomic<long> failed_{0};
  std::atomic<long> wal_pages_{0};
  std::thread thread_;
};

}  // namespace keywarden

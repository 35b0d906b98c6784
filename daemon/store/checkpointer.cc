#include "daemon/store/checkpointer.h"

#include <sqlite3.h>

#include "daemon/base/thread_name.h"
#include "daemon/store/statement.h"
#include "daemon/store/store.h"

namespace keywarden {

WalCheckpointer::WalCheckpointer(const std::filesystem::path& db_file, int threshold_pages)
    : threshold_(threshold_pages), hard_limit_(8 * threshold_pages) {
  // FULLMUTEX: the thread and checkpoint_now() may share the connection.
  const int rc = sqlite3_open_v2(db_file.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "store: the checkpointer cannot open " + db_file.string() + ": ";
    message += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw StoreError(message);
  }
  try {
    // A checkpoint syncs the WAL before it copies and the database file
    // after, as the writers' own would (synchronous = FULL there too).
    sql::exec(db_, "PRAGMA synchronous = FULL");
    sql::exec(db_, "PRAGMA journal_size_limit = 67108864");
    sqlite3_wal_autocheckpoint(db_, 0);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
  thread_ = std::thread([this] { loop(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  // The last connection to close checkpoints the whole WAL and removes it.
  sqlite3_close(db_);
}

void WalCheckpointer::take_over(sqlite3* db) {
  // The hook replaces SQLite's automatic checkpoint (which is itself a WAL
  // hook); turning that off first says so.
  sqlite3_wal_autocheckpoint(db, 0);
  sqlite3_wal_hook(db, &WalCheckpointer::on_commit, this);
}

// Runs on the committing connection's thread, after its commit, with its
// locks released: it must stay cheap.
int WalCheckpointer::on_commit(void* self_ptr, sqlite3* db, const char* /*schema*/, int pages) {
  auto* self = static_cast<WalCheckpointer*>(self_ptr);
  self->wal_pages_.store(pages, std::memory_order_relaxed);
  if (pages >= self->hard_limit_) {
    self->checkpoint(db, self->inline_);
  } else if (pages >= self->threshold_) {
    {
      std::lock_guard lock(self->mutex_);
      self->due_ = true;
    }
    self->wake_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::checkpoint(sqlite3* db, std::atomic<long>& counter) {
  int wal_frames = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
  // SQLITE_BUSY: another checkpoint was running; it does the same work.
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) {
    counter.fetch_add(1, std::memory_order_relaxed);
  } else {
    // An I/O error: the frames stay in the WAL, which still holds every
    // commit; the next commit past the threshold tries again.
    failed_.fetch_add(1, std::memory_order_relaxed);
  }
}

void WalCheckpointer::checkpoint_now() { checkpoint(db_, background_); }

void WalCheckpointer::loop() {
  name_this_thread("kw-checkpoint");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return due_ || stopping_; });
    if (stopping_) return;
    due_ = false;
    lock.unlock();
    checkpoint(db_, background_);
    lock.lock();
  }
}

}  // namespace keywarden

// RAII over the sqlite3 C API, private to the store: a prepared statement and
// a transaction. Every SQLite result code is checked here and turned into a
// StoreError that names the SQL and SQLite's own message, so the store's code
// never looks at a result code itself.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "daemon/engine/time_point.h"

struct sqlite3;
struct sqlite3_stmt;

namespace keywarden::sql {

// Throws StoreError("<context>: <sqlite's message> (code N)").
[[noreturn]] void throw_error(sqlite3* db, int code, std::string_view context);

// Runs SQL that has no parameters (schema statements, BEGIN, PRAGMA). Values
// never go through here: they are bound to a Statement. An error names
// `context`, or the start of the SQL when `context` is empty.
void exec(sqlite3* db, std::string_view sql, std::string_view context = {});

// Turns at the write lock, first come first served, for the connections one
// process has to one database file. SQLite's busy handler retries with
// growing sleeps (up to 100 ms), so a connection that commits and at once
// begins again (a first full read written in chunks) can keep another (the
// push worker) waiting for seconds, up to its busy timeout. A connection
// takes a turn here before BEGIN IMMEDIATE and gives it back after COMMIT or
// ROLLBACK; the busy timeout still covers other processes (the CLI).
class WriteTurns {
 public:
  // The turns of `db_file`, shared by every connection that asks for them.
  static std::shared_ptr<WriteTurns> of(const std::filesystem::path& db_file);

  void acquire();
  void release();
  // Turns taken and not given back: the holder and those waiting.
  uint64_t taken() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable served_;
  uint64_t next_ticket_ = 0;
  uint64_t now_serving_ = 0;
};

// The prepared statements of one connection, kept by SQL text for reuse: the
// store runs the same few dozen statements millions of times, and preparing
// one costs more than running it. A Statement made from the cache borrows the
// prepared statement and gives it back, reset, when it goes out of scope; a
// second Statement with the same SQL while the first is alive (a nested call)
// gets its own. Not thread-safe, like the connection it belongs to. Destroy
// it before closing the connection.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() { clear(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  sqlite3* db() const { return db_; }
  // The connection's turns at the write lock (none: it is the only writer).
  void set_write_turns(std::shared_ptr<WriteTurns> turns) { turns_ = std::move(turns); }
  WriteTurns* write_turns() const { return turns_.get(); }
  // Idle statements kept (for tests).
  size_t idle() const { return idle_.size(); }
  // Finalizes every idle statement.
  void clear();

 private:
  friend class Statement;
  // An idle statement for `sql`, or nullptr when none is.
  sqlite3_stmt* take(std::string_view sql);
  // Keeps `stmt` (already reset) for the next take(), or finalizes it when an
  // idle one with its SQL is kept already or the cache is full.
  void give_back(sqlite3_stmt* stmt);

  friend class Transaction;

  static constexpr size_t kMaxIdle = 256;  // far more than the store's distinct SQL
  sqlite3* db_;
  std::shared_ptr<WriteTurns> turns_;
  // Transactions and savepoints open through this cache. SQLite rolls a
  // whole transaction back by itself after some errors (an I/O error or a
  // full disk while it spills a large write to the WAL); this count is how a
  // Transaction still knows it is inside one then (issue 14).
  int open_transactions_ = 0;
  // Keyed by the statement's own SQL text (sqlite3_sql), which lives as long
  // as the statement: taking and giving back a statement, once per row in a
  // loop of single-row writes, then allocates nothing.
  std::unordered_map<std::string_view, sqlite3_stmt*> idle_;
};

// One prepared statement. Values are bound by 1-based index; text is copied
// into SQLite (SQLITE_TRANSIENT), so the caller's strings need not outlive the
// binding. Reuse it in a loop with reset().
class Statement {
 public:
  // Prepared now, finalized by the destructor.
  Statement(sqlite3* db, std::string_view sql);
  // Borrowed from `cache` (prepared now if the cache has none idle), given
  // back by the destructor.
  Statement(StatementCache& cache, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, Timestamp time);
  Statement& bind(int index, const std::optional<Timestamp>& time);  // nullopt binds NULL
  Statement& bind_null(int index);
  // Binds `text` without a copy (SQLITE_STATIC): it must stay alive and
  // unchanged until this statement is reset or destroyed (both clear the
  // bindings). For the many-row statements (row_batches.h), which bind
  // hundreds of ids held in a vector that outlives them.
  Statement& bind_borrowed(int index, std::string_view text);

  // Advances: true when a row is ready, false when the statement is done.
  bool step();
  // Runs a statement that returns no row (INSERT/UPDATE/DELETE).
  void run();
  // Ready to run again, with every parameter NULL.
  void reset();

  // Columns of the current row, 0-based. NULL text reads as "".
  std::string text(int column) const;
  // The same text without a copy, valid until the next step() or reset().
  std::string_view text_view(int column) const;
  int64_t int64(int column) const;
  Timestamp time(int column) const;
  std::optional<Timestamp> optional_time(int column) const;
  bool is_null(int column) const;

  // Rows changed by the last run() on this connection.
  int changes() const;

 private:
  void check_bind(int rc, int index);
  void prepare(std::string_view sql);

  sqlite3* db_;
  StatementCache* cache_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs one parameterless statement through `cache` (BEGIN, COMMIT, ...).
void exec(StatementCache& cache, std::string_view sql);

// BEGIN … COMMIT. The destructor rolls back unless commit() succeeded, so an
// exception anywhere in a store method leaves the database as it was.
//
// Inside an outer transaction (Store::batch) it is a SAVEPOINT instead: its
// commit releases the savepoint and its rollback undoes only its own work,
// and durability comes with the outer COMMIT.
//
// When SQLite has rolled the outer transaction back by itself (after an I/O
// error or a full disk), every Transaction made through the cache inside it
// throws StoreError at once, and so does commit(): the work is gone, and a
// BEGIN in its place would wait for the write turn the outer one holds.
class Transaction {
 public:
  enum class Mode {
    read,   // BEGIN (deferred): one consistent snapshot for several SELECTs
    write,  // BEGIN IMMEDIATE: takes the write lock now, so the commit cannot hit SQLITE_BUSY
  };
  Transaction(sqlite3* db, Mode mode);
  // The same, with BEGIN, SAVEPOINT, COMMIT and RELEASE prepared once, and a
  // write transaction waiting for its turn (WriteTurns) when the cache has them.
  Transaction(StatementCache& cache, Mode mode);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  void begin(Mode mode);
  void run(std::string_view sql);
  void stop_counting();

  sqlite3* db_;
  StatementCache* cache_ = nullptr;
  WriteTurns* turn_ = nullptr;  // held until commit or rollback
  bool open_ = true;
  bool nested_ = false;
  bool counted_ = false;  // in cache_->open_transactions_
};

}  // namespace keywarden::sql

#include "daemon/store/statement.h"

#include <sqlite3.h>

#include <map>

#include "daemon/store/store.h"

namespace keywarden::sql {

void throw_error(sqlite3* db, int code, std::string_view context) {
  std::string message(context);
  message += ": ";
  // The connection's message describes `code` only when it is the latest error
  // on that connection; otherwise fall back to the generic text for the code.
  if (db != nullptr && (sqlite3_extended_errcode(db) & 0xff) == (code & 0xff)) {
    message += sqlite3_errmsg(db);
  } else {
    message += sqlite3_errstr(code);
  }
  message += " (code " + std::to_string(code) + ")";
  throw StoreError(message);
}

void exec(sqlite3* db, std::string_view sql, std::string_view context) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = "store: ";
    message += context.empty() ? text.substr(0, 60) : std::string(context);
    message += ": ";
    message += error != nullptr ? error : sqlite3_errstr(rc);
    message += " (code " + std::to_string(rc) + ")";
    sqlite3_free(error);
    throw StoreError(message);
  }
}

std::shared_ptr<WriteTurns> WriteTurns::of(const std::filesystem::path& db_file) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<WriteTurns>> registry;
  std::error_code ec;
  std::filesystem::path key = std::filesystem::weakly_canonical(db_file, ec);
  if (ec) key = std::filesystem::absolute(db_file);
  std::lock_guard lock(registry_mutex);
  std::weak_ptr<WriteTurns>& slot = registry[key.string()];
  std::shared_ptr<WriteTurns> turns = slot.lock();
  if (!turns) {
    turns = std::make_shared<WriteTurns>();
    slot = turns;
  }
  return turns;
}

void WriteTurns::acquire() {
  std::unique_lock lock(mutex_);
  const uint64_t ticket = next_ticket_++;
  served_.wait(lock, [&] { return now_serving_ == ticket; });
}

void WriteTurns::release() {
  {
    std::lock_guard lock(mutex_);
    ++now_serving_;
  }
  served_.notify_all();
}

uint64_t WriteTurns::taken() const {
  std::lock_guard lock(mutex_);
  return next_ticket_ - now_serving_;
}

void StatementCache::clear() {
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  idle_.clear();
}

sqlite3_stmt* StatementCache::take(std::string_view sql) {
  const auto it = idle_.find(sql);
  if (it == idle_.end()) return nullptr;
  sqlite3_stmt* stmt = it->second;
  idle_.erase(it);
  return stmt;
}

void StatementCache::give_back(sqlite3_stmt* stmt) {
  if (idle_.size() < kMaxIdle && idle_.try_emplace(sqlite3_sql(stmt), stmt).second) return;
  sqlite3_finalize(stmt);
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) { prepare(sql); }

Statement::Statement(StatementCache& cache, std::string_view sql)
    : db_(cache.db()), cache_(&cache), stmt_(cache.take(sql)) {
  if (stmt_ == nullptr) prepare(sql);
}

void Statement::prepare(std::string_view sql) {
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    throw_error(db_, rc, "store: preparing \"" + std::string(sql) + "\"");
  }
}

Statement::~Statement() {
  if (cache_ != nullptr && stmt_ != nullptr) {
    reset();
    cache_->give_back(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) {
    throw_error(
        db_, rc,
        "store: binding parameter " + std::to_string(index) + " of \"" + sqlite3_sql(stmt_) + "\"");
  }
}

Statement& Statement::bind(int index, std::string_view text) {
  check_bind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::bind_borrowed(int index, std::string_view text) {
  check_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8), index);
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, Timestamp time) {
  return bind(index, static_cast<int64_t>(time.time_since_epoch().count()));
}

Statement& Statement::bind(int index, const std::optional<Timestamp>& time) {
  return time ? bind(index, *time) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_error(db_, rc, "store: running \"" + std::string(sqlite3_sql(stmt_)) + "\"");
}

void Statement::run() {
  if (step()) {
    throw StoreError("store: \"" + std::string(sqlite3_sql(stmt_)) +
                     "\" returned a row where none was expected");
  }
}

void Statement::reset() {
  // sqlite3_reset repeats the last step's error, which step() already threw.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::text(int column) const { return std::string(text_view(column)); }

std::string_view Statement::text_view(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (data == nullptr) {
    if (is_null(column)) return {};
    // Not NULL, yet no text: SQLite ran out of memory converting the value.
    throw_error(db_, SQLITE_NOMEM, "store: reading column " + std::to_string(column));
  }
  return std::string_view(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

Timestamp Statement::time(int column) const { return Timestamp{Duration{int64(column)}}; }

std::optional<Timestamp> Statement::optional_time(int column) const {
  if (is_null(column)) return std::nullopt;
  return time(column);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int Statement::changes() const { return sqlite3_changes(db_); }

Transaction::Transaction(sqlite3* db, Mode mode) : db_(db), nested_(sqlite3_get_autocommit(db) == 0) {
  begin(mode);
}

namespace {

[[noreturn]] void throw_rolled_back() {
  throw StoreError(
      "store: SQLite rolled back the whole transaction after an error in it (an I/O error or a full disk, say); "
      "nothing of it was committed");
}

}  // namespace

Transaction::Transaction(StatementCache& cache, Mode mode)
    : db_(cache.db()), cache_(&cache), nested_(sqlite3_get_autocommit(db_) == 0) {
  if (cache.open_transactions_ > 0 && !nested_) throw_rolled_back();
  begin(mode);
  ++cache.open_transactions_;
  counted_ = true;
}

void Transaction::stop_counting() {
  if (counted_) --cache_->open_transactions_;
  counted_ = false;
}

void Transaction::begin(Mode mode) {
  if (nested_) {
    run("SAVEPOINT kw_nested");
    return;
  }
  if (mode == Mode::write && cache_ != nullptr && cache_->write_turns() != nullptr) {
    turn_ = cache_->write_turns();
    turn_->acquire();
  }
  try {
    run(mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN");
  } catch (...) {
    if (turn_ != nullptr) turn_->release();
    turn_ = nullptr;
    throw;
  }
}

void Transaction::run(std::string_view sql) {
  if (cache_ != nullptr) {
    exec(*cache_, sql);
  } else {
    exec(db_, sql);
  }
}

Transaction::~Transaction() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, …) already rolled the
  // transaction back; a second ROLLBACK would only fail.
  if (open_ && sqlite3_get_autocommit(db_) == 0) {
    if (nested_) {
      sqlite3_exec(db_, "ROLLBACK TO kw_nested; RELEASE kw_nested", nullptr, nullptr, nullptr);
    } else {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  if (turn_ != nullptr) turn_->release();
  stop_counting();
}

void Transaction::commit() {
  // No transaction open: SQLite rolled it back by itself, and COMMIT or
  // RELEASE would fail with a message that hides why.
  if (sqlite3_get_autocommit(db_) != 0) throw_rolled_back();
  run(nested_ ? "RELEASE kw_nested" : "COMMIT");
  open_ = false;
  stop_counting();
  if (turn_ != nullptr) turn_->release();
  turn_ = nullptr;
}

void exec(StatementCache& cache, std::string_view sql) { Statement(cache, sql).run(); }

}  // namespace keywarden::sql

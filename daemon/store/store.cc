#include "daemon/store/store.h"

#include <set>

#include <sqlite3.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "daemon/store/checkpointer.h"
#include "daemon/store/identity_writer.h"
#include "daemon/store/schema.h"
#include "daemon/store/state_files.h"
#include "daemon/store/statement.h"

namespace keywarden {

using sql::Statement;
using sql::Transaction;

std::string_view to_string(IntentState s) {
  switch (s) {
    case IntentState::pending: return "pending";
    case IntentState::done: return "done";
    case IntentState::failed: return "failed";
  }
  return "pending";
}

std::string_view to_string(QuarantineState s) {
  switch (s) {
    case QuarantineState::pending: return "pending";
    case QuarantineState::approved: return "approved";
    case QuarantineState::rejected: return "rejected";
  }
  return "pending";
}

namespace {

constexpr Transaction::Mode kRead = Transaction::Mode::read;
constexpr Transaction::Mode kWrite = Transaction::Mode::write;

// ---- Reading enums back: a spelling the code does not know is corruption ----

[[noreturn]] void throw_corrupt(std::string_view what, std::string_view value) {
  throw StoreError("store: unknown " + std::string(what) + " '" + std::string(value) +
                   "' in the database");
}

IdentityStatus read_identity_status(std::string_view s) {
  if (auto status = identity_status_from_string(s)) return *status;
  throw_corrupt("identity status", s);
}

ActionKind read_action_kind(std::string_view s) {
  if (auto kind = action_kind_from_string(s)) return *kind;
  throw_corrupt("action", s);
}

Reason read_reason(std::string_view s) {
  if (auto reason = reason_from_string(s)) return *reason;
  throw_corrupt("reason", s);
}

IntentState read_intent_state(std::string_view s) {
  for (IntentState state : {IntentState::pending, IntentState::done, IntentState::failed}) {
    if (to_string(state) == s) return state;
  }
  throw_corrupt("intent state", s);
}

QuarantineState read_quarantine_state(std::string_view s) {
  for (QuarantineState state :
       {QuarantineState::pending, QuarantineState::approved, QuarantineState::rejected}) {
    if (to_string(state) == s) return state;
  }
  throw_corrupt("quarantine state", s);
}

// ---- Row shapes shared by several queries ------------------------------------

constexpr std::string_view kIdentityColumns =
    "source, subject_id, user_name, email, status, status_detail, status_since, first_seen";

IdentityRecord read_identity(const Statement& row) {
  IdentityRecord record;
  record.source = row.text(0);
  record.subject_id = row.text(1);
  record.user_name = row.text(2);
  record.email = row.text(3);
  record.status = read_identity_status(row.text_view(4));
  record.status_detail = row.text(5);
  record.status_since = row.time(6);
  record.first_seen = row.time(7);
  return record;
}

// The eight columns an Action is stored as, in journal and quarantine_actions.
constexpr int kActionColumnCount = 8;

void bind_action(Statement& statement, int first, const Action& action) {
  statement.bind(first, to_string(action.kind))
      .bind(first + 1, action.key_uid)
      .bind(first + 2, action.key_name)
      .bind(first + 3, action.owner_uid)
      .bind(first + 4, action.owner_email)
      .bind(first + 5, to_string(action.reason))
      .bind(first + 6, action.source)
      .bind(first + 7, action.detail);
}

Action read_action(const Statement& row, int first) {
  Action action;
  action.kind = read_action_kind(row.text_view(first));
  action.key_uid = row.text(first + 1);
  action.key_name = row.text(first + 2);
  action.owner_uid = row.text(first + 3);
  action.owner_email = row.text(first + 4);
  action.reason = read_reason(row.text_view(first + 5));
  action.source = row.text(first + 6);
  action.detail = row.text(first + 7);
  return action;
}

constexpr std::string_view kJournalColumns =
    "id, plan_id, action, key_uid, key_name, owner_uid, owner_email, reason, source, detail, "
    "state, attempts, http_status, created_at, updated_at";

JournalEntry read_journal_entry(const Statement& row) {
  JournalEntry entry;
  entry.id = row.int64(0);
  entry.plan_id = row.text(1);
  entry.action = read_action(row, 2);
  constexpr int next = 2 + kActionColumnCount;
  entry.state = read_intent_state(row.text_view(next));
  entry.attempts = static_cast<int>(row.int64(next + 1));
  entry.http_status = static_cast<int>(row.int64(next + 2));
  entry.created_at = row.time(next + 3);
  entry.updated_at = row.time(next + 4);
  return entry;
}

constexpr std::string_view kInsertAudit =
    "INSERT INTO audit (time, plan_id, action, key_uid, key_name, owner_uid, owner_email, "
    "reason, source, result, http_status, attempts, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

void insert_audit(Statement& insert, const AuditEntry& entry) {
  insert.reset();
  insert.bind(1, entry.time)
      .bind(2, entry.plan_id)
      .bind(3, entry.action)
      .bind(4, entry.key_uid)
      .bind(5, entry.key_name)
      .bind(6, entry.owner_uid)
      .bind(7, entry.owner_email)
      .bind(8, entry.reason)
      .bind(9, entry.source)
      .bind(10, entry.result)
      .bind(11, entry.http_status)
      .bind(12, entry.attempts)
      .bind(13, entry.detail);
  insert.run();
}

AuditEntry audit_of(const std::string& plan_id, const Action& action, std::string result,
                    Timestamp time) {
  AuditEntry entry;
  entry.time = time;
  entry.plan_id = plan_id;
  entry.action = std::string(to_string(action.kind));
  entry.key_uid = action.key_uid;
  entry.key_name = action.key_name;
  entry.owner_uid = action.owner_uid;
  entry.owner_email = action.owner_email;
  entry.reason = std::string(to_string(action.reason));
  entry.source = action.source;
  entry.result = std::move(result);
  return entry;
}

// ---- Identity reads ----------------------------------------------------------

std::vector<MembershipRecord> read_memberships(Statement& query, const std::string& source,
                                               const std::string& subject_id) {
  std::vector<MembershipRecord> memberships;
  query.reset();
  query.bind(1, source).bind(2, subject_id);
  while (query.step()) {
    memberships.push_back({query.text(0), query.time(1), query.optional_time(2)});
  }
  return memberships;
}

constexpr std::string_view kMembershipsOf =
    "SELECT group_name, first_seen, removed_at FROM memberships "
    "WHERE source = ?1 AND subject_id = ?2 ORDER BY group_name";

// ---- Source health -----------------------------------------------------------

constexpr std::string_view kSourceHealthColumns =
    "source, healthy, last_success, last_failure, last_error, entitled_count";

SourceHealth read_source_health(const Statement& row) {
  SourceHealth health;
  health.source = row.text(0);
  health.healthy = row.int64(1) != 0;
  health.last_success = row.optional_time(2);
  health.last_failure = row.optional_time(3);
  health.last_error = row.text(4);
  health.entitled_count = static_cast<long>(row.int64(5));
  return health;
}

// ---- Journal -----------------------------------------------------------------

std::optional<JournalEntry> find_intent(sql::StatementCache& db, int64_t id) {
  Statement query(db, "SELECT " + std::string(kJournalColumns) + " FROM journal WHERE id = ?1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_journal_entry(query);
}

// The intent `id`, which must exist and still be pending.
JournalEntry pending_intent(sql::StatementCache& db, int64_t id) {
  std::optional<JournalEntry> entry = find_intent(db, id);
  if (!entry) throw StoreError("store: no journal intent " + std::to_string(id));
  if (entry->state != IntentState::pending) {
    throw StoreError("store: journal intent " + std::to_string(id) + " is already " +
                     std::string(to_string(entry->state)));
  }
  return *entry;
}

void finish_intent(sql::StatementCache& db, int64_t id, IntentState state, int http_status, int attempts,
                   Timestamp now) {
  Statement update(db,
                   "UPDATE journal SET state = ?2, http_status = ?3, attempts = ?4, "
                   "updated_at = ?5 WHERE id = ?1");
  update.bind(1, id).bind(2, to_string(state)).bind(3, http_status).bind(4, attempts).bind(5, now);
  update.run();
}

// ---- Quarantine --------------------------------------------------------------

std::vector<Action> quarantined_actions(Statement& query, const std::string& plan_id) {
  std::vector<Action> actions;
  query.reset();
  query.bind(1, plan_id);
  while (query.step()) actions.push_back(read_action(query, 0));
  return actions;
}

constexpr std::string_view kQuarantinedActionsOf =
    "SELECT action, key_uid, key_name, owner_uid, owner_email, reason, source, detail "
    "FROM quarantine_actions WHERE plan_id = ?1 ORDER BY position";

QuarantinedPlan read_quarantined_plan(const Statement& row) {
  QuarantinedPlan plan;
  plan.plan_id = row.text(0);
  plan.created_at = row.time(1);
  plan.reason = row.text(2);
  plan.state = read_quarantine_state(row.text_view(3));
  return plan;
}

// One-value PRAGMA read, e.g. "journal_mode".
std::string pragma_value(sqlite3* db, std::string_view pragma) {
  Statement query(db, "PRAGMA " + std::string(pragma));
  if (!query.step()) throw StoreError("store: PRAGMA " + std::string(pragma) + " returned no row");
  return query.text(0);
}

// Process-wide settings, which SQLite takes only before its first use. They
// are made before main, so that no caller can use SQLite first (a test that
// registers a VFS, the checkpointer's connection) and leave them unmade.
// - Allocation counts off: SQLite keeps them under one process-wide mutex,
//   keywarden never reads them, and a large group change makes millions of
//   allocations.
// - Savepoint journals always in memory: every push in a group commit is a
//   savepoint, and SQLite copies each existing page the push changes into
//   the savepoint's journal. Past 64 KiB (SQLite's default) that journal
//   becomes a temporary file for the rest of the transaction, and every
//   later push then writes its pages there, two write calls a page
//   (bench/RESULTS.md, "Savepoint journals in memory"). A journal holds only
//   the pages one savepoint changes, and a push is bounded by its body and
//   by members_per_step. A bounded threshold above 64 KiB is not an option:
//   SQLite 3.40 (Debian 12) fails the spill of such a journal with
//   SQLITE_FULL (StoreFaultTest.SavepointJournalsStayInMemory shows the
//   large case works as set).
constexpr int kSavepointJournalAlwaysInMemory = -1;

bool configure_sqlite() {
  const bool counts_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  const bool journal_set = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kSavepointJournalAlwaysInMemory) == SQLITE_OK;
  return counts_off && journal_set;
}

[[maybe_unused]] const bool sqlite_configured = configure_sqlite();

}  // namespace

// ---- Opening -----------------------------------------------------------------

std::unique_ptr<Store> Store::open(const std::filesystem::path& db_file, const char* vfs) {
  make_database_files_private(db_file);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      db_file.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
      vfs);
  if (rc != SQLITE_OK) {
    std::string message = "store: cannot open " + db_file.string() + ": ";
    message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);  // a handle is returned even on most failures
    throw StoreError(message);
  }
  // From here the Store owns the handle and its destructor closes it.
  std::unique_ptr<Store> store(new Store(db));
  try {
    if (int busy = sqlite3_busy_timeout(db, 5000); busy != SQLITE_OK) {
      sql::throw_error(db, busy, "store: setting the busy timeout");
    }
    // journal_mode answers with the mode in force, which stays the old one
    // when WAL is impossible (a VFS without shared memory, for one).
    if (std::string mode = pragma_value(db, "journal_mode = WAL"); mode != "wal") {
      throw StoreError("store: cannot use WAL mode (journal_mode stays " + mode + ")");
    }
    sql::exec(db, "PRAGMA synchronous = FULL");
    // A full read writes tens of MB in one transaction; without a limit the
    // WAL file keeps that size on disk for good after its checkpoint.
    sql::exec(db, "PRAGMA journal_size_limit = 67108864");
    sql::exec(db, "PRAGMA foreign_keys = ON");
    if (pragma_value(db, "foreign_keys") != "1") {
      throw StoreError("store: this SQLite cannot enforce foreign keys");
    }
    schema::migrate(db);
  } catch (const StoreError& e) {
    throw StoreError(std::string(e.what()) + " [" + db_file.string() + "]");
  }
  store->statements_->set_write_turns(sql::WriteTurns::of(db_file));
  return store;
}

std::unique_ptr<Store> Store::open_scratch_copy(const std::filesystem::path& db_file) {
  sqlite3* db = nullptr;
  if (int rc = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                               nullptr);
      rc != SQLITE_OK) {
    sqlite3_close(db);
    throw StoreError(std::string("store: cannot open an in-memory copy: ") + sqlite3_errstr(rc));
  }
  std::unique_ptr<Store> store(new Store(db));
  std::error_code ec;
  if (std::filesystem::exists(db_file, ec)) {
    sqlite3* source = nullptr;
    const int rc = sqlite3_open_v2(db_file.c_str(), &source, SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = "store: cannot open " + db_file.string() + ": ";
      message += source != nullptr ? sqlite3_errmsg(source) : sqlite3_errstr(rc);
      sqlite3_close(source);
      throw StoreError(message);
    }
    sqlite3_busy_timeout(source, 5000);
    sqlite3_backup* backup = sqlite3_backup_init(db, "main", source, "main");
    int step = backup != nullptr ? sqlite3_backup_step(backup, -1) : sqlite3_errcode(db);
    if (backup != nullptr) sqlite3_backup_finish(backup);
    const std::string error = step == SQLITE_DONE ? "" : sqlite3_errmsg(db);
    sqlite3_close(source);
    if (step != SQLITE_DONE) throw StoreError("store: cannot copy " + db_file.string() + ": " + error);
  }
  try {
    sql::exec(db, "PRAGMA foreign_keys = ON");
    schema::migrate(db);
  } catch (const StoreError& e) {
    throw StoreError(std::string(e.what()) + " [copy of " + db_file.string() + "]");
  }
  return store;
}

Store::Store(sqlite3* db) : db_(db), statements_(std::make_unique<sql::StatementCache>(db)) {}

void Store::checkpoint_with(std::shared_ptr<WalCheckpointer> checkpointer) {
  checkpointer->take_over(db_);
  checkpointer_ = std::move(checkpointer);
}

void Store::set_page_cache_kib(int kib) { sql::exec(db_, "PRAGMA cache_size = -" + std::to_string(kib)); }

void Store::defer_commit_sync() { sql::exec(db_, "PRAGMA synchronous = NORMAL"); }

Store::WalSync Store::wal_sync() const {
  sqlite3_file* file = nullptr;
  // The WAL's file once the connection has one; before, the (unused)
  // rollback journal's, which is not open.
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK || file == nullptr ||
      file->pMethods == nullptr) {
    return WalSync();
  }
  return WalSync(file);
}

void Store::WalSync::sync() const {
  if (file_ == nullptr) return;
  // What SQLite's own commit does under synchronous = FULL: the WAL synced
  // with SQLITE_SYNC_NORMAL (an fdatasync on Linux).
  if (const int rc = file_->pMethods->xSync(file_, SQLITE_SYNC_NORMAL); rc != SQLITE_OK) {
    throw StoreError(std::string("store: syncing the WAL: ") + sqlite3_errstr(rc));
  }
}

void Store::EndTransaction::operator()(Transaction* transaction) const { delete transaction; }
Store::WriteScope Store::begin_write() { return WriteScope(new Transaction(*statements_, kWrite)); }
void Store::commit_write(WriteScope scope) {
  scope->commit();  // if COMMIT fails, the transaction rolls back as `scope` ends
}

Store::~Store() {
  // Every Statement is scoped to a method and the cache finalizes the idle
  // ones, so none is left to block the close.
  statements_.reset();
  sqlite3_close(db_);
}

// A first read writes about 250,000 rows a second on the CI machine, so a
// chunk is some 20 ms of writing: about the longest a push waits for a full
// read's write lock (bench/plan_scale prepare reports the measured wait).
constexpr size_t kFullReadWritesPerCommit = 5'000;

std::string Store::cursor_scope(const std::string& source) { return "cursor:" + source; }

int Store::schema_version() const { return schema::current_version(db_); }

// ---- Identities --------------------------------------------------------------

void Store::apply_full_read(const std::string& source, const std::vector<Identity>& identities,
                            long entitled_count, Timestamp now,
                            const std::map<std::string, std::string>& cursors) {
  identity_rows::FullReadChanges changes;
  {
    // Compared on a snapshot, without the write lock: at 100,000 identities
    // the scans take most of a second, and pushes must not wait for them.
    Transaction snapshot(*statements_, kRead);
    changes = identity_rows::compare_full_read(*statements_, source, identities);
    snapshot.commit();
  }
  // The writes in transactions of at most kFullReadWritesPerCommit: a first
  // read of 100,000 people and 1,000,000 memberships is seconds of writing,
  // and a push waiting for the write lock must wait one chunk, not all of it
  // (nor past the busy timeout). Each chunk leaves the rows consistent; the
  // source's health, entitled count and cursors change only with the last,
  // so until then the store says what it said before this read, plus facts
  // from it. A failure midway keeps the chunks written, and the caller marks
  // the source unhealthy, which stops any revoke or delete resting on it.
  const size_t total = changes.writes();
  size_t done = 0;
  while (true) {
    Transaction txn(*statements_, kWrite);
    done = identity_rows::write_full_read(*statements_, source, changes, now, done, kFullReadWritesPerCommit);
    if (done < total) {
      txn.commit();
      continue;
    }
    for (const auto& [name, value] : cursors) set_value(cursor_scope(source), name, value);
    Statement health(*statements_,
                     "INSERT INTO source_health (source, healthy, last_success, entitled_count) "
                     "VALUES (?1, 1, ?2, ?3) "
                     "ON CONFLICT (source) DO UPDATE SET healthy = 1, "
                     "last_success = excluded.last_success, "
                     "entitled_count = excluded.entitled_count");
    health.bind(1, source).bind(2, now).bind(3, static_cast<int64_t>(entitled_count));
    health.run();
    txn.commit();
    return;
  }
}

void Store::apply_identity_update(const std::string& source, const Identity& identity,
                                  bool groups_known, Timestamp now) {
  Transaction txn(*statements_, kWrite);
  identity_rows::IdentityWriter writer(*statements_);
  writer.upsert(source, identity, now);
  if (groups_known) writer.set_groups(source, identity.subject_id, identity.groups, now);
  txn.commit();
}

void Store::set_membership(const std::string& source, const std::string& subject_id,
                           const std::string& group, bool member, Timestamp now) {
  Transaction txn(*statements_, kWrite);
  Statement placeholder(*statements_,
                        "INSERT INTO identities (source, subject_id, user_name, email, status, "
                        "status_detail, status_since, first_seen, last_seen) "
                        "VALUES (?1, ?2, '', '', 'active', '', ?3, ?3, ?3) "
                        "ON CONFLICT (source, subject_id) DO NOTHING");
  placeholder.bind(1, source).bind(2, subject_id).bind(3, now);
  placeholder.run();
  identity_rows::IdentityWriter writer(*statements_);
  if (member) {
    writer.join(source, subject_id, group, now);
  } else {
    writer.leave(source, subject_id, group, now);
  }
  txn.commit();
}

std::set<std::string> Store::apply_changes(const std::string& source, const IdentityChanges& changes,
                                           Timestamp now, bool mark_success) {
  std::set<std::string> affected;
  Transaction txn(*statements_, kWrite);
  // What is stored of a subject: only these two columns matter here, not
  // the memberships load_identity would read too (one push each).
  Statement known(*statements_, "SELECT email, user_name FROM identities WHERE source = ?1 AND subject_id = ?2");
  for (Identity identity : changes.identities) {
    known.bind(1, source).bind(2, identity.subject_id);
    if (known.step()) {
      std::string old_email = known.text(0);
      if (identity.user_name.empty()) identity.user_name = known.text(1);
      if (identity.email.empty()) identity.email = old_email;
      affected.insert(std::move(old_email));
    }
    known.reset();
    apply_identity_update(source, identity, changes.groups_known, now);
    affected.insert(normalize_email(identity.email));
  }
  identity_rows::IdentityWriter writer(*statements_);
  // A run of consecutive changes with the email read already (a large group
  // change: one group, one direction) is written many rows per statement.
  // Runs never pass another change, so the order of the changes holds.
  const MembershipChange* run_head = nullptr;
  std::vector<std::string_view> run;
  const auto write_run = [&] {
    if (run.empty()) return;
    if (run_head->member) {
      writer.join_all(source, run, run_head->group, now);
    } else {
      writer.leave_all(source, run, run_head->group, now);
    }
    run.clear();
  };
  for (const MembershipChange& m : changes.memberships) {
    if (m.email_is_stored) {
      if (!run.empty() && (run_head->member != m.member || run_head->group != m.group)) write_run();
      if (run.empty()) run_head = &m;
      run.push_back(m.subject_id);
      affected.insert(m.email_hint);
      continue;
    }
    write_run();
    std::optional<std::string> email;
    known.bind(1, source).bind(2, m.subject_id);
    if (known.step()) email = known.text(0);
    known.reset();
    if (!email) {
      // The first word about this person: record what the event says of
      // them, so that the membership joins someone with an email.
      Identity first;
      first.subject_id = m.subject_id;
      first.user_name = m.user_name_hint;
      first.email = m.email_hint;
      apply_identity_update(source, first, false, now);
      email = normalize_email(m.email_hint);
    }
    // In this transaction, without a savepoint each: a large group change
    // is tens of thousands of these.
    if (m.member) {
      writer.join(source, m.subject_id, m.group, now);
    } else {
      writer.leave(source, m.subject_id, m.group, now);
    }
    affected.insert(*email);
  }
  write_run();
  for (const std::string& id : changes.event_ids) remember_event(source, id, now);
  for (const std::string& note : changes.notes) {
    AuditEntry entry;
    entry.time = now;
    entry.action = "event";
    entry.reason = "event_ignored";
    entry.source = source;
    entry.result = "skipped";
    entry.detail = note;
    append_audit(entry);
  }
  for (const auto& [name, value] : changes.cursors) set_value(cursor_scope(source), name, value);
  if (mark_success) record_source_success(source, now);
  txn.commit();
  affected.erase("");
  return affected;
}

std::vector<IdentityRecord> Store::load_identities() const {
  std::vector<IdentityRecord> records;
  // One snapshot for both scans: a writer in another process cannot slip a
  // membership in between them.
  Transaction txn(*statements_, kRead);
  {
    Statement count(*statements_, "SELECT count(*) FROM identities");
    if (count.step()) records.reserve(static_cast<size_t>(count.int64(0)));
  }
  {
    Statement identities(*statements_, "SELECT " + std::string(kIdentityColumns) +
                                  " FROM identities ORDER BY source, subject_id");
    while (identities.step()) records.push_back(read_identity(identities));
  }
  // Both scans follow the primary keys, so a membership's identity is the
  // current record or a later one: a merge, not a lookup per row.
  Statement memberships(*statements_,
                        "SELECT source, subject_id, group_name, first_seen, removed_at "
                        "FROM memberships ORDER BY source, subject_id, group_name");
  size_t i = 0;
  // records[i]'s memberships, moved over once complete: each identity's vector
  // is allocated once at its exact size instead of grown by doubling.
  std::vector<MembershipRecord> gathered;
  const auto settle = [&] {
    if (gathered.empty()) return;
    records[i].memberships.assign(std::make_move_iterator(gathered.begin()),
                                  std::make_move_iterator(gathered.end()));
    gathered.clear();
  };
  const auto belongs_to = [&](size_t record, std::string_view source, std::string_view subject_id) {
    return records[record].source == source && records[record].subject_id == subject_id;
  };
  while (memberships.step()) {
    const std::string_view source = memberships.text_view(0);
    const std::string_view subject_id = memberships.text_view(1);
    if (i < records.size() && !belongs_to(i, source, subject_id)) {
      settle();
      do {
        ++i;
      } while (i < records.size() && !belongs_to(i, source, subject_id));
    }
    if (i == records.size()) {
      // The foreign key makes this impossible unless the file was damaged.
      throw StoreError("store: membership of " + std::string(source) + "/" +
                       std::string(subject_id) + " has no identity, or rows are out of order");
    }
    gathered.push_back({memberships.text(2), memberships.time(3), memberships.optional_time(4)});
  }
  settle();
  txn.commit();
  return records;
}

std::vector<IdentityRecord> Store::load_identities_by_email(const std::string& email) const {
  std::vector<IdentityRecord> records;
  Transaction txn(*statements_, kRead);
  Statement identities(*statements_, "SELECT " + std::string(kIdentityColumns) +
                                " FROM identities WHERE email = ?1 ORDER BY source, subject_id");
  identities.bind(1, normalize_email(email));
  while (identities.step()) records.push_back(read_identity(identities));
  Statement memberships(*statements_, kMembershipsOf);
  for (IdentityRecord& record : records) {
    record.memberships = read_memberships(memberships, record.source, record.subject_id);
  }
  txn.commit();
  return records;
}

std::optional<IdentityRecord> Store::load_identity(const std::string& source,
                                                   const std::string& subject_id) const {
  Transaction txn(*statements_, kRead);
  Statement identity(*statements_, "SELECT " + std::string(kIdentityColumns) +
                              " FROM identities WHERE source = ?1 AND subject_id = ?2");
  identity.bind(1, source).bind(2, subject_id);
  if (!identity.step()) return std::nullopt;
  IdentityRecord record = read_identity(identity);
  Statement memberships(*statements_, kMembershipsOf);
  record.memberships = read_memberships(memberships, source, subject_id);
  txn.commit();
  return record;
}

// ---- Source health -----------------------------------------------------------

void Store::record_read_failure(const std::string& source, const std::string& error,
                                Timestamp now) {
  Transaction txn(*statements_, kWrite);
  Statement health(*statements_,
                   "INSERT INTO source_health (source, healthy, last_failure, last_error) "
                   "VALUES (?1, 0, ?2, ?3) "
                   "ON CONFLICT (source) DO UPDATE SET healthy = 0, "
                   "last_failure = excluded.last_failure, last_error = excluded.last_error");
  health.bind(1, source).bind(2, now).bind(3, error);
  health.run();
  txn.commit();
}

void Store::record_source_success(const std::string& source, Timestamp now) {
  Transaction txn(*statements_, kWrite);
  Statement health(*statements_,
                   "INSERT INTO source_health (source, healthy, last_success) VALUES (?1, 1, ?2) "
                   "ON CONFLICT (source) DO UPDATE SET healthy = 1, "
                   "last_success = excluded.last_success");
  health.bind(1, source).bind(2, now);
  health.run();
  txn.commit();
}

void Store::record_source_serving(const std::string& source) {
  Transaction txn(*statements_, kWrite);
  Statement health(*statements_,
                   "INSERT INTO source_health (source, healthy) VALUES (?1, 1) "
                   "ON CONFLICT (source) DO UPDATE SET healthy = 1");
  health.bind(1, source);
  health.run();
  txn.commit();
}

std::optional<SourceHealth> Store::source_health(const std::string& source) const {
  Statement query(
      *statements_, "SELECT " + std::string(kSourceHealthColumns) + " FROM source_health WHERE source = ?1");
  query.bind(1, source);
  if (!query.step()) return std::nullopt;
  return read_source_health(query);
}

std::vector<SourceHealth> Store::all_source_health() const {
  std::vector<SourceHealth> all;
  Statement query(
      *statements_, "SELECT " + std::string(kSourceHealthColumns) + " FROM source_health ORDER BY source");
  while (query.step()) all.push_back(read_source_health(query));
  return all;
}

Store::Gauges Store::gauges() const {
  Gauges g;
  Transaction txn(*statements_, kRead);
  Statement counts(*statements_,
                   "SELECT (SELECT count(*) FROM quarantine WHERE state = 'pending'), "
                   "(SELECT count(*) FROM journal WHERE state = 'pending')");
  if (counts.step()) {
    g.quarantined_plans = static_cast<long>(counts.int64(0));
    g.pending_intents = static_cast<long>(counts.int64(1));
  }
  g.sources = all_source_health();
  txn.commit();
  return g;
}

// ---- Keys keywarden revoked --------------------------------------------------

std::unordered_map<std::string, RevokedKeyRecord> Store::revoked_keys() const {
  std::unordered_map<std::string, RevokedKeyRecord> keys;
  Statement query(*statements_, "SELECT key_uid, owner_uid, revoked_at, reason FROM revoked_keys");
  while (query.step()) {
    RevokedKeyRecord record;
    record.key_uid = query.text(0);
    record.owner_uid = query.text(1);
    record.revoked_at = query.time(2);
    record.reason = read_reason(query.text_view(3));
    keys.emplace(record.key_uid, std::move(record));
  }
  return keys;
}

// ---- Action journal ----------------------------------------------------------

std::vector<int64_t> Store::journal_intents(const std::string& plan_id,
                                            const std::vector<Action>& actions, Timestamp now) {
  std::vector<int64_t> ids;
  ids.reserve(actions.size());
  Transaction txn(*statements_, kWrite);
  Statement insert(*statements_,
                   "INSERT INTO journal (plan_id, action, key_uid, key_name, owner_uid, "
                   "owner_email, reason, source, detail, state, attempts, http_status, "
                   "created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, 0, ?10, ?10)");
  for (const Action& action : actions) {
    insert.reset();
    insert.bind(1, plan_id);
    bind_action(insert, 2, action);
    insert.bind(10, now);
    insert.run();
    ids.push_back(sqlite3_last_insert_rowid(db_));
  }
  txn.commit();
  return ids;
}

std::vector<JournalEntry> Store::pending_intents() const {
  std::vector<JournalEntry> entries;
  Statement query(*statements_, "SELECT " + std::string(kJournalColumns) +
                           " FROM journal WHERE state = 'pending' ORDER BY id");
  while (query.step()) entries.push_back(read_journal_entry(query));
  return entries;
}

std::optional<JournalEntry> Store::intent(int64_t id) const { return find_intent(*statements_, id); }

void Store::mark_done(int64_t id, int http_status, int attempts, Timestamp now,
                      const std::string& detail) {
  Transaction txn(*statements_, kWrite);
  const JournalEntry entry = pending_intent(*statements_, id);
  finish_intent(*statements_, id, IntentState::done, http_status, attempts, now);

  const Action& action = entry.action;
  if (action.kind == ActionKind::revoke) {
    // Revoked again (it cannot be while recorded, but if so): the later time
    // wins, which only postpones the delete.
    Statement revoked(*statements_,
                      "INSERT INTO revoked_keys (key_uid, owner_uid, revoked_at, reason, plan_id) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) "
                      "ON CONFLICT (key_uid) DO UPDATE SET owner_uid = excluded.owner_uid, "
                      "revoked_at = excluded.revoked_at, reason = excluded.reason, "
                      "plan_id = excluded.plan_id");
    revoked.bind(1, action.key_uid)
        .bind(2, action.owner_uid)
        .bind(3, now)
        .bind(4, to_string(action.reason))
        .bind(5, entry.plan_id);
    revoked.run();
  } else {
    Statement forget(*statements_, "DELETE FROM revoked_keys WHERE key_uid = ?1");
    forget.bind(1, action.key_uid);
    forget.run();
  }

  AuditEntry audit = audit_of(entry.plan_id, action, "done", now);
  audit.http_status = http_status;
  audit.attempts = attempts;
  audit.detail = detail.empty() ? action.detail : detail;
  Statement insert(*statements_, kInsertAudit);
  insert_audit(insert, audit);
  txn.commit();
}

void Store::mark_failed(int64_t id, int http_status, int attempts, const std::string& error,
                        Timestamp now) {
  Transaction txn(*statements_, kWrite);
  const JournalEntry entry = pending_intent(*statements_, id);
  finish_intent(*statements_, id, IntentState::failed, http_status, attempts, now);
  AuditEntry audit = audit_of(entry.plan_id, entry.action, "failed", now);
  audit.http_status = http_status;
  audit.attempts = attempts;
  audit.detail = error;
  Statement insert(*statements_, kInsertAudit);
  insert_audit(insert, audit);
  txn.commit();
}

// ---- Quarantine --------------------------------------------------------------

void Store::quarantine_plan(const std::string& plan_id, const std::vector<Action>& actions,
                            const std::string& reason, Timestamp now) {
  Transaction txn(*statements_, kWrite);
  Statement plan(*statements_,
                 "INSERT INTO quarantine (plan_id, created_at, reason, state, resolved_at) "
                 "VALUES (?1, ?2, ?3, 'pending', NULL)");
  plan.bind(1, plan_id).bind(2, now).bind(3, reason);
  plan.run();

  Statement insert_action(*statements_,
                          "INSERT INTO quarantine_actions (plan_id, position, action, key_uid, "
                          "key_name, owner_uid, owner_email, reason, source, detail) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  Statement insert_audit_row(*statements_, kInsertAudit);
  for (size_t position = 0; position < actions.size(); ++position) {
    const Action& action = actions[position];
    insert_action.reset();
    insert_action.bind(1, plan_id).bind(2, static_cast<int64_t>(position));
    bind_action(insert_action, 3, action);
    insert_action.run();

    AuditEntry audit = audit_of(plan_id, action, "quarantined", now);
    audit.detail = reason;  // why it was held, which the action's own detail does not say
    insert_audit(insert_audit_row, audit);
  }
  txn.commit();
}

std::vector<QuarantinedPlan> Store::quarantined_plans(bool pending_only) const {
  std::vector<QuarantinedPlan> plans;
  Transaction txn(*statements_, kRead);
  Statement query(*statements_,
                  "SELECT plan_id, created_at, reason, state FROM quarantine "
                  "WHERE ?1 = 0 OR state = 'pending' ORDER BY created_at, plan_id");
  query.bind(1, pending_only ? 1 : 0);
  while (query.step()) plans.push_back(read_quarantined_plan(query));
  Statement actions(*statements_, kQuarantinedActionsOf);
  for (QuarantinedPlan& plan : plans) plan.actions = quarantined_actions(actions, plan.plan_id);
  txn.commit();
  return plans;
}

std::optional<QuarantinedPlan> Store::quarantined_plan(const std::string& plan_id) const {
  Transaction txn(*statements_, kRead);
  Statement query(*statements_,
                  "SELECT plan_id, created_at, reason, state FROM quarantine WHERE plan_id = ?1");
  query.bind(1, plan_id);
  if (!query.step()) return std::nullopt;
  QuarantinedPlan plan = read_quarantined_plan(query);
  Statement actions(*statements_, kQuarantinedActionsOf);
  plan.actions = quarantined_actions(actions, plan_id);
  txn.commit();
  return plan;
}

void Store::resolve_quarantine(const std::string& plan_id, QuarantineState state, Timestamp now) {
  if (state == QuarantineState::pending) {
    throw StoreError("store: a quarantined plan can only be resolved to approved or rejected");
  }
  Transaction txn(*statements_, kWrite);
  Statement update(*statements_,
                   "UPDATE quarantine SET state = ?2, resolved_at = ?3 "
                   "WHERE plan_id = ?1 AND state = 'pending'");
  update.bind(1, plan_id).bind(2, to_string(state)).bind(3, now);
  update.run();
  if (update.changes() != 1) {
    throw StoreError("store: no pending quarantined plan " + plan_id);
  }
  txn.commit();
}

// ---- Audit trail -------------------------------------------------------------

void Store::append_audit(const AuditEntry& entry) {
  Transaction txn(*statements_, kWrite);
  Statement insert(*statements_, kInsertAudit);
  insert_audit(insert, entry);
  txn.commit();
}

std::vector<AuditEntry> Store::audit_since(std::optional<Timestamp> since) const {
  std::vector<AuditEntry> entries;
  // Two statements rather than "?1 IS NULL OR time >= ?1", which would make
  // SQLite scan the whole trail even for a short window.
  const std::string columns =
      "SELECT time, plan_id, action, key_uid, key_name, owner_uid, owner_email, reason, source, "
      "result, http_status, attempts, detail FROM audit ";
  Statement query(*statements_,
                  columns + (since ? "WHERE time >= ?1 ORDER BY time, id" : "ORDER BY time, id"));
  if (since) query.bind(1, *since);
  while (query.step()) {
    AuditEntry entry;
    entry.time = query.time(0);
    entry.plan_id = query.text(1);
    entry.action = query.text(2);
    entry.key_uid = query.text(3);
    entry.key_name = query.text(4);
    entry.owner_uid = query.text(5);
    entry.owner_email = query.text(6);
    entry.reason = query.text(7);
    entry.source = query.text(8);
    entry.result = query.text(9);
    entry.http_status = static_cast<int>(query.int64(10));
    entry.attempts = static_cast<int>(query.int64(11));
    entry.detail = query.text(12);
    entries.push_back(std::move(entry));
  }
  return entries;
}

long Store::revocations_since(Timestamp since) const {
  // The literal terms match audit_revocations_by_time's WHERE, so SQLite
  // counts from that partial index.
  Statement query(*statements_,
                  "SELECT count(*) FROM audit "
                  "WHERE action = 'revoke' AND result = 'done' AND time >= ?1");
  query.bind(1, since);
  if (!query.step()) throw StoreError("store: count(*) returned no row");
  return static_cast<long>(query.int64(0));
}

// ---- Small durable values ----------------------------------------------------

std::optional<std::string> Store::get_value(const std::string& scope,
                                            const std::string& name) const {
  Statement query(*statements_, "SELECT value FROM kv WHERE scope = ?1 AND name = ?2");
  query.bind(1, scope).bind(2, name);
  if (!query.step()) return std::nullopt;
  return query.text(0);
}

void Store::replace_stale_team_memberships(const std::vector<StaleMembership>& stale, Timestamp now) {
  Transaction txn(*statements_, kWrite);
  Statement clear(*statements_, "DELETE FROM stale_team_memberships");
  clear.run();
  Statement insert(*statements_,
                   "INSERT OR REPLACE INTO stale_team_memberships "
                   "(owner_uid, owner_email, team, source, group_name, left_at, found_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  for (const auto& m : stale) {
    insert.bind(1, m.owner_uid).bind(2, m.owner_email).bind(3, m.team).bind(4, m.source).bind(5, m.group);
    insert.bind(6, m.left_at).bind(7, now);
    insert.run();
    insert.reset();
  }
  txn.commit();
}

Store::StaleTeamMemberships Store::stale_team_memberships() const {
  StaleTeamMemberships out;
  Statement query(*statements_,
                  "SELECT owner_uid, owner_email, team, source, group_name, left_at, found_at "
                  "FROM stale_team_memberships ORDER BY owner_email, team, source, group_name");
  while (query.step()) {
    out.memberships.push_back(
        {query.text(0), query.text(1), query.text(2), query.text(3), query.text(4), query.time(5)});
    const Timestamp found = query.time(6);
    if (!out.found_at || found > *out.found_at) out.found_at = found;
  }
  return out;
}

void Store::set_value(const std::string& scope, const std::string& name, const std::string& value) {
  Transaction txn(*statements_, kWrite);
  Statement upsert(*statements_,
                   "INSERT INTO kv (scope, name, value) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value");
  upsert.bind(1, scope).bind(2, name).bind(3, value);
  upsert.run();
  txn.commit();
}

std::map<std::string, std::string> Store::values(const std::string& scope) const {
  Statement query(*statements_, "SELECT name, value FROM kv WHERE scope = ?1");
  query.bind(1, scope);
  std::map<std::string, std::string> out;
  while (query.step()) out.emplace(query.text(0), query.text(1));
  return out;
}

bool Store::event_seen(const std::string& source, const std::string& event_id) const {
  Statement query(*statements_, "SELECT 1 FROM events WHERE source = ?1 AND event_id = ?2");
  query.bind(1, source).bind(2, event_id);
  return query.step();
}

bool Store::remember_event(const std::string& source, const std::string& event_id, Timestamp now) {
  Transaction txn(*statements_, kWrite);
  Statement insert(*statements_,
                   "INSERT INTO events (source, event_id, seen_at) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (source, event_id) DO NOTHING");
  insert.bind(1, source).bind(2, event_id).bind(3, now);
  insert.run();
  const bool first_time = insert.changes() == 1;
  txn.commit();
  return first_time;
}

void Store::prune_events(Timestamp older_than) {
  Transaction txn(*statements_, kWrite);
  Statement prune(*statements_, "DELETE FROM events WHERE seen_at < ?1");
  prune.bind(1, older_than);
  prune.run();
  txn.commit();
}

}  // namespace keywarden

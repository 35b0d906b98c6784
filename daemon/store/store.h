// keywarden's state in SQLite: the only code that speaks SQL.
//
// One Store owns one connection to STATE_DIR/keywarden.db in WAL mode with
// synchronous=FULL: when a mutating method returns, its change is durable.
// Each mutating method is one transaction. A Store is not thread-safe: use it
// from one thread (the Asio thread in the daemon). Every method throws
// StoreError on an SQLite failure; nothing fails silently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/plan.h"
#include "daemon/engine/time_point.h"

struct sqlite3;
struct sqlite3_file;

namespace keywarden {

class WalCheckpointer;

namespace sql {
class StatementCache;
class Transaction;
}

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The health of one source's reads.
struct SourceHealth {
  std::string source;
  bool healthy = false;                    // false until the first good read
  std::optional<Timestamp> last_success;   // last good full read (or accepted push)
  std::optional<Timestamp> last_failure;
  std::string last_error;                  // never contains a secret (callers ensure it)
  long entitled_count = -1;                // entitled population of the last good full read; -1: none yet
};

enum class IntentState { pending, done, failed };
std::string_view to_string(IntentState s);  // "pending" | "done" | "failed"

// One journaled Palette mutation.
struct JournalEntry {
  int64_t id = 0;
  std::string plan_id;
  Action action;
  IntentState state = IntentState::pending;
  int attempts = 0;
  int http_status = 0;
  Timestamp created_at{};
  Timestamp updated_at{};
};

// One row of the audit trail (SPEC §2 `audit --json`).
struct AuditEntry {
  Timestamp time{};
  std::string plan_id;
  std::string action;      // "revoke" | "reactivate" | "delete"
  std::string key_uid;
  std::string key_name;
  std::string owner_uid;
  std::string owner_email;
  std::string reason;
  std::string source;
  std::string result;      // "done" | "failed" | "skipped" | "quarantined"
  int http_status = 0;     // 0: no HTTP exchange
  int attempts = 0;
  std::string detail;      // free text (error message, why skipped)
};

enum class QuarantineState { pending, approved, rejected };
std::string_view to_string(QuarantineState s);  // "pending" | "approved" | "rejected"

struct QuarantinedPlan {
  std::string plan_id;
  Timestamp created_at{};
  std::string reason;
  QuarantineState state = QuarantineState::pending;
  std::vector<Action> actions;
};

// ---- Pushed resources -------------------------------------------------------
// Rows a push source keeps of its own (a SCIM service provider's Users and
// Groups, so that it can answer its client's GETs, filters and PATCHes). The
// store compares their keys byte for byte; it never reads the JSON inside.

// One resource of a source. `type` is "User" or "Group".
struct PushedResourceRow {
  std::string type;
  std::string id;
  std::string json;
  int64_t version = 0;  // 1 after the first put, +1 on every later put
  Timestamp created{};
  Timestamp modified{};
};

// What a resource is found by; the connector folds case before the store sees
// a key. Empty keys are never matched.
struct PushedResourceKeys {
  std::string user_name_lower;
  std::string external_id;
  std::string display_name_lower;
  std::vector<std::string> emails;
};

enum class PushedResourceKey { user_name_lower, external_id, display_name_lower, email };

// One member of a group: the member's id and its member object (JSON text).
struct PushedMemberRow {
  std::string member_id;
  std::string json;
};

// A resource of a source that has an identity, and the email that identity
// joins on (normalized; "" when it has none).
struct PushedIdentityEmailRow {
  std::string id;
  std::string email;
};
// ---- end of pushed resources -----------------------------------------------

class Store {
 public:
  // Opens or creates the database file (its folder must exist), sets WAL and
  // synchronous=FULL, a busy timeout, and runs pending schema migrations.
  // `vfs` names a registered SQLite VFS to open it through (tests inject
  // I/O faults this way, daemon/store/fault_vfs.h); nullptr is SQLite's
  // default.
  static std::unique_ptr<Store> open(const std::filesystem::path& db_file, const char* vfs = nullptr);
  // An in-memory copy of `db_file` (an empty store when the file does not
  // exist yet), migrated to the current schema. Nothing written to it
  // reaches the file: `plan` and `keys` use it to change nothing at all.
  static std::unique_ptr<Store> open_scratch_copy(const std::filesystem::path& db_file);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The schema version after migrations.
  int schema_version() const;

  // Leaves this connection's WAL checkpoints to `checkpointer` (a thread of
  // its own), so that a commit never waits for one; see checkpointer.h. The
  // store keeps it alive until the connection is closed.
  void checkpoint_with(std::shared_ptr<WalCheckpointer> checkpointer);

  // Lets this connection keep up to `kib` KiB of the file's pages (SQLite's
  // default is 2,000). For the connection that writes row by row through a
  // large store (the daemon's store worker); a connection that scans the
  // whole store once per plan gains nothing from more and would only hold it.
  void set_page_cache_kib(int kib);

  // A commit on this connection no longer waits for the disk: its WAL
  // frames are written, and nothing is synced (synchronous = NORMAL). The
  // caller makes them durable with WalSync::sync() before it tells anyone
  // that they are: the store worker syncs one group commit while the next
  // one runs. Other connections' commits sync as before.
  void defer_commit_sync();
  // Syncs this connection's WAL file, from any thread: every frame written
  // to it so far (every commit so far) becomes durable. Through the VFS, so
  // a VFS that models the disk sees the sync. Valid while the Store is open.
  class WalSync {
   public:
    WalSync() = default;
    // Throws StoreError when the sync fails.
    void sync() const;

   private:
    friend class Store;
    explicit WalSync(sqlite3_file* file) : file_(file) {}
    sqlite3_file* file_ = nullptr;  // nullptr: no WAL written yet
  };
  // Call on the Store's own thread, after a commit.
  WalSync wal_sync() const;

  // Runs `work` inside one write transaction: every store method it calls
  // becomes part of it (a savepoint each), and all of it becomes durable with
  // one commit when `work` returns. If `work` throws, nothing it did stays
  // and the exception propagates. The daemon batches pushes this way: one
  // disk sync for many acknowledged requests.
  template <class F>
  void batch(F&& work) {
    WriteScope scope = begin_write();  // rolls back if `work` throws
    work();
    commit_write(std::move(scope));
  }
  // Runs one item of a batch: if `work` throws, only its own changes are
  // undone and the exception propagates; the batch goes on. (Inside a
  // batch, the write transaction is a savepoint.)
  template <class F>
  void batch_item(F&& work) {
    batch(std::forward<F>(work));
  }

  // ---- Identities -----------------------------------------------------------

  // A complete, good read of `source`:
  // - identities in the list are inserted or updated; email is normalized;
  //   status_since moves to `now` only when the status changed;
  // - a listed group becomes a current membership (first_seen kept if it was
  //   already current); a current membership not listed gets removed_at = now;
  //   a removed membership listed again is current again with first_seen = now;
  // - identities of this source absent from the list become `deleted`
  //   (status_detail "no longer listed by the source") with their memberships
  //   removed, unless they already were deleted;
  // - the source becomes healthy with last_success = now and
  //   entitled_count = `entitled_count`;
  // - each of `cursors` is stored as set_value(cursor_scope(source), name, value).
  // The comparison with the stored rows runs on a read snapshot, without the
  // write lock, so other connections' writes (pushes) are not held up by it;
  // a push that lands in between survives unless this read changes that same
  // row. The changes are then written in transactions of a bounded size (one
  // for any ordinary read; several for a first read of a large directory),
  // each leaving the rows consistent; health, entitled count and cursors
  // change in the last. If a write fails midway, the chunks before it stay:
  // the caller records a read failure, and an unhealthy source's rows back no
  // revoke or delete until its next good read.
  void apply_full_read(const std::string& source, const std::vector<Identity>& identities,
                       long entitled_count, Timestamp now,
                       const std::map<std::string, std::string>& cursors = {});
  // The get_value/set_value scope of a source's incremental-read cursors.
  static std::string cursor_scope(const std::string& source);

  // One identity changed (a push or an incremental read). Upserts it like
  // apply_full_read does for one identity, without touching others. When
  // `groups_known` is false its memberships are left as they are.
  void apply_identity_update(const std::string& source, const Identity& identity,
                             bool groups_known, Timestamp now);

  // One membership changed (a push). Creates a placeholder identity (status
  // active, empty email) when the subject is unknown yet.
  void set_membership(const std::string& source, const std::string& subject_id,
                      const std::string& group, bool member, Timestamp now);

  // What an incremental read or a push learnt (see IdentityChanges), applied
  // in one transaction (a savepoint inside a batch) with the one merge rule:
  // an upsert with an empty email or userName keeps the stored one; a
  // membership of an unknown subject first records them with the change's
  // hints; event ids are remembered; cursors are stored in
  // cursor_scope(source). With `mark_success` the source also becomes
  // healthy (an accepted push, a good incremental read). Returns the
  // normalized emails of everyone touched, before and after the change: the
  // owners to reconcile at once.
  std::set<std::string> apply_changes(const std::string& source, const IdentityChanges& changes,
                                      Timestamp now, bool mark_success);

  // Every identity of every source, with memberships.
  std::vector<IdentityRecord> load_identities() const;
  // The identities, of any source, whose normalized email equals `email`.
  std::vector<IdentityRecord> load_identities_by_email(const std::string& email) const;
  std::optional<IdentityRecord> load_identity(const std::string& source,
                                              const std::string& subject_id) const;

  // ---- Source health --------------------------------------------------------

  // A failed, partial or shrunken read: the source becomes unhealthy; its
  // identities stay as they were.
  void record_read_failure(const std::string& source, const std::string& error, Timestamp now);
  // Marks the source healthy without a full read (push sources, on an accepted push).
  void record_source_success(const std::string& source, Timestamp now);
  // A push source the daemon serves: healthy, its last success (the last
  // accepted push) left as it is.
  void record_source_serving(const std::string& source);
  std::optional<SourceHealth> source_health(const std::string& source) const;
  std::vector<SourceHealth> all_source_health() const;

  // What the store's gauges on /metrics show, read in one transaction: the
  // pending quarantined plans and journal intents (counted, not loaded), and
  // every source's health.
  struct Gauges {
    long quarantined_plans = 0;
    long pending_intents = 0;
    std::vector<SourceHealth> sources;
  };
  Gauges gauges() const;

  // ---- Keys keywarden revoked -----------------------------------------------

  std::unordered_map<std::string, RevokedKeyRecord> revoked_keys() const;

  // ---- Action journal -------------------------------------------------------

  // Writes one pending intent per action, all in one transaction, and returns
  // their ids in order. Call before any Palette call for them.
  std::vector<int64_t> journal_intents(const std::string& plan_id,
                                       const std::vector<Action>& actions, Timestamp now);
  // Pending intents, oldest first.
  std::vector<JournalEntry> pending_intents() const;
  std::optional<JournalEntry> intent(int64_t id) const;
  // The call for `id` succeeded (or 404ed). In one transaction: the intent is
  // done; a revoke adds the key to revoked_keys (revoked_at = now, its reason);
  // a reactivate or delete removes it; an audit row with result "done".
  // The audit row's detail is `detail`, or the action's own detail when empty.
  // Throws StoreError when `id` is unknown or no longer pending.
  void mark_done(int64_t id, int http_status, int attempts, Timestamp now,
                 const std::string& detail = "");
  // The call for `id` failed for good (a non-retryable answer). The intent is
  // failed and an audit row with result "failed" records `error`.
  // Throws StoreError when `id` is unknown or no longer pending.
  void mark_failed(int64_t id, int http_status, int attempts, const std::string& error,
                   Timestamp now);

  // ---- Quarantine -----------------------------------------------------------

  // Holds a plan back: stores it pending, with an audit row "quarantined" per action.
  // Those rows' detail is `reason`. Throws StoreError if `plan_id` is already stored.
  void quarantine_plan(const std::string& plan_id, const std::vector<Action>& actions,
                       const std::string& reason, Timestamp now);
  std::vector<QuarantinedPlan> quarantined_plans(bool pending_only) const;
  std::optional<QuarantinedPlan> quarantined_plan(const std::string& plan_id) const;
  // Approves or rejects a pending plan. Throws StoreError when no pending plan
  // has that id, or when `state` is pending.
  void resolve_quarantine(const std::string& plan_id, QuarantineState state, Timestamp now);

  // ---- Audit trail ----------------------------------------------------------

  void append_audit(const AuditEntry& entry);
  // Oldest first; rows with time >= since (all when nullopt).
  std::vector<AuditEntry> audit_since(std::optional<Timestamp> since) const;
  // Revocations done since `since` (for the rolling push window).
  long revocations_since(Timestamp since) const;

  // ---- Stale Palette team memberships (SPEC §9) -------------------------------

  // What one full reconcile found: replaces every stored finding, in one
  // transaction (an empty list clears them).
  void replace_stale_team_memberships(const std::vector<StaleMembership>& stale, Timestamp now);
  // The last full reconcile's findings, ordered by owner email, team; with
  // when they were found (nullopt when none are stored).
  struct StaleTeamMemberships {
    std::vector<StaleMembership> memberships;
    std::optional<Timestamp> found_at;
  };
  StaleTeamMemberships stale_team_memberships() const;

  // ---- Small durable values -------------------------------------------------

  // Connector cursors (an Okta next URL, a Graph deltaLink), last reconcile, ...
  std::optional<std::string> get_value(const std::string& scope, const std::string& name) const;
  void set_value(const std::string& scope, const std::string& name, const std::string& value);

  // Every value of `scope`, by name (a source's stored state).
  std::map<std::string, std::string> values(const std::string& scope) const;
  // True when (source, event_id) has been remembered (and not pruned).
  bool event_seen(const std::string& source, const std::string& event_id) const;

  // Push de-duplication: true the first time (source, event_id) is seen, false
  // after. Entries older than `keep_until` may be pruned by prune_events.
  bool remember_event(const std::string& source, const std::string& event_id, Timestamp now);
  void prune_events(Timestamp older_than);

  // ---- Pushed resources (daemon/store/pushed_resources.cc) ---------------------
  //
  // The resources a client pushed to `source`. Unlike the methods above,
  // each of these joins the caller's transaction when one is open on this
  // connection (the daemon answers a push inside one), and is a transaction
  // of its own otherwise. Connectors reach them through PushedResources.

  std::optional<PushedResourceRow> pushed_resource(const std::string& source, std::string_view type,
                                               const std::string& id) const;
  // Resources of `type` whose `key` equals `value`, oldest first (created, id).
  // Empty when `value` is empty.
  std::vector<PushedResourceRow> pushed_find(const std::string& source, std::string_view type,
                                         PushedResourceKey key, const std::string& value) const;
  // Resources of `type`, oldest first (created, id), skipping `offset`, at
  // most `limit`.
  std::vector<PushedResourceRow> pushed_list(const std::string& source, std::string_view type,
                                         int64_t offset, int64_t limit) const;
  int64_t pushed_count(const std::string& source, std::string_view type) const;
  // Inserts or replaces a resource and its keys: created is kept for an
  // existing resource (`now` for a new one), modified = now, version + 1.
  // Returns the row as stored.
  PushedResourceRow pushed_put(const std::string& source, std::string_view type, const std::string& id,
                           const std::string& json, const PushedResourceKeys& keys, Timestamp now);
  // Deletes the resource, its emails and its member rows (for a group).
  // False when there was none.
  bool pushed_remove(const std::string& source, std::string_view type, const std::string& id);
  // A group's members, ordered by member id.
  std::vector<PushedMemberRow> pushed_members(const std::string& source, const std::string& group_id) const;
  // The group's members among `member_ids`, ordered by member id: lookups by
  // key (up to sql::kLargestBatch per statement), so the cost follows the ids
  // asked for, not the group's size.
  std::vector<PushedMemberRow> pushed_members_among(const std::string& source, const std::string& group_id,
                                                    const std::vector<std::string>& member_ids) const;
  // The ids among `ids` that are resources of `type` of `source` with an
  // identity of that source (a pushed user), each once, ordered by id, with
  // the email the identity joins on. Lookups by key, batched as above.
  std::vector<PushedIdentityEmailRow> pushed_identity_emails(const std::string& source, std::string_view type,
                                                             const std::vector<std::string>& ids) const;
  // The ids of the groups listing `member_id`, ordered.
  std::vector<std::string> pushed_groups_with_member(const std::string& source,
                                                   const std::string& member_id) const;
  // Inserts or replaces one member row.
  void pushed_put_member(const std::string& source, const std::string& group_id, const PushedMemberRow& member) {
    pushed_put_members(source, group_id, {member});
  }
  // Inserts or replaces each of `members` (distinct ids), many rows per
  // statement: a large group change is tens of thousands of them.
  void pushed_put_members(const std::string& source, const std::string& group_id,
                          const std::vector<PushedMemberRow>& members);
  // False when the group did not list the member.
  bool pushed_remove_member(const std::string& source, const std::string& group_id,
                            const std::string& member_id) {
    return pushed_remove_members(source, group_id, {member_id}) > 0;
  }
  // Removes the group's rows for `member_ids`, many per statement; returns
  // how many it listed.
  size_t pushed_remove_members(const std::string& source, const std::string& group_id,
                               const std::vector<std::string>& member_ids);
  // ---- end of pushed resources ----------------------------------------------

 private:
  explicit Store(sqlite3* db);
  // A write transaction (a savepoint when one is open already), rolled back
  // unless committed.
  struct EndTransaction {
    void operator()(sql::Transaction* transaction) const;
  };
  using WriteScope = std::unique_ptr<sql::Transaction, EndTransaction>;
  WriteScope begin_write();
  static void commit_write(WriteScope scope);
  sqlite3* db_;
  std::unique_ptr<sql::StatementCache> statements_;  // prepared statements of db_, reused
  std::shared_ptr<WalCheckpointer> checkpointer_;    // released after db_ is closed
};

}  // namespace keywarden

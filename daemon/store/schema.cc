#include "daemon/store/schema.h"

#include <sqlite3.h>

#include <initializer_list>
#include <iterator>
#include <string>

#include "daemon/store/statement.h"
#include "daemon/store/store.h"

namespace keywarden::schema {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
  void (*code)(sqlite3* db) = nullptr;  // runs after `sql`, in the same transaction
};

// One CHECK constraint's text, rewritten in the stored CREATE TABLE of
// `table`: for a change that leaves every stored row valid, so the table is
// not rebuilt (a rebuild of identities would cascade-delete memberships
// through their foreign key). As SQLite's ALTER TABLE page describes for
// such changes: the schema text is rewritten and the schema cookie bumped.
struct CheckRewrite {
  const char* table;
  const char* from;
  const char* to;
};

void rewrite_checks(sqlite3* db, int migration, std::initializer_list<CheckRewrite> rewrites) {
  const int64_t cookie = [&] {
    sql::Statement read(db, "PRAGMA schema_version");
    if (!read.step()) throw StoreError("store: PRAGMA schema_version returned no row");
    return read.int64(0);
  }();
  sql::exec(db, "PRAGMA writable_schema = ON");
  for (const CheckRewrite& rewrite : rewrites) {
    sql::Statement update(db,
                          "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2) "
                          "WHERE type = 'table' AND name = ?3 AND instr(sql, ?1) > 0");
    update.bind(1, rewrite.from).bind(2, rewrite.to).bind(3, rewrite.table);
    update.run();
    if (update.changes() != 1) {
      sql::exec(db, "PRAGMA writable_schema = OFF");
      throw StoreError("store: migration " + std::to_string(migration) + " did not find the " +
                       rewrite.table + " constraint " + rewrite.from);
    }
  }
  // PRAGMA takes no bound parameters; the value is an integer SQLite gave us.
  sql::exec(db, "PRAGMA schema_version = " + std::to_string(cookie + 1));
  sql::exec(db, "PRAGMA writable_schema = OFF");
}

// Migration 5: identities.status may be 'compromised' (SPEC §8.1).
void allow_compromised_status(sqlite3* db) {
  rewrite_checks(db, 5,
                 {{"identities", "CHECK (status IN ('active', 'inactive', 'deleted'))",
                   "CHECK (status IN ('active', 'inactive', 'deleted', 'compromised'))"}});
}

// Migration 6: the same constraints, without a temporary table. SQLite
// checks a CHECK's IN list of three or more values against an ephemeral
// b-tree that it builds, and frees, on every row written: a page-sized
// allocation per push on identities, and per revoke on journal and audit
// (perf on push intake: about 3% of the store worker in that b-tree's open
// and close). Comparisons accept exactly the same values.
void checks_without_temporary_tables(sqlite3* db) {
  rewrite_checks(
      db, 6,
      {{"identities", "CHECK (status IN ('active', 'inactive', 'deleted', 'compromised'))",
        "CHECK (status = 'active' OR status = 'inactive' OR status = 'deleted' OR status = 'compromised')"},
       {"journal", "CHECK (action IN ('revoke', 'reactivate', 'delete'))",
        "CHECK (action = 'revoke' OR action = 'reactivate' OR action = 'delete')"},
       {"journal", "CHECK (state IN ('pending', 'done', 'failed'))",
        "CHECK (state = 'pending' OR state = 'done' OR state = 'failed')"},
       {"quarantine", "CHECK (state IN ('pending', 'approved', 'rejected'))",
        "CHECK (state = 'pending' OR state = 'approved' OR state = 'rejected')"},
       {"quarantine_actions", "CHECK (action IN ('revoke', 'reactivate', 'delete'))",
        "CHECK (action = 'revoke' OR action = 'reactivate' OR action = 'delete')"},
       {"audit", "CHECK (result IN ('done', 'failed', 'skipped', 'quarantined'))",
        "CHECK (result = 'done' OR result = 'failed' OR result = 'skipped' OR result = 'quarantined')"}});
}

// Conventions: times are INTEGER Unix seconds (UTC); enums are TEXT in the
// engine's to_string spelling; tables are STRICT so a wrongly typed value is
// an error at the INSERT, not a surprise at the next read.
constexpr Migration kMigrations[] = {
    {1, "initial schema", R"sql(
CREATE TABLE schema_migrations (
  version     INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at  INTEGER NOT NULL
) STRICT;

-- One person as one source knows them, with the history the engine needs.
CREATE TABLE identities (
  source        TEXT NOT NULL,
  subject_id    TEXT NOT NULL,
  user_name     TEXT NOT NULL,
  email         TEXT NOT NULL,  -- normalized: trimmed, ASCII lower-case
  status        TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'deleted')),
  status_detail TEXT NOT NULL,
  status_since  INTEGER NOT NULL,  -- when keywarden first saw the current status
  first_seen    INTEGER NOT NULL,
  last_seen     INTEGER NOT NULL,
  PRIMARY KEY (source, subject_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX identities_by_email ON identities (email);

-- Current (removed_at IS NULL) and past group memberships. The primary key
-- orders rows like identities, so load_identities merges two ordered scans.
CREATE TABLE memberships (
  source     TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  removed_at INTEGER,
  PRIMARY KEY (source, subject_id, group_name),
  FOREIGN KEY (source, subject_id) REFERENCES identities (source, subject_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE source_health (
  source         TEXT PRIMARY KEY,
  healthy        INTEGER NOT NULL CHECK (healthy IN (0, 1)),
  last_success   INTEGER,
  last_failure   INTEGER,
  last_error     TEXT NOT NULL DEFAULT '',
  entitled_count INTEGER NOT NULL DEFAULT -1
) STRICT, WITHOUT ROWID;

-- Keys keywarden revoked itself: the only ones it may reactivate or delete.
CREATE TABLE revoked_keys (
  key_uid    TEXT PRIMARY KEY,
  owner_uid  TEXT NOT NULL,
  revoked_at INTEGER NOT NULL,
  reason     TEXT NOT NULL,
  plan_id    TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Palette mutations, written as intents before they are sent.
-- AUTOINCREMENT: an id is never reused, even after old rows are pruned.
CREATE TABLE journal (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  plan_id     TEXT NOT NULL,
  action      TEXT NOT NULL CHECK (action IN ('revoke', 'reactivate', 'delete')),
  key_uid     TEXT NOT NULL,
  key_name    TEXT NOT NULL,
  owner_uid   TEXT NOT NULL,
  owner_email TEXT NOT NULL,
  reason      TEXT NOT NULL,
  source      TEXT NOT NULL,
  detail      TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  http_status INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX journal_by_state ON journal (state, id);

CREATE TABLE quarantine (
  plan_id     TEXT PRIMARY KEY,
  created_at  INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
  resolved_at INTEGER
) STRICT;
CREATE INDEX quarantine_by_state ON quarantine (state, created_at);

CREATE TABLE quarantine_actions (
  plan_id     TEXT NOT NULL REFERENCES quarantine (plan_id) ON DELETE CASCADE,
  position    INTEGER NOT NULL,  -- the action's place in the plan
  action      TEXT NOT NULL CHECK (action IN ('revoke', 'reactivate', 'delete')),
  key_uid     TEXT NOT NULL,
  key_name    TEXT NOT NULL,
  owner_uid   TEXT NOT NULL,
  owner_email TEXT NOT NULL,
  reason      TEXT NOT NULL,
  source      TEXT NOT NULL,
  detail      TEXT NOT NULL,
  PRIMARY KEY (plan_id, position)
) STRICT, WITHOUT ROWID;

-- The audit trail (SPEC §2 `audit --json`), append-only.
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  time        INTEGER NOT NULL,
  plan_id     TEXT NOT NULL,
  action      TEXT NOT NULL,
  key_uid     TEXT NOT NULL,
  key_name    TEXT NOT NULL,
  owner_uid   TEXT NOT NULL,
  owner_email TEXT NOT NULL,
  reason      TEXT NOT NULL,
  source      TEXT NOT NULL,
  result      TEXT NOT NULL CHECK (result IN ('done', 'failed', 'skipped', 'quarantined')),
  http_status INTEGER NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  detail      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_by_time ON audit (time, id);
-- revocations_since, on every push: only the rows it counts.
CREATE INDEX audit_revocations_by_time ON audit (time)
  WHERE action = 'revoke' AND result = 'done';

-- Small durable values: connector cursors, last reconcile, ...
CREATE TABLE kv (
  scope TEXT NOT NULL,
  name  TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (scope, name)
) STRICT, WITHOUT ROWID;

-- Push de-duplication.
CREATE TABLE events (
  source   TEXT NOT NULL,
  event_id TEXT NOT NULL,
  seen_at  INTEGER NOT NULL,
  PRIMARY KEY (source, event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX events_by_seen_at ON events (seen_at);
)sql"},
    {2, "SCIM service provider resources", R"sql(
-- What SCIM clients pushed to a `scim` source, so that keywarden can answer
-- their GETs, filters and PATCHes (connectors/scim). `json` is the resource
-- as the connector serializes it (without meta, and for a group without its
-- members); the *_lower and external_id columns are the lookup keys the
-- connector computes (case already folded where SCIM compares without it).
CREATE TABLE scim_resources (
  source             TEXT NOT NULL,
  type               TEXT NOT NULL CHECK (type IN ('User', 'Group')),
  id                 TEXT NOT NULL,
  user_name_lower    TEXT NOT NULL DEFAULT '',
  external_id        TEXT NOT NULL DEFAULT '',
  display_name_lower TEXT NOT NULL DEFAULT '',
  json               TEXT NOT NULL,
  version            INTEGER NOT NULL,
  created            INTEGER NOT NULL,
  modified           INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX scim_resources_by_id ON scim_resources (source, type, id);
-- Paging in a stable order (Okta pages /Groups and needs it stable).
CREATE INDEX scim_resources_by_age ON scim_resources (source, type, created, id);
CREATE INDEX scim_resources_by_user_name ON scim_resources (source, type, user_name_lower)
  WHERE user_name_lower <> '';
CREATE INDEX scim_resources_by_external_id ON scim_resources (source, type, external_id)
  WHERE external_id <> '';
CREATE INDEX scim_resources_by_display_name ON scim_resources (source, type, display_name_lower)
  WHERE display_name_lower <> '';

-- A user's emails (normalized), for Entra's emails[type eq "work"].value eq … matching.
CREATE TABLE scim_emails (
  source TEXT NOT NULL,
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  email  TEXT NOT NULL,
  PRIMARY KEY (source, type, id, email)
) STRICT, WITHOUT ROWID;
CREATE INDEX scim_emails_by_email ON scim_emails (source, type, email);

-- Group members, one row each, so a change to a large group writes only what
-- changed. `json` is the member object ({"value","display","type"}).
CREATE TABLE scim_members (
  source    TEXT NOT NULL,
  group_id  TEXT NOT NULL,
  member_id TEXT NOT NULL,
  json      TEXT NOT NULL,
  PRIMARY KEY (source, group_id, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX scim_members_by_member ON scim_members (source, member_id, group_id);
)sql"},
    {3, "pushed resources: the tables of any push source that keeps resources", R"sql(
-- Migration 2 named these after the first source type that kept resources;
-- the store serves any push source's resources and names none.
ALTER TABLE scim_resources RENAME TO pushed_resources;
ALTER TABLE scim_emails RENAME TO pushed_emails;
ALTER TABLE scim_members RENAME TO pushed_members;
DROP INDEX scim_resources_by_id;
DROP INDEX scim_resources_by_age;
DROP INDEX scim_resources_by_user_name;
DROP INDEX scim_resources_by_external_id;
DROP INDEX scim_resources_by_display_name;
DROP INDEX scim_emails_by_email;
DROP INDEX scim_members_by_member;
CREATE UNIQUE INDEX pushed_resources_by_id ON pushed_resources (source, type, id);
CREATE INDEX pushed_resources_by_age ON pushed_resources (source, type, created, id);
CREATE INDEX pushed_resources_by_user_name ON pushed_resources (source, type, user_name_lower)
  WHERE user_name_lower <> '';
CREATE INDEX pushed_resources_by_external_id ON pushed_resources (source, type, external_id)
  WHERE external_id <> '';
CREATE INDEX pushed_resources_by_display_name ON pushed_resources (source, type, display_name_lower)
  WHERE display_name_lower <> '';
CREATE INDEX pushed_emails_by_email ON pushed_emails (source, type, email);
CREATE INDEX pushed_members_by_member ON pushed_members (source, member_id, group_id);
)sql"},
    {4, "stale Palette team memberships", R"sql(
-- SPEC §9: the stale team memberships the last full reconcile found, for
-- `status`. Each full reconcile replaces them all. (When a member left a
-- group is memberships.removed_at, kept after the removal.)
CREATE TABLE stale_team_memberships (
  owner_uid   TEXT NOT NULL,
  owner_email TEXT NOT NULL,
  team        TEXT NOT NULL,
  source      TEXT NOT NULL,
  group_name  TEXT NOT NULL,
  left_at     INTEGER NOT NULL,
  found_at    INTEGER NOT NULL,
  PRIMARY KEY (owner_uid, team, source, group_name)
) STRICT, WITHOUT ROWID;
)sql"},
    {5, "identity status compromised", "", allow_compromised_status},
    {6, "CHECK constraints without temporary tables", "", checks_without_temporary_tables},
};

constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;

// The migrations must be numbered 1, 2, 3, … with no gap.
constexpr bool migrations_are_consecutive() {
  for (size_t i = 0; i < std::size(kMigrations); ++i) {
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(migrations_are_consecutive());

int recorded_version(sqlite3* db) {
  sql::Statement max(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!max.step()) return 0;
  return static_cast<int>(max.int64(0));
}

}  // namespace

int latest_version() { return kLatestVersion; }

int current_version(sqlite3* db) {
  sql::Statement version(db, "PRAGMA user_version");
  if (!version.step()) throw StoreError("store: PRAGMA user_version returned no row");
  return static_cast<int>(version.int64(0));
}

void migrate(sqlite3* db) {
  // IMMEDIATE: two processes (the daemon and a CLI command) opening a new
  // database at once must not both run migration 1.
  sql::Transaction txn(db, sql::Transaction::Mode::write);
  const int current = current_version(db);
  if (current > kLatestVersion) {
    throw StoreError("store: the database has schema version " + std::to_string(current) +
                     ", newer than the " + std::to_string(kLatestVersion) +
                     " this keywarden supports; run a newer keywarden (downgrades are not "
                     "supported)");
  }
  if (current < 0) {
    throw StoreError("store: the database has an invalid schema version " +
                     std::to_string(current));
  }
  if (current > 0 && recorded_version(db) != current) {
    throw StoreError("store: the database's schema version " + std::to_string(current) +
                     " disagrees with its schema_migrations table (" +
                     std::to_string(recorded_version(db)) + "); refusing to guess");
  }
  if (current == kLatestVersion) return;  // nothing written: the destructor's ROLLBACK just ends it

  for (const Migration& migration : kMigrations) {
    if (migration.version <= current) continue;
    sql::exec(
        db, migration.sql,
        "migration " + std::to_string(migration.version) + " (" + migration.description + ")");
    if (migration.code != nullptr) migration.code(db);
    sql::Statement record(
        db, "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)");
    record.bind(1, migration.version).bind(2, migration.description).bind(3, now_utc());
    record.run();
    // PRAGMA takes no bound parameters; the value is our own compile-time integer.
    sql::exec(db, "PRAGMA user_version = " + std::to_string(migration.version));
  }
  txn.commit();
}

}  // namespace keywarden::schema

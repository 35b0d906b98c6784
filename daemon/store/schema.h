// The store's schema and its migrations.
//
// PRAGMA user_version holds the schema version; schema_migrations records
// when each migration ran. Migration N moves a database from version N-1 to N.
// Migrations are append-only: once released, a migration is never edited; a
// change to the schema is a new migration.
#pragma once

struct sqlite3;

namespace keywarden::schema {

// The version this build's migrations lead to.
int latest_version();

// The database's current version (PRAGMA user_version; 0 for a new file).
int current_version(sqlite3* db);

// Brings the database to latest_version(): runs, in one IMMEDIATE transaction,
// every migration newer than the database, in order, recording each. Runs
// nothing when the database is current. Throws StoreError when the database
// is newer than this build, or when its version and its migration record
// disagree; the database is then left untouched.
void migrate(sqlite3* db);

}  // namespace keywarden::schema

// Store methods for the rows push sources keep (store.h, "Pushed resources"):
// pushed_resources, pushed_emails and pushed_members (migrations 2 and 3).
#include <sqlite3.h>

#include <algorithm>
#include <optional>

#include "daemon/store/row_batches.h"
#include "daemon/store/statement.h"
#include "daemon/store/store.h"

namespace keywarden {
namespace {

using sql::Statement;
using sql::Transaction;

// A write transaction of its own, unless the caller already has one open on
// this connection: the daemon runs a whole push in one transaction,
// and SQLite transactions do not nest.
class JoinedWrite {
 public:
  explicit JoinedWrite(sql::StatementCache& statements) {
    if (sqlite3_get_autocommit(statements.db()) != 0) own_.emplace(statements, Transaction::Mode::write);
  }
  void commit() {
    if (own_) own_->commit();
  }

 private:
  std::optional<Transaction> own_;
};

constexpr std::string_view kResourceColumns = "type, id, json, version, created, modified";

PushedResourceRow read_resource(const Statement& row) {
  PushedResourceRow resource;
  resource.type = row.text(0);
  resource.id = row.text(1);
  resource.json = row.text(2);
  resource.version = row.int64(3);
  resource.created = row.time(4);
  resource.modified = row.time(5);
  return resource;
}

std::string_view key_column(PushedResourceKey key) {
  switch (key) {
    case PushedResourceKey::user_name_lower: return "user_name_lower";
    case PushedResourceKey::external_id: return "external_id";
    case PushedResourceKey::display_name_lower: return "display_name_lower";
    case PushedResourceKey::email: break;
  }
  return "";
}

// The partial index for a lookup column (schema.cc, migration 2).
std::string_view key_index(PushedResourceKey key) {
  switch (key) {
    case PushedResourceKey::user_name_lower: return "pushed_resources_by_user_name";
    case PushedResourceKey::external_id: return "pushed_resources_by_external_id";
    case PushedResourceKey::display_name_lower: return "pushed_resources_by_display_name";
    case PushedResourceKey::email: break;
  }
  return "";
}

}  // namespace

std::optional<PushedResourceRow> Store::pushed_resource(const std::string& source, std::string_view type,
                                                    const std::string& id) const {
  Statement query(*statements_, "SELECT " + std::string(kResourceColumns) +
                           " FROM pushed_resources WHERE source = ?1 AND type = ?2 AND id = ?3");
  query.bind(1, source).bind(2, type).bind(3, id);
  if (!query.step()) return std::nullopt;
  return read_resource(query);
}

std::vector<PushedResourceRow> Store::pushed_find(const std::string& source, std::string_view type,
                                              PushedResourceKey key, const std::string& value) const {
  std::vector<PushedResourceRow> rows;
  if (value.empty()) return rows;
  std::string sql;
  if (key == PushedResourceKey::email) {
    sql = "SELECT r.type, r.id, r.json, r.version, r.created, r.modified "
          "FROM pushed_emails e JOIN pushed_resources r "
          "ON r.source = e.source AND r.type = e.type AND r.id = e.id "
          "WHERE e.source = ?1 AND e.type = ?2 AND e.email = ?3";
  } else {
    // The column name comes from the enum above, never from input.
    // Name the lookup's index (SQLite without statistics may prefer another),
    // and repeat its partial condition, which a bound value cannot prove.
    const std::string column(key_column(key));
    sql = "SELECT " + std::string(kResourceColumns) + " FROM pushed_resources INDEXED BY " +
          std::string(key_index(key)) + " WHERE source = ?1 AND type = ?2 AND " + column + " = ?3 AND " + column +
          " <> ''";
  }
  Statement query(*statements_, sql);
  query.bind(1, source).bind(2, type).bind(3, value);
  while (query.step()) rows.push_back(read_resource(query));
  // Oldest first, sorted here: a match is one row or none nearly always, and
  // an ORDER BY would have SQLite set up its sorter on every lookup.
  std::sort(rows.begin(), rows.end(), [](const PushedResourceRow& a, const PushedResourceRow& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  return rows;
}

std::vector<PushedResourceRow> Store::pushed_list(const std::string& source, std::string_view type,
                                              int64_t offset, int64_t limit) const {
  std::vector<PushedResourceRow> rows;
  if (limit <= 0) return rows;
  Statement query(*statements_, "SELECT " + std::string(kResourceColumns) +
                           " FROM pushed_resources WHERE source = ?1 AND type = ?2 "
                           "ORDER BY created, id LIMIT ?3 OFFSET ?4");
  query.bind(1, source).bind(2, type).bind(3, limit).bind(4, offset < 0 ? int64_t{0} : offset);
  while (query.step()) rows.push_back(read_resource(query));
  return rows;
}

int64_t Store::pushed_count(const std::string& source, std::string_view type) const {
  Statement query(*statements_, "SELECT count(*) FROM pushed_resources WHERE source = ?1 AND type = ?2");
  query.bind(1, source).bind(2, type);
  return query.step() ? query.int64(0) : 0;
}

PushedResourceRow Store::pushed_put(const std::string& source, std::string_view type,
                                const std::string& id, const std::string& json,
                                const PushedResourceKeys& keys, Timestamp now) {
  JoinedWrite txn(*statements_);
  // Read, then an INSERT or an UPDATE: an upsert with RETURNING would give
  // the row too, but SQLite buffers RETURNING rows in a temporary b-tree it
  // builds and frees on every call.
  PushedResourceRow row;
  row.type = std::string(type);
  row.id = id;
  row.json = json;
  row.version = 1;
  row.created = now;
  row.modified = now;
  Statement current(*statements_,
                    "SELECT version, created FROM pushed_resources WHERE source = ?1 AND type = ?2 AND id = ?3");
  current.bind(1, source).bind(2, type).bind(3, id);
  const bool exists = current.step();
  if (exists) {
    row.version = current.int64(0) + 1;
    row.created = current.time(1);
  }
  current.reset();
  Statement write(*statements_,
                  exists ? "UPDATE pushed_resources SET user_name_lower = ?4, external_id = ?5, "
                           "display_name_lower = ?6, json = ?7, version = ?8, modified = ?9 "
                           "WHERE source = ?1 AND type = ?2 AND id = ?3"
                         : "INSERT INTO pushed_resources (source, type, id, user_name_lower, external_id, "
                           "display_name_lower, json, version, created, modified) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)");
  write.bind(1, source)
      .bind(2, type)
      .bind(3, id)
      .bind(4, keys.user_name_lower)
      .bind(5, keys.external_id)
      .bind(6, keys.display_name_lower)
      .bind(7, json)
      .bind(8, row.version)
      .bind(9, now);
  write.run();
  if (write.changes() != 1) throw StoreError("store: pushed_put wrote " + std::to_string(write.changes()) + " rows");

  Statement clear(*statements_, "DELETE FROM pushed_emails WHERE source = ?1 AND type = ?2 AND id = ?3");
  clear.bind(1, source).bind(2, type).bind(3, id);
  clear.run();
  Statement insert(*statements_,
                   "INSERT INTO pushed_emails (source, type, id, email) VALUES (?1, ?2, ?3, ?4) "
                   "ON CONFLICT DO NOTHING");
  for (const std::string& email : keys.emails) {
    if (email.empty()) continue;
    insert.reset();
    insert.bind(1, source).bind(2, type).bind(3, id).bind(4, email);
    insert.run();
  }
  txn.commit();
  return row;
}

bool Store::pushed_remove(const std::string& source, std::string_view type, const std::string& id) {
  JoinedWrite txn(*statements_);
  Statement remove(*statements_, "DELETE FROM pushed_resources WHERE source = ?1 AND type = ?2 AND id = ?3");
  remove.bind(1, source).bind(2, type).bind(3, id);
  remove.run();
  const bool existed = remove.changes() > 0;
  Statement emails(*statements_, "DELETE FROM pushed_emails WHERE source = ?1 AND type = ?2 AND id = ?3");
  emails.bind(1, source).bind(2, type).bind(3, id);
  emails.run();
  if (type == "Group") {
    Statement members(*statements_, "DELETE FROM pushed_members WHERE source = ?1 AND group_id = ?2");
    members.bind(1, source).bind(2, id);
    members.run();
  }
  txn.commit();
  return existed;
}

std::vector<PushedMemberRow> Store::pushed_members(const std::string& source,
                                               const std::string& group_id) const {
  std::vector<PushedMemberRow> rows;
  Statement query(*statements_,
                  "SELECT member_id, json FROM pushed_members WHERE source = ?1 AND group_id = ?2 "
                  "ORDER BY member_id");
  query.bind(1, source).bind(2, group_id);
  while (query.step()) rows.push_back({query.text(0), query.text(1)});
  return rows;
}

namespace {

// `ids` sorted, each once.
std::vector<std::string> sorted_unique(const std::vector<std::string>& ids) {
  std::vector<std::string> sorted(ids);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return sorted;
}

// Binds values[at, at + count) to the parameters numbered from `first`;
// `values` outlives the statement's run.
void bind_run(Statement& statement, int first, const std::vector<std::string>& values, size_t at, size_t count) {
  for (size_t i = 0; i < count; ++i) statement.bind_borrowed(first + static_cast<int>(i), values[at + i]);
}

}  // namespace

std::vector<PushedMemberRow> Store::pushed_members_among(const std::string& source, const std::string& group_id,
                                                     const std::vector<std::string>& member_ids) const {
  const std::vector<std::string> sorted = sorted_unique(member_ids);
  std::vector<PushedMemberRow> rows;
  // Batches in id order, each ordered by id: the whole answer is ordered.
  sql::for_each_batch(sorted.size(), [&](size_t at, size_t count) {
    Statement query(*statements_,
                    "SELECT member_id, json FROM pushed_members WHERE source = ?1 AND group_id = ?2 "
                    "AND member_id IN (" + sql::repeat_rows("#0", count, 3) + ") ORDER BY member_id");
    query.bind(1, source).bind(2, group_id);
    bind_run(query, 3, sorted, at, count);
    while (query.step()) rows.push_back({query.text(0), query.text(1)});
  });
  return rows;
}

std::vector<PushedIdentityEmailRow> Store::pushed_identity_emails(const std::string& source, std::string_view type,
                                                                 const std::vector<std::string>& ids) const {
  const std::vector<std::string> sorted = sorted_unique(ids);
  std::vector<PushedIdentityEmailRow> users;
  sql::for_each_batch(sorted.size(), [&](size_t at, size_t count) {
    Statement query(*statements_,
                    "SELECT r.id, i.email FROM pushed_resources AS r JOIN identities AS i "
                    "ON i.source = r.source AND i.subject_id = r.id "
                    "WHERE r.source = ?1 AND r.type = ?2 AND r.id IN (" + sql::repeat_rows("#0", count, 3) +
                        ") ORDER BY r.id");
    query.bind(1, source).bind(2, type);
    bind_run(query, 3, sorted, at, count);
    while (query.step()) users.push_back({query.text(0), query.text(1)});
  });
  return users;
}

std::vector<std::string> Store::pushed_groups_with_member(const std::string& source,
                                                        const std::string& member_id) const {
  std::vector<std::string> ids;
  Statement query(*statements_,
                  "SELECT group_id FROM pushed_members WHERE source = ?1 AND member_id = ?2 "
                  "ORDER BY group_id");
  query.bind(1, source).bind(2, member_id);
  while (query.step()) ids.push_back(query.text(0));
  return ids;
}

void Store::pushed_put_members(const std::string& source, const std::string& group_id,
                               const std::vector<PushedMemberRow>& members) {
  sql::for_each_batch(members.size(), [&](size_t at, size_t count) {
    Statement upsert(*statements_,
                     "INSERT INTO pushed_members (source, group_id, member_id, json) VALUES " +
                         sql::repeat_rows("(?1, ?2, #0, #1)", count, 3) +
                         " ON CONFLICT (source, group_id, member_id) DO UPDATE SET json = excluded.json");
    upsert.bind(1, source).bind(2, group_id);
    for (size_t i = 0; i < count; ++i) {
      const PushedMemberRow& member = members[at + i];
      upsert.bind_borrowed(3 + 2 * static_cast<int>(i), member.member_id)
          .bind_borrowed(4 + 2 * static_cast<int>(i), member.json);
    }
    upsert.run();
  });
}

size_t Store::pushed_remove_members(const std::string& source, const std::string& group_id,
                                    const std::vector<std::string>& member_ids) {
  const std::vector<std::string> sorted = sorted_unique(member_ids);
  size_t removed = 0;
  sql::for_each_batch(sorted.size(), [&](size_t at, size_t count) {
    Statement remove(*statements_,
                     "DELETE FROM pushed_members WHERE source = ?1 AND group_id = ?2 AND member_id IN (" +
                         sql::repeat_rows("#0", count, 3) + ")");
    remove.bind(1, source).bind(2, group_id);
    bind_run(remove, 3, sorted, at, count);
    remove.run();
    removed += static_cast<size_t>(remove.changes());
  });
  return removed;
}

}  // namespace keywarden

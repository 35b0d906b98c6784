#include "daemon/store/identity_writer.h"

#include <algorithm>

#include "daemon/store/row_batches.h"
#include "daemon/store/store.h"

namespace keywarden::identity_rows {
namespace {

constexpr std::string_view kNoLongerListed = "no longer listed by the source";

// The listed groups, sorted, each once.
void sorted_groups(const std::vector<std::string>& groups, std::vector<std::string_view>& out) {
  out.assign(groups.begin(), groups.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

// The merges in write_full_read rely on SQLite's BINARY collation ordering
// text as std::string_view does (bytewise, then by length). Were that ever
// false, a merge would take a listed identity for an absent one and delete
// it; this guard turns that into an error instead.
class AscendingKeys {
 public:
  explicit AscendingKeys(std::string_view table) : table_(table) {}

  void next(std::string_view subject_id, std::string_view group = {}) {
    if (seen_ && (subject_id < subject_ || (subject_id == subject_ && group <= group_))) {
      throw StoreError("store: " + std::string(table_) +
                       " rows are not in the order the full-read merge needs (at " +
                       std::string(subject_id) + ")");
    }
    seen_ = true;
    subject_.assign(subject_id);
    group_.assign(group);
  }

 private:
  std::string_view table_;
  bool seen_ = false;
  std::string subject_;
  std::string group_;
};

// One entry per subject, in subject order. For a subject listed twice the
// last entry wins, as it would had each been applied in turn.
std::vector<const Identity*> listing_by_subject(const std::vector<Identity>& identities) {
  std::vector<const Identity*> listed;
  listed.reserve(identities.size());
  for (const Identity& identity : identities) listed.push_back(&identity);
  std::stable_sort(listed.begin(), listed.end(), [](const Identity* a, const Identity* b) {
    return std::string_view(a->subject_id) < std::string_view(b->subject_id);
  });
  size_t kept = 0;
  for (size_t i = 0; i < listed.size(); ++i) {
    if (i + 1 < listed.size() && listed[i + 1]->subject_id == listed[i]->subject_id) continue;
    listed[kept++] = listed[i];
  }
  listed.resize(kept);
  return listed;
}

bool same_facts(const sql::Statement& row, const Identity& identity, std::string_view email) {
  return row.text_view(1) == identity.user_name && row.text_view(2) == email &&
         row.text_view(3) == to_string(identity.status) &&
         row.text_view(4) == identity.status_detail;
}

}  // namespace

IdentityWriter::IdentityWriter(sql::StatementCache& statements)
    : upsert_(statements,
              // SET expressions all see the old row, so their order does not matter.
              "INSERT INTO identities (source, subject_id, user_name, email, status, "
              "status_detail, status_since, first_seen, last_seen) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7) "
              "ON CONFLICT (source, subject_id) DO UPDATE SET "
              "user_name = excluded.user_name, email = excluded.email, "
              "status_since = CASE WHEN status = excluded.status THEN status_since "
              "ELSE excluded.status_since END, "
              "status = excluded.status, status_detail = excluded.status_detail, "
              "last_seen = excluded.last_seen"),
      current_groups_(statements,
                      "SELECT group_name FROM memberships "
                      "WHERE source = ?1 AND subject_id = ?2 AND removed_at IS NULL"),
      join_(statements,
            "INSERT INTO memberships (source, subject_id, group_name, first_seen, removed_at) "
            "VALUES (?1, ?2, ?3, ?4, NULL) "
            "ON CONFLICT (source, subject_id, group_name) DO UPDATE SET "
            "first_seen = excluded.first_seen, removed_at = NULL "
            "WHERE removed_at IS NOT NULL"),
      leave_(statements,
             "UPDATE memberships SET removed_at = ?4 "
             "WHERE source = ?1 AND subject_id = ?2 AND group_name = ?3 AND removed_at IS NULL"),
      leave_all_(statements,
                 "UPDATE memberships SET removed_at = ?3 "
                 "WHERE source = ?1 AND subject_id = ?2 AND removed_at IS NULL"),
      mark_deleted_(statements,
                    "UPDATE identities SET status = 'deleted', status_detail = ?3, "
                    "status_since = ?4 WHERE source = ?1 AND subject_id = ?2"),
      statements_(statements) {}

void IdentityWriter::upsert(std::string_view source, const Identity& identity, Timestamp now) {
  upsert_.reset();
  upsert_.bind(1, source)
      .bind(2, identity.subject_id)
      .bind(3, identity.user_name)
      .bind(4, normalize_email(identity.email))
      .bind(5, to_string(identity.status))
      .bind(6, identity.status_detail)
      .bind(7, now);
  upsert_.run();
}

void IdentityWriter::set_groups(std::string_view source, std::string_view subject_id,
                                const std::vector<std::string>& groups, Timestamp now) {
  current_.clear();
  current_groups_.reset();
  current_groups_.bind(1, source).bind(2, subject_id);
  while (current_groups_.step()) current_.push_back(current_groups_.text(0));
  std::sort(current_.begin(), current_.end());
  sorted_groups(groups, listed_);

  for (std::string_view group : listed_) {
    if (!std::binary_search(current_.begin(), current_.end(), group)) {
      join(source, subject_id, group, now);
    }
  }
  for (const std::string& group : current_) {
    if (!std::binary_search(listed_.begin(), listed_.end(), std::string_view(group))) {
      leave(source, subject_id, group, now);
    }
  }
}

void IdentityWriter::join(std::string_view source, std::string_view subject_id,
                          std::string_view group, Timestamp now) {
  join_.reset();
  join_.bind(1, source).bind(2, subject_id).bind(3, group).bind(4, now);
  join_.run();
}

void IdentityWriter::leave(std::string_view source, std::string_view subject_id,
                           std::string_view group, Timestamp now) {
  leave_.reset();
  leave_.bind(1, source).bind(2, subject_id).bind(3, group).bind(4, now);
  leave_.run();
}

namespace {

// Runs sql_for(count) once per batch of `subject_ids`, with ?1 the source,
// ?2 the group, ?3 `now` and the batch's subjects from ?4 on.
template <typename SqlFor>
void run_membership_batches(sql::StatementCache& statements, std::string_view source,
                            const std::vector<std::string_view>& subject_ids, std::string_view group,
                            Timestamp now, SqlFor sql_for) {
  sql::for_each_batch(subject_ids.size(), [&](size_t at, size_t count) {
    sql::Statement statement(statements, sql_for(count));
    statement.bind(1, source).bind(2, group).bind(3, now);
    for (size_t i = 0; i < count; ++i) statement.bind_borrowed(4 + static_cast<int>(i), subject_ids[at + i]);
    statement.run();
  });
}

}  // namespace

void IdentityWriter::join_all(std::string_view source, const std::vector<std::string_view>& subject_ids,
                              std::string_view group, Timestamp now) {
  // join_'s statement with many rows: rows are written in order, so a
  // subject listed twice is a no-op the second time, as with join().
  run_membership_batches(statements_, source, subject_ids, group, now, [](size_t count) {
    return "INSERT INTO memberships (source, subject_id, group_name, first_seen, removed_at) VALUES " +
           sql::repeat_rows("(?1, #0, ?2, ?3, NULL)", count, 4) +
           " ON CONFLICT (source, subject_id, group_name) DO UPDATE SET "
           "first_seen = excluded.first_seen, removed_at = NULL WHERE removed_at IS NOT NULL";
  });
}

void IdentityWriter::leave_all(std::string_view source, const std::vector<std::string_view>& subject_ids,
                               std::string_view group, Timestamp now) {
  run_membership_batches(statements_, source, subject_ids, group, now, [](size_t count) {
    return "UPDATE memberships SET removed_at = ?3 "
           "WHERE source = ?1 AND group_name = ?2 AND removed_at IS NULL AND subject_id IN (" +
           sql::repeat_rows("#0", count, 4) + ")";
  });
}

void IdentityWriter::mark_no_longer_listed(std::string_view source, std::string_view subject_id,
                                           Timestamp now) {
  mark_deleted_.reset();
  mark_deleted_.bind(1, source).bind(2, subject_id).bind(3, kNoLongerListed).bind(4, now);
  mark_deleted_.run();
  leave_all_.reset();
  leave_all_.bind(1, source).bind(2, subject_id).bind(3, now);
  leave_all_.run();
}

FullReadChanges compare_full_read(sql::StatementCache& statements, const std::string& source,
                                  const std::vector<Identity>& identities) {
  const std::vector<const Identity*> listed = listing_by_subject(identities);
  FullReadChanges changes;

  // 1. The source's identities against the listing.
  {
    sql::Statement rows(statements,
                        "SELECT subject_id, user_name, email, status, status_detail "
                        "FROM identities WHERE source = ?1 ORDER BY subject_id");
    rows.bind(1, source);
    AscendingKeys order("identities");
    size_t i = 0;
    while (rows.step()) {
      const std::string_view subject_id = rows.text_view(0);
      order.next(subject_id);
      while (i < listed.size() && std::string_view(listed[i]->subject_id) < subject_id) {
        changes.upserts.push_back(listed[i++]);  // not in the store yet
      }
      if (i < listed.size() && listed[i]->subject_id == subject_id) {
        const Identity& identity = *listed[i++];
        if (!same_facts(rows, identity, normalize_email(identity.email))) {
          changes.upserts.push_back(&identity);
        } else if (identity.status == IdentityStatus::deleted) {
          changes.deleted_listed.push_back(&identity);
        }
      } else if (rows.text_view(3) != to_string(IdentityStatus::deleted)) {
        changes.absent.emplace_back(subject_id);
      }
    }
    while (i < listed.size()) changes.upserts.push_back(listed[i++]);
  }

  // 2. The source's memberships, current and past, against the listed groups.
  {
    sql::Statement rows(statements,
                        "SELECT subject_id, group_name, removed_at IS NULL FROM memberships "
                        "WHERE source = ?1 ORDER BY subject_id, group_name");
    rows.bind(1, source);
    AscendingKeys order("memberships");
    size_t i = 0;                          // the listed identity being merged
    std::vector<std::string_view> groups;  // its groups, sorted
    size_t g = 0;                          // its first group not yet matched to a row
    bool loaded = false;
    const auto load = [&] {
      if (loaded) return;
      sorted_groups(listed[i]->groups, groups);
      g = 0;
      loaded = true;
    };
    // Every row of listed[i] has been seen: its unmatched groups are new.
    const auto finish = [&] {
      load();
      for (; g < groups.size(); ++g) {
        changes.joins.push_back({listed[i]->subject_id, groups[g]});
      }
      ++i;
      loaded = false;
    };
    while (rows.step()) {
      const std::string_view subject_id = rows.text_view(0);
      const std::string_view group = rows.text_view(1);
      const bool current = rows.int64(2) != 0;
      order.next(subject_id, group);
      while (i < listed.size() && std::string_view(listed[i]->subject_id) < subject_id) finish();
      if (i == listed.size() || listed[i]->subject_id != subject_id) {
        continue;  // not listed: step 1 found it absent, or it already was deleted
      }
      load();
      while (g < groups.size() && groups[g] < group) {
        changes.joins.push_back({listed[i]->subject_id, groups[g++]});
      }
      if (g < groups.size() && groups[g] == group) {
        if (!current) changes.joins.push_back({listed[i]->subject_id, groups[g]});  // the listing's, not the row's
        ++g;
      } else if (current) {
        changes.leaves.push_back({listed[i]->subject_id, std::string(group)});
      }
    }
    while (i < listed.size()) finish();
  }
  return changes;
}

size_t FullReadChanges::writes() const {
  // The last one is the statement that sets last_seen of the unchanged.
  return upserts.size() + joins.size() + leaves.size() + absent.size() + 1 + deleted_listed.size();
}

size_t write_full_read(sql::StatementCache& statements, const std::string& source,
                       const FullReadChanges& changes, Timestamp now, size_t first, size_t count) {
  // One flat sequence of writes, in an order where any prefix is consistent:
  // identities first (a new membership needs its identity), then
  // memberships, then the absent, then last_seen. `section` makes the writes
  // of one list that fall in [first, end).
  IdentityWriter writer(statements);
  const size_t end = std::min(changes.writes(), first + count);
  size_t i = first;
  size_t base = 0;  // where the current list starts in the sequence
  const auto section = [&](size_t size, const auto& write) {
    for (; i < end && i < base + size; ++i) write(i - base);
    base += size;
  };
  section(changes.upserts.size(), [&](size_t k) { writer.upsert(source, *changes.upserts[k], now); });
  section(changes.joins.size(), [&](size_t k) {
    writer.join(source, changes.joins[k].subject_id, changes.joins[k].group, now);
  });
  section(changes.leaves.size(), [&](size_t k) {
    writer.leave(source, changes.leaves[k].subject_id, changes.leaves[k].group, now);
  });
  section(changes.absent.size(), [&](size_t k) { writer.mark_no_longer_listed(source, changes.absent[k], now); });
  // last_seen of the unchanged. After the writes above, the source's rows not
  // deleted are the listed ones the source does not call deleted (and any a
  // push created since the comparison), so one statement reaches them; the
  // listed-as-deleted few follow one by one.
  section(1, [&](size_t) {
    sql::Statement seen(statements,
                        "UPDATE identities SET last_seen = ?2 "
                        "WHERE source = ?1 AND status != 'deleted' AND last_seen != ?2");
    seen.bind(1, source).bind(2, now);
    seen.run();
  });
  section(changes.deleted_listed.size(), [&](size_t k) {
    sql::Statement seen_one(statements, "UPDATE identities SET last_seen = ?3 WHERE source = ?1 AND subject_id = ?2");
    seen_one.bind(1, source).bind(2, changes.deleted_listed[k]->subject_id).bind(3, now);
    seen_one.run();
  });
  return i;
}

}  // namespace keywarden::identity_rows

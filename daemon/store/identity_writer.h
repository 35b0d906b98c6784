// How what a source says about identities becomes rows in `identities` and
// `memberships`: the rules behind Store::apply_full_read,
// apply_identity_update and set_membership. Private to the store; every
// function runs inside the caller's write transaction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/time_point.h"
#include "daemon/store/statement.h"

struct sqlite3;

namespace keywarden::identity_rows {

// The per-identity writes, prepared once and reused across many identities.
class IdentityWriter {
 public:
  explicit IdentityWriter(sql::StatementCache& statements);

  // Inserts or updates the identity (email normalized); status_since moves to
  // `now` only when the status changed; last_seen becomes `now`.
  void upsert(std::string_view source, const Identity& identity, Timestamp now);

  // Makes the identity's current memberships exactly `groups`: keeps
  // first_seen of groups already current, starts the others at `now` (a group
  // left earlier starts over), and sets removed_at = now on current groups not
  // listed. One query for the current groups, then only the changes.
  void set_groups(std::string_view source, std::string_view subject_id,
                  const std::vector<std::string>& groups, Timestamp now);

  // The identity is in `group` from `now` on, unless it already was.
  void join(std::string_view source, std::string_view subject_id, std::string_view group,
            Timestamp now);
  // The identity left `group` at `now`, if it was in it.
  void leave(std::string_view source, std::string_view subject_id, std::string_view group,
             Timestamp now);
  // join and leave for each of `subject_ids` (identities that exist), many
  // per statement: a large group change is tens of thousands of them.
  void join_all(std::string_view source, const std::vector<std::string_view>& subject_ids,
                std::string_view group, Timestamp now);
  void leave_all(std::string_view source, const std::vector<std::string_view>& subject_ids,
                 std::string_view group, Timestamp now);
  // The source stopped listing the identity: deleted as of `now`, in no group.
  void mark_no_longer_listed(std::string_view source, std::string_view subject_id, Timestamp now);

 private:
  sql::Statement upsert_;
  sql::Statement current_groups_;
  sql::Statement join_;
  sql::Statement leave_;
  sql::Statement leave_all_;
  sql::Statement mark_deleted_;
  sql::StatementCache& statements_;
  std::vector<std::string> current_;  // scratch, reused across identities
  std::vector<std::string_view> listed_;
};

// The identity half of Store::apply_full_read (source health is the caller's):
// the listing replaces what the store knew of `source`, in two steps.
//
// Built for 100,000 identities and 1,000,000 memberships: the listing is
// sorted once and merged with two ordered scans of the source's rows, so the
// cost is two sequential reads plus one write per change, not a query per
// identity. The scans need only a read snapshot, so the store runs them
// before it takes the write lock: pushes keep committing meanwhile, and the
// write transaction holds only the changes.

struct MembershipChange {
  std::string_view subject_id;  // points into the listing
  std::string group;            // copied: a leave's group comes from a row being stepped past
};

// What a listing changes. Pointers and views point into the listing, which
// must outlive this.
struct FullReadChanges {
  std::vector<const Identity*> upserts;         // new, or facts changed
  std::vector<const Identity*> deleted_listed;  // unchanged, and the source says deleted
  std::vector<std::string> absent;              // stored, not listed, not deleted yet
  // New, or listed again after a removal: views into the listing, which
  // outlives the changes (a first read of 100,000 people in 10 groups is
  // 1,000,000 joins: as copied strings they were hundreds of MB).
  struct Join {
    std::string_view subject_id;
    std::string_view group;
  };
  std::vector<Join> joins;
  std::vector<MembershipChange> leaves;         // current, no longer listed

  // How many writes write_full_read makes for these changes.
  size_t writes() const;
};

// Compares the listing with the stored rows of `source`. Reads only; run it
// inside a read transaction for one consistent snapshot.
FullReadChanges compare_full_read(sql::StatementCache& statements, const std::string& source,
                                  const std::vector<Identity>& identities);

// Makes writes [first, first + count) of `changes` (of changes.writes()),
// inside the caller's write transaction, and returns where it stopped. The
// writes are ordered so that every prefix leaves the rows consistent (an
// identity before its memberships): the store commits a huge first read in
// several transactions, so that pushes do not wait seconds for the lock.
size_t write_full_read(sql::StatementCache& statements, const std::string& source,
                       const FullReadChanges& changes, Timestamp now, size_t first, size_t count);

}  // namespace keywarden::identity_rows

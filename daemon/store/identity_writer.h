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
  // The source stopped listing the identity: deleted as of `now`, in no group.
  void mark_no_longer_listed(std::string_view source, std::string_view subject_id, Timestamp now);

 private:
  sql::Statement upsert_;
  sql::Statement current_groups_;
  sql::Statement join_;
  sql::Statement leave_;
  sql::Statement leave_all_;
  sql::Statement mark_deleted_;
  std::vector<std::string> current_;  // scratch, reused across identities
  std::vector<std::string_view> listed_;
};

// The identity half of Store::apply_full_read (source health is the caller's):
// the listing replaces what the store knew of `source`.
//
// Built for 100,000 identities and 1,000,000 memberships: the listing is
// sorted once and merged with two ordered scans of the source's rows, so the
// cost is two sequential reads plus one write per change, not a query per
// identity. Unchanged identities only get last_seen, in one statement.
void write_full_read(sql::StatementCache& statements, const std::string& source,
                     const std::vector<Identity>& identities, Timestamp now);

}  // namespace keywarden::identity_rows

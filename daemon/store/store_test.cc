// Each test is named after the failure it guards against.
#include "daemon/store/store.h"
#include "daemon/store/schema.h"
#include "daemon/store/schema_history_test.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

namespace keywarden {
namespace {

Timestamp at(int64_t seconds) { return Timestamp{Duration{seconds}}; }

Identity person(std::string subject_id, std::string email,
                IdentityStatus status = IdentityStatus::active,
                std::vector<std::string> groups = {}) {
  Identity identity;
  identity.subject_id = std::move(subject_id);
  identity.user_name = identity.subject_id + "-name";
  identity.email = std::move(email);
  identity.status = status;
  identity.groups = std::move(groups);
  return identity;
}

Action revoke_action(std::string key_uid, Reason reason = Reason::identity_inactive) {
  Action action;
  action.kind = ActionKind::revoke;
  action.key_uid = key_uid;
  action.key_name = key_uid + "-name";
  action.owner_uid = "owner-of-" + key_uid;
  action.owner_email = "owner@example.com";
  action.reason = reason;
  action.source = "corp-idp";
  action.detail = "status DEPROVISIONED";
  return action;
}

const MembershipRecord* membership(const IdentityRecord& record, const std::string& group) {
  for (const MembershipRecord& m : record.memberships) {
    if (m.group == group) return &m;
  }
  return nullptr;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kw-store-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_file_ = dir_ / "keywarden.db";
    store_ = Store::open(db_file_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void reopen() {
    store_.reset();
    store_ = Store::open(db_file_);
  }

  // A second, raw connection: how a test looks under the store or breaks it.
  int64_t query_int(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(db_file_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW) << sql;
    const int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  void exec_raw(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_file_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  IdentityRecord identity(const std::string& source, const std::string& subject_id) {
    std::optional<IdentityRecord> record = store_->load_identity(source, subject_id);
    EXPECT_TRUE(record.has_value()) << source << "/" << subject_id;
    return record.value_or(IdentityRecord{});
  }

  std::filesystem::path dir_;
  std::filesystem::path db_file_;
  std::unique_ptr<Store> store_;
};

// ---- Identities --------------------------------------------------------------

TEST_F(StoreTest, StatusSinceMovesOnlyOnStatusChange) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com")}, 1, at(100));
  Identity same_status = person("u1", "a@x.com");
  same_status.status_detail = "reworded by the source";
  store_->apply_full_read("idp-a", {same_status}, 1, at(200));
  IdentityRecord record = identity("idp-a", "u1");
  EXPECT_EQ(record.status_since, at(100));
  EXPECT_EQ(record.first_seen, at(100));
  EXPECT_EQ(record.status_detail, "reworded by the source");

  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::inactive)}, 0, at(300));
  record = identity("idp-a", "u1");
  EXPECT_EQ(record.status, IdentityStatus::inactive);
  EXPECT_EQ(record.status_since, at(300));
  EXPECT_EQ(record.first_seen, at(100));

  Identity still_inactive = person("u1", "a@x.com", IdentityStatus::inactive);
  store_->apply_identity_update("idp-a", still_inactive, false, at(400));
  EXPECT_EQ(identity("idp-a", "u1").status_since, at(300));
}

TEST_F(StoreTest, EmailIsStoredNormalizedAndFoundCaseInsensitively) {
  store_->apply_full_read(
      "idp-a", {person("u1", "  Alice@Example.COM ", IdentityStatus::active, {"palette-users"})}, 1,
      at(100));
  store_->apply_full_read("idp-b", {person("e1", "alice@example.com")}, 0, at(100));
  store_->apply_full_read("idp-b2", {person("e2", "bob@example.com")}, 0, at(100));

  EXPECT_EQ(identity("idp-a", "u1").email, "alice@example.com");
  const std::vector<IdentityRecord> found = store_->load_identities_by_email("alice@example.com");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].source, "idp-a");
  EXPECT_EQ(found[1].source, "idp-b");
  ASSERT_EQ(found[0].memberships.size(), 1u);
  EXPECT_EQ(found[0].memberships[0].group, "palette-users");
  EXPECT_EQ(store_->load_identities_by_email(" ALICE@example.com").size(), 2u);
  EXPECT_TRUE(store_->load_identities_by_email("nobody@example.com").empty());
}

TEST_F(StoreTest, MembershipFirstSeenSurvivesRereads) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(100));
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1", "g2"})},
                          1, at(200));
  const IdentityRecord record = identity("idp-a", "u1");
  ASSERT_EQ(record.memberships.size(), 2u);
  EXPECT_EQ(membership(record, "g1")->first_seen, at(100));
  EXPECT_FALSE(membership(record, "g1")->removed_at.has_value());
  EXPECT_EQ(membership(record, "g2")->first_seen, at(200));
}

TEST_F(StoreTest, GroupMissingFromReadGetsRemovedAt) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1", "g2"})},
                          1, at(100));
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g2"})}, 1,
                          at(200));
  IdentityRecord record = identity("idp-a", "u1");
  ASSERT_NE(membership(record, "g1"), nullptr);
  EXPECT_EQ(membership(record, "g1")->removed_at, at(200));
  EXPECT_EQ(membership(record, "g1")->first_seen, at(100));
  EXPECT_FALSE(membership(record, "g2")->removed_at.has_value());

  // A later read that still omits it does not move removed_at.
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g2"})}, 1,
                          at(300));
  record = identity("idp-a", "u1");
  EXPECT_EQ(membership(record, "g1")->removed_at, at(200));
}

TEST_F(StoreTest, RejoinedGroupRestartsFirstSeen) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(100));
  store_->apply_full_read("idp-a", {person("u1", "a@x.com")}, 0, at(200));
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(300));
  const IdentityRecord record = identity("idp-a", "u1");
  ASSERT_EQ(record.memberships.size(), 1u);
  EXPECT_EQ(record.memberships[0].first_seen, at(300));
  EXPECT_FALSE(record.memberships[0].removed_at.has_value());
}

TEST_F(StoreTest, DuplicateGroupInOneReadIsOneMembership) {
  store_->apply_full_read("idp-b", {person("e1", "a@x.com", IdentityStatus::active, {"g", "g"})}, 1,
                          at(100));
  EXPECT_EQ(identity("idp-b", "e1").memberships.size(), 1u);
}

TEST_F(StoreTest, IdentityAbsentFromFullReadBecomesDeleted) {
  store_->apply_full_read("idp-a",
                          {person("u1", "a@x.com", IdentityStatus::active, {"g1"}),
                           person("u2", "b@x.com", IdentityStatus::active, {"g1"})},
                          2, at(100));
  store_->apply_full_read("idp-b", {person("e1", "c@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(100));

  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(200));
  IdentityRecord gone = identity("idp-a", "u2");
  EXPECT_EQ(gone.status, IdentityStatus::deleted);
  EXPECT_EQ(gone.status_detail, "no longer listed by the source");
  EXPECT_EQ(gone.status_since, at(200));
  EXPECT_EQ(membership(gone, "g1")->removed_at, at(200));

  // Other identities and other sources are untouched.
  EXPECT_EQ(identity("idp-a", "u1").status, IdentityStatus::active);
  EXPECT_EQ(identity("idp-b", "e1").status, IdentityStatus::active);
  EXPECT_FALSE(membership(identity("idp-b", "e1"), "g1")->removed_at.has_value());

  // Already deleted: a later read does not move status_since again.
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(300));
  EXPECT_EQ(identity("idp-a", "u2").status_since, at(200));

  // Listed again: active again, from then on.
  store_->apply_full_read("idp-a", {person("u1", "a@x.com"), person("u2", "b@x.com")}, 0, at(400));
  gone = identity("idp-a", "u2");
  EXPECT_EQ(gone.status, IdentityStatus::active);
  EXPECT_EQ(gone.status_since, at(400));
  EXPECT_EQ(gone.first_seen, at(100));
}

TEST_F(StoreTest, EmptyFullReadDeletesEverySubjectOfThatSourceOnly) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com"), person("u2", "b@x.com")}, 2, at(100));
  store_->apply_full_read("idp-b", {person("e1", "c@x.com")}, 1, at(100));
  store_->apply_full_read("idp-a", {}, 0, at(200));
  EXPECT_EQ(identity("idp-a", "u1").status, IdentityStatus::deleted);
  EXPECT_EQ(identity("idp-a", "u2").status, IdentityStatus::deleted);
  EXPECT_EQ(identity("idp-b", "e1").status, IdentityStatus::active);
}

TEST_F(StoreTest, IdentityUpdateWithoutGroupsKeepsMemberships) {
  store_->apply_full_read("idp-c", {person("s1", "a@x.com", IdentityStatus::active, {"g1", "g2"})},
                          1, at(100));
  store_->apply_identity_update("idp-c", person("s1", "a@x.com", IdentityStatus::inactive), false,
                                at(200));
  IdentityRecord record = identity("idp-c", "s1");
  EXPECT_EQ(record.status, IdentityStatus::inactive);
  EXPECT_EQ(record.status_since, at(200));
  ASSERT_EQ(record.memberships.size(), 2u);
  for (const MembershipRecord& m : record.memberships) EXPECT_FALSE(m.removed_at.has_value());

  // With groups known, the update does sync them.
  store_->apply_identity_update("idp-c", person("s1", "a@x.com", IdentityStatus::active, {"g2"}),
                                true, at(300));
  record = identity("idp-c", "s1");
  EXPECT_EQ(membership(record, "g1")->removed_at, at(300));
  EXPECT_FALSE(membership(record, "g2")->removed_at.has_value());
}

TEST_F(StoreTest, IdentityUpdateDoesNotDeleteOtherIdentities) {
  store_->apply_full_read("idp-c", {person("s1", "a@x.com"), person("s2", "b@x.com")}, 2, at(100));
  store_->apply_identity_update("idp-c", person("s3", "c@x.com"), true, at(200));
  EXPECT_EQ(identity("idp-c", "s1").status, IdentityStatus::active);
  EXPECT_EQ(identity("idp-c", "s3").first_seen, at(200));
  EXPECT_EQ(store_->load_identities().size(), 3u);
}

TEST_F(StoreTest, SetMembershipOnUnknownSubjectCreatesPlaceholder) {
  store_->set_membership("idp-c", "s9", "palette-users", true, at(100));
  IdentityRecord record = identity("idp-c", "s9");
  EXPECT_EQ(record.status, IdentityStatus::active);
  EXPECT_EQ(record.email, "");
  EXPECT_EQ(record.first_seen, at(100));
  ASSERT_EQ(record.memberships.size(), 1u);
  EXPECT_EQ(record.memberships[0].first_seen, at(100));

  // The user push that follows fills the placeholder in and keeps the group.
  store_->apply_identity_update("idp-c", person("s9", "Nine@X.com"), false, at(110));
  record = identity("idp-c", "s9");
  EXPECT_EQ(record.email, "nine@x.com");
  EXPECT_EQ(record.first_seen, at(100));
  EXPECT_EQ(record.memberships.size(), 1u);

  store_->set_membership("idp-c", "s9", "palette-users", true, at(120));  // no change
  EXPECT_EQ(identity("idp-c", "s9").memberships[0].first_seen, at(100));
  store_->set_membership("idp-c", "s9", "palette-users", false, at(130));
  EXPECT_EQ(identity("idp-c", "s9").memberships[0].removed_at, at(130));
  store_->set_membership("idp-c", "s9", "palette-users", true, at(140));
  record = identity("idp-c", "s9");
  EXPECT_EQ(record.memberships[0].first_seen, at(140));
  EXPECT_FALSE(record.memberships[0].removed_at.has_value());
}

TEST_F(StoreTest, SetMembershipRemovalOfUnknownGroupRecordsNothing) {
  store_->set_membership("idp-c", "s1", "never-joined", false, at(100));
  EXPECT_TRUE(identity("idp-c", "s1").memberships.empty());
}

TEST_F(StoreTest, LoadIdentitiesAttachesEachMembershipToItsOwnIdentity) {
  // Subjects with and without memberships, interleaved across sources, so a
  // merge that slips by one row puts a group on the wrong person.
  store_->apply_full_read(
      "b-src", {person("x", "x@x.com", IdentityStatus::active, {"bg"}), person("a", "a@x.com")}, 1,
      at(100));
  store_->apply_full_read(
      "a-src",
      {person("z", "z@x.com", IdentityStatus::active, {"z1", "z2"}), person("m", "m@x.com"),
       person("b", "b@x.com", IdentityStatus::inactive, {"b1"})},
      2, at(100));
  const std::vector<IdentityRecord> all = store_->load_identities();
  ASSERT_EQ(all.size(), 5u);
  std::vector<std::string> keys;
  for (const IdentityRecord& r : all) keys.push_back(r.source + "/" + r.subject_id);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"a-src/b", "a-src/m", "a-src/z", "b-src/a", "b-src/x"}));
  ASSERT_EQ(all[0].memberships.size(), 1u);
  EXPECT_EQ(all[0].memberships[0].group, "b1");
  EXPECT_EQ(all[0].status, IdentityStatus::inactive);
  EXPECT_TRUE(all[1].memberships.empty());
  ASSERT_EQ(all[2].memberships.size(), 2u);
  EXPECT_EQ(all[2].memberships[0].group, "z1");
  EXPECT_EQ(all[2].memberships[1].group, "z2");
  EXPECT_TRUE(all[3].memberships.empty());
  ASSERT_EQ(all[4].memberships.size(), 1u);
  EXPECT_EQ(all[4].memberships[0].group, "bg");
}

TEST_F(StoreTest, SubjectListedTwiceInOneReadTakesTheLastEntry) {
  store_->apply_full_read("idp-a",
                          {person("u1", "first@x.com", IdentityStatus::active, {"g1"}),
                           person("u1", "second@x.com", IdentityStatus::inactive, {"g2"})},
                          1, at(100));
  const IdentityRecord record = identity("idp-a", "u1");
  EXPECT_EQ(record.email, "second@x.com");
  EXPECT_EQ(record.status, IdentityStatus::inactive);
  ASSERT_EQ(record.memberships.size(), 1u);
  EXPECT_EQ(record.memberships[0].group, "g2");
}

TEST_F(StoreTest, LastSeenFollowsTheReadsThatListTheIdentity) {
  store_->apply_full_read("idp-a",
                          {person("u1", "a@x.com"), person("u2", "b@x.com"),
                           person("u3", "c@x.com", IdentityStatus::deleted)},
                          2, at(100));
  store_->apply_full_read(
      "idp-a", {person("u1", "a@x.com"), person("u3", "c@x.com", IdentityStatus::deleted)}, 1,
      at(200));
  const auto last_seen = [&](const std::string& subject_id) {
    return query_int("SELECT last_seen FROM identities WHERE subject_id = '" + subject_id + "'");
  };
  EXPECT_EQ(last_seen("u1"), 200);  // unchanged, listed
  EXPECT_EQ(last_seen("u2"), 100);  // absent: last listed at 100
  EXPECT_EQ(last_seen("u3"), 200);  // listed as deleted
  EXPECT_EQ(identity("idp-a", "u3").status_since, at(100));
}

// The full read merges the listing with ordered scans; a merge that drifts by
// one row misattributes groups or deletes a listed person. This replays random
// reads over awkwardly ordered subject ids (prefixes, case, bytes >= 0x80)
// against a direct model of the header's contract.
TEST_F(StoreTest, FullReadMergeMatchesTheContractOverRandomReads) {
  const std::vector<std::string> subjects = {
      "a", "a b", "ab", "aB", "B", "b", "\xc3\xa9t\xc3\xa9", "z", "00u1", "00u10", "00u2", "~"};
  const std::vector<std::string> groups = {"g", "g2", "G", "palette users", "\xc3\xa9quipe"};
  std::map<std::string, IdentityRecord> model;  // by subject_id, source "src"
  std::mt19937 random(20261126);

  for (int round = 1; round <= 60; ++round) {
    const Timestamp now = at(round * 100);
    std::vector<Identity> listing;
    for (const std::string& subject_id : subjects) {
      if (random() % 4 == 0) continue;  // absent this round
      Identity identity = person(subject_id, subject_id + "@X.com");
      identity.status = static_cast<IdentityStatus>(random() % 3);
      identity.status_detail = "detail " + std::to_string(random() % 2);
      for (const std::string& group : groups) {
        if (random() % 2 == 0) identity.groups.push_back(group);
      }
      listing.push_back(identity);
    }
    std::shuffle(listing.begin(), listing.end(), random);
    store_->apply_full_read("src", listing, 0, now);

    // The model: the header's words, one identity at a time.
    std::set<std::string> listed;
    for (const Identity& identity : listing) {
      listed.insert(identity.subject_id);
      auto [it, is_new] = model.try_emplace(identity.subject_id);
      IdentityRecord& r = it->second;
      if (is_new) {
        r.source = "src";
        r.subject_id = identity.subject_id;
        r.first_seen = r.status_since = now;
      } else if (r.status != identity.status) {
        r.status_since = now;
      }
      r.user_name = identity.user_name;
      r.email = normalize_email(identity.email);
      r.status = identity.status;
      r.status_detail = identity.status_detail;
      for (MembershipRecord& m : r.memberships) {
        const bool still = std::find(identity.groups.begin(), identity.groups.end(), m.group) !=
                           identity.groups.end();
        if (!still && !m.removed_at) m.removed_at = now;
        if (still && m.removed_at) m = {m.group, now, std::nullopt};
      }
      for (const std::string& group : identity.groups) {
        if (!membership(r, group)) r.memberships.push_back({group, now, std::nullopt});
      }
      std::sort(
          r.memberships.begin(), r.memberships.end(),
          [](const MembershipRecord& a, const MembershipRecord& b) { return a.group < b.group; });
    }
    for (auto& [subject_id, r] : model) {
      if (listed.contains(subject_id) || r.status == IdentityStatus::deleted) continue;
      r.status = IdentityStatus::deleted;
      r.status_detail = "no longer listed by the source";
      r.status_since = now;
      for (MembershipRecord& m : r.memberships) {
        if (!m.removed_at) m.removed_at = now;
      }
    }

    const std::vector<IdentityRecord> stored = store_->load_identities();
    ASSERT_EQ(stored.size(), model.size()) << "round " << round;
    for (const IdentityRecord& s : stored) {
      SCOPED_TRACE("round " + std::to_string(round) + ", subject " + s.subject_id);
      ASSERT_TRUE(model.contains(s.subject_id));
      const IdentityRecord& m = model.at(s.subject_id);
      EXPECT_EQ(s.status, m.status);
      EXPECT_EQ(s.status_detail, m.status_detail);
      EXPECT_EQ(s.status_since, m.status_since);
      EXPECT_EQ(s.first_seen, m.first_seen);
      EXPECT_EQ(s.email, m.email);
      ASSERT_EQ(s.memberships.size(), m.memberships.size());
      for (size_t i = 0; i < s.memberships.size(); ++i) {
        EXPECT_EQ(s.memberships[i].group, m.memberships[i].group);
        EXPECT_EQ(s.memberships[i].first_seen, m.memberships[i].first_seen);
        EXPECT_EQ(s.memberships[i].removed_at, m.memberships[i].removed_at);
      }
    }
  }
}

TEST_F(StoreTest, FullReadThatFailsHalfwayChangesNothing) {
  store_->apply_full_read(
      "idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"}), person("u2", "b@x.com")}, 2,
      at(100));
  // Fault injection: the last write of the read, the source's health, fails.
  exec_raw(
      "CREATE TRIGGER fail_health BEFORE UPDATE ON source_health BEGIN SELECT RAISE(ABORT, "
      "'injected health failure'); END;");
  EXPECT_THROW(store_->apply_full_read(
                   "idp-a", {person("u1", "a@x.com", IdentityStatus::inactive, {"g2"})}, 1, at(200)),
               StoreError);
  const IdentityRecord u1 = identity("idp-a", "u1");
  EXPECT_EQ(u1.status, IdentityStatus::active);
  ASSERT_EQ(u1.memberships.size(), 1u);
  EXPECT_FALSE(u1.memberships[0].removed_at.has_value());
  EXPECT_EQ(identity("idp-a", "u2").status, IdentityStatus::active);
  EXPECT_EQ(store_->source_health("idp-a")->last_success, at(100));
}

// 6,000 people in 3 groups each: 24,000 writes, several commits' worth.
std::vector<Identity> big_directory() {
  std::vector<Identity> people;
  for (int i = 0; i < 6'000; ++i) {
    people.push_back(person("u" + std::to_string(i), "p" + std::to_string(i) + "@x.com",
                            IdentityStatus::active, {"g" + std::to_string(i % 7), "all", "staff"}));
  }
  return people;
}

TEST_F(StoreTest, AHugeFirstReadLetsAnotherWriterInBetweenItsCommits) {
  // The push worker's connection, writing all along. Inside its own write
  // transaction it looks at the read's progress: people already there but
  // the source not yet reported read means it got in between two commits.
  auto pushes = Store::open(db_file_);
  std::atomic<bool> stop{false};
  std::atomic<long> pushed{0};
  std::atomic<long> between{0};
  std::thread writer([&] {
    while (!stop) {
      pushes->batch([&] {
        pushes->set_value("test", "push", std::to_string(pushed.load()));
        if (pushes->load_identity("idp-a", "u0") && !pushes->source_health("idp-a")) ++between;
      });
      ++pushed;
    }
  });
  const std::vector<Identity> people = big_directory();
  while (pushed.load() == 0) std::this_thread::yield();
  store_->apply_full_read("idp-a", people, 6'000, at(100), {{"log_next", "https://idp.example/next"}});
  stop = true;
  writer.join();
  // Written in one transaction, the other writer would get in only before or after it.
  EXPECT_GE(between.load(), 1) << "the other writer never got the lock between commits";

  EXPECT_EQ(query_int("SELECT count(*) FROM identities WHERE source = 'idp-a'"), 6'000);
  EXPECT_EQ(query_int("SELECT count(*) FROM memberships WHERE source = 'idp-a' AND removed_at IS NULL"), 18'000);
  EXPECT_EQ(store_->source_health("idp-a")->last_success, at(100));
  EXPECT_EQ(store_->source_health("idp-a")->entitled_count, 6'000);
  EXPECT_EQ(store_->get_value(Store::cursor_scope("idp-a"), "log_next"), "https://idp.example/next");
}

TEST_F(StoreTest, AHugeReadFailingInALaterCommitLeavesTheSourceAsLastReported) {
  store_->apply_full_read("idp-a", {person("u0", "p0@x.com", IdentityStatus::inactive)}, 0, at(50));
  exec_raw(
      "CREATE TRIGGER fail_health BEFORE UPDATE ON source_health BEGIN SELECT RAISE(ABORT, "
      "'injected health failure'); END;");
  EXPECT_THROW(store_->apply_full_read("idp-a", big_directory(), 6'000, at(100), {{"log_next", "new"}}),
               StoreError);
  // The commits before the failure stay (each consistent: identities before
  // their memberships); what says the read was good does not.
  EXPECT_GT(query_int("SELECT count(*) FROM identities WHERE source = 'idp-a'"), 1);
  EXPECT_EQ(query_int("SELECT count(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM identities i "
                      "WHERE i.source = m.source AND i.subject_id = m.subject_id)"),
            0);
  EXPECT_EQ(store_->source_health("idp-a")->last_success, at(50));
  EXPECT_EQ(store_->source_health("idp-a")->entitled_count, 0);
  EXPECT_FALSE(store_->get_value(Store::cursor_scope("idp-a"), "log_next").has_value());
}

// ---- Source health -----------------------------------------------------------

TEST_F(StoreTest, ReadFailureKeepsIdentities) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(100));
  store_->record_read_failure("idp-a", "page 3: HTTP 503", at(200));

  const IdentityRecord record = identity("idp-a", "u1");
  EXPECT_EQ(record.status, IdentityStatus::active);
  EXPECT_FALSE(membership(record, "g1")->removed_at.has_value());

  const std::optional<SourceHealth> health = store_->source_health("idp-a");
  ASSERT_TRUE(health.has_value());
  EXPECT_FALSE(health->healthy);
  EXPECT_EQ(health->last_success, at(100));
  EXPECT_EQ(health->last_failure, at(200));
  EXPECT_EQ(health->last_error, "page 3: HTTP 503");
  EXPECT_EQ(health->entitled_count, 1);

  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"g1"})}, 1,
                          at(300));
  EXPECT_TRUE(store_->source_health("idp-a")->healthy);
}

TEST_F(StoreTest, SourceIsUnhealthyUntilItsFirstGoodRead) {
  EXPECT_FALSE(store_->source_health("idp-a").has_value());
  store_->record_read_failure("idp-a", "timeout", at(100));
  std::optional<SourceHealth> health = store_->source_health("idp-a");
  ASSERT_TRUE(health.has_value());
  EXPECT_FALSE(health->healthy);
  EXPECT_FALSE(health->last_success.has_value());
  EXPECT_EQ(health->entitled_count, -1);

  store_->record_source_success("idp-c", at(150));
  health = store_->source_health("idp-c");
  EXPECT_TRUE(health->healthy);
  EXPECT_EQ(health->last_success, at(150));
  EXPECT_EQ(health->entitled_count, -1);

  const std::vector<SourceHealth> all = store_->all_source_health();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source, "idp-a");
  EXPECT_EQ(all[1].source, "idp-c");
}

// ---- Journal -----------------------------------------------------------------

TEST_F(StoreTest, JournalIntentsSurviveCloseAndReopen) {
  const std::vector<int64_t> ids =
      store_->journal_intents("plan-1", {revoke_action("k1"), revoke_action("k2")}, at(100));
  const std::vector<int64_t> later =
      store_->journal_intents("plan-2", {revoke_action("k3")}, at(90));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], later[0]);

  reopen();
  const std::vector<JournalEntry> pending = store_->pending_intents();
  ASSERT_EQ(pending.size(), 3u);
  // Oldest first means in journal order, even when a clock stepped back.
  EXPECT_EQ(pending[0].id, ids[0]);
  EXPECT_EQ(pending[1].id, ids[1]);
  EXPECT_EQ(pending[2].id, later[0]);
  EXPECT_EQ(pending[0].plan_id, "plan-1");
  EXPECT_EQ(pending[0].action.key_uid, "k1");
  EXPECT_EQ(pending[0].action.kind, ActionKind::revoke);
  EXPECT_EQ(pending[0].action.reason, Reason::identity_inactive);
  EXPECT_EQ(pending[0].action.detail, "status DEPROVISIONED");
  EXPECT_EQ(pending[0].state, IntentState::pending);
  EXPECT_EQ(pending[0].created_at, at(100));

  store_->mark_done(ids[0], 204, 1, at(110));
  const std::vector<JournalEntry> still = store_->pending_intents();
  ASSERT_EQ(still.size(), 2u);
  EXPECT_EQ(still[0].id, ids[1]);
}

TEST_F(StoreTest, JournalIntentsSurviveProcessDeathWithoutClose) {
  // The child journals and dies without destructors: no close, no checkpoint,
  // only what synchronous=FULL put in the WAL.
  store_.reset();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<Store> store = Store::open(db_file_);
    store->journal_intents("plan-crash", {revoke_action("k1"), revoke_action("k2")}, at(100));
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  store_ = Store::open(db_file_);
  const std::vector<JournalEntry> pending = store_->pending_intents();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].plan_id, "plan-crash");
  EXPECT_EQ(pending[1].action.key_uid, "k2");
}

TEST_F(StoreTest, MarkDoneRecordsRevokedKeyAndAudit) {
  const std::vector<int64_t> ids =
      store_->journal_intents("plan-1", {revoke_action("k1", Reason::not_entitled)}, at(100));
  store_->mark_done(ids[0], 204, 2, at(105));

  const JournalEntry entry = store_->intent(ids[0]).value();
  EXPECT_EQ(entry.state, IntentState::done);
  EXPECT_EQ(entry.http_status, 204);
  EXPECT_EQ(entry.attempts, 2);
  EXPECT_EQ(entry.updated_at, at(105));

  const auto revoked = store_->revoked_keys();
  ASSERT_EQ(revoked.size(), 1u);
  const RevokedKeyRecord& key = revoked.at("k1");
  EXPECT_EQ(key.owner_uid, "owner-of-k1");
  EXPECT_EQ(key.revoked_at, at(105));
  EXPECT_EQ(key.reason, Reason::not_entitled);

  const std::vector<AuditEntry> audit = store_->audit_since(std::nullopt);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].time, at(105));
  EXPECT_EQ(audit[0].plan_id, "plan-1");
  EXPECT_EQ(audit[0].action, "revoke");
  EXPECT_EQ(audit[0].key_uid, "k1");
  EXPECT_EQ(audit[0].key_name, "k1-name");
  EXPECT_EQ(audit[0].owner_uid, "owner-of-k1");
  EXPECT_EQ(audit[0].owner_email, "owner@example.com");
  EXPECT_EQ(audit[0].reason, "not_entitled");
  EXPECT_EQ(audit[0].source, "corp-idp");
  EXPECT_EQ(audit[0].result, "done");
  EXPECT_EQ(audit[0].http_status, 204);
  EXPECT_EQ(audit[0].attempts, 2);
  EXPECT_EQ(audit[0].detail, "status DEPROVISIONED");
  EXPECT_EQ(store_->revocations_since(at(105)), 1);
  EXPECT_EQ(store_->revocations_since(at(106)), 0);
}

TEST_F(StoreTest, MarkDoneOfDeleteOrReactivateForgetsRevokedKey) {
  std::vector<int64_t> ids =
      store_->journal_intents("p1", {revoke_action("k1"), revoke_action("k2")}, at(100));
  store_->mark_done(ids[0], 204, 1, at(101));
  store_->mark_done(ids[1], 404, 1, at(101), "already gone");
  ASSERT_EQ(store_->revoked_keys().size(), 2u);

  Action reactivate = revoke_action("k1", Reason::re_entitled);
  reactivate.kind = ActionKind::reactivate;
  Action remove = revoke_action("k2", Reason::grace_elapsed);
  remove.kind = ActionKind::delete_key;
  ids = store_->journal_intents("p2", {reactivate, remove}, at(200));
  store_->mark_done(ids[0], 204, 1, at(201));
  store_->mark_done(ids[1], 404, 1, at(201));
  EXPECT_TRUE(store_->revoked_keys().empty());

  const std::vector<AuditEntry> audit = store_->audit_since(std::nullopt);
  ASSERT_EQ(audit.size(), 4u);
  EXPECT_EQ(audit[1].detail, "already gone");
  EXPECT_EQ(audit[2].action, "reactivate");
  EXPECT_EQ(audit[3].action, "delete");
  EXPECT_EQ(audit[3].http_status, 404);
  EXPECT_EQ(store_->revocations_since(at(0)), 2);
}

TEST_F(StoreTest, MarkDoneIsAtomicWhenTheAuditWriteFails) {
  const std::vector<int64_t> ids = store_->journal_intents("p1", {revoke_action("k1")}, at(100));
  // Fault injection: the audit insert, the last write of mark_done, fails.
  exec_raw(
      "CREATE TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, "
      "'injected audit failure'); END;");
  EXPECT_THROW(store_->mark_done(ids[0], 204, 1, at(105)), StoreError);

  // Nothing of it stuck: the intent is still pending and the key not recorded.
  EXPECT_EQ(store_->intent(ids[0])->state, IntentState::pending);
  EXPECT_TRUE(store_->revoked_keys().empty());
  EXPECT_TRUE(store_->audit_since(std::nullopt).empty());

  exec_raw("DROP TRIGGER fail_audit;");
  store_->mark_done(ids[0], 204, 1, at(106));
  EXPECT_EQ(store_->revoked_keys().size(), 1u);
  EXPECT_EQ(store_->audit_since(std::nullopt).size(), 1u);
}

TEST_F(StoreTest, MarkDoneTwiceIsRefusedNotAuditedTwice) {
  const std::vector<int64_t> ids = store_->journal_intents("p1", {revoke_action("k1")}, at(100));
  store_->mark_done(ids[0], 204, 1, at(101));
  EXPECT_THROW(store_->mark_done(ids[0], 204, 1, at(102)), StoreError);
  EXPECT_THROW(store_->mark_failed(ids[0], 500, 5, "boom", at(102)), StoreError);
  EXPECT_THROW(store_->mark_done(ids[0] + 1000, 204, 1, at(102)), StoreError);
  EXPECT_EQ(store_->audit_since(std::nullopt).size(), 1u);
  EXPECT_FALSE(store_->intent(ids[0] + 1000).has_value());
}

TEST_F(StoreTest, MarkFailedAuditsTheErrorAndLeavesKeysAlone) {
  const std::vector<int64_t> ids = store_->journal_intents("p1", {revoke_action("k1")}, at(100));
  store_->mark_failed(ids[0], 403, 1, "HTTP 403: permission denied", at(101));
  EXPECT_EQ(store_->intent(ids[0])->state, IntentState::failed);
  EXPECT_TRUE(store_->pending_intents().empty());
  EXPECT_TRUE(store_->revoked_keys().empty());
  const std::vector<AuditEntry> audit = store_->audit_since(std::nullopt);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].result, "failed");
  EXPECT_EQ(audit[0].http_status, 403);
  EXPECT_EQ(audit[0].detail, "HTTP 403: permission denied");
  EXPECT_EQ(store_->revocations_since(at(0)), 0);
}

// ---- Quarantine --------------------------------------------------------------

TEST_F(StoreTest, QuarantineLifecycle) {
  store_->quarantine_plan("plan-a", {revoke_action("k1"), revoke_action("k2")},
                          "would revoke 2 keys, more than max_revocations 1", at(100));
  store_->quarantine_plan("plan-b", {revoke_action("k3")}, "too many", at(110));
  EXPECT_THROW(store_->quarantine_plan("plan-a", {}, "again", at(120)), StoreError);

  std::vector<QuarantinedPlan> pending = store_->quarantined_plans(true);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].plan_id, "plan-a");
  EXPECT_EQ(pending[0].state, QuarantineState::pending);
  EXPECT_EQ(pending[0].created_at, at(100));
  ASSERT_EQ(pending[0].actions.size(), 2u);
  EXPECT_EQ(pending[0].actions[0].key_uid, "k1");
  EXPECT_EQ(pending[0].actions[1].key_uid, "k2");
  EXPECT_EQ(pending[0].actions[1].detail, "status DEPROVISIONED");

  const std::vector<AuditEntry> audit = store_->audit_since(std::nullopt);
  ASSERT_EQ(audit.size(), 3u);
  for (const AuditEntry& row : audit) EXPECT_EQ(row.result, "quarantined");
  EXPECT_EQ(audit[0].detail, "would revoke 2 keys, more than max_revocations 1");
  EXPECT_EQ(store_->revocations_since(at(0)), 0);

  store_->resolve_quarantine("plan-a", QuarantineState::approved, at(200));
  store_->resolve_quarantine("plan-b", QuarantineState::rejected, at(210));
  EXPECT_TRUE(store_->quarantined_plans(true).empty());
  const std::vector<QuarantinedPlan> all = store_->quarantined_plans(false);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].state, QuarantineState::approved);
  EXPECT_EQ(all[1].state, QuarantineState::rejected);
  EXPECT_EQ(store_->quarantined_plan("plan-a")->actions.size(), 2u);

  // Resolving twice, or an unknown plan, is an error rather than a silent no-op.
  EXPECT_THROW(store_->resolve_quarantine("plan-a", QuarantineState::rejected, at(300)),
               StoreError);
  EXPECT_EQ(store_->quarantined_plan("plan-a")->state, QuarantineState::approved);
  EXPECT_THROW(store_->resolve_quarantine("nope", QuarantineState::approved, at(300)), StoreError);
  EXPECT_FALSE(store_->quarantined_plan("nope").has_value());
}

// The gauges count what the full reads would list: pending plans and intents
// only, whatever their number or neighbours in other states.
TEST_F(StoreTest, GaugesCountWhatIsPendingAndReadEverySourcesHealth) {
  Store::Gauges none = store_->gauges();
  EXPECT_EQ(none.quarantined_plans, 0);
  EXPECT_EQ(none.pending_intents, 0);
  EXPECT_TRUE(none.sources.empty());

  store_->quarantine_plan("plan-a", {revoke_action("k1"), revoke_action("k2")}, "too many", at(100));
  store_->quarantine_plan("plan-b", {revoke_action("k3")}, "too many", at(110));
  store_->quarantine_plan("plan-c", {revoke_action("k4")}, "too many", at(120));
  store_->resolve_quarantine("plan-b", QuarantineState::rejected, at(130));
  const std::vector<int64_t> ids =
      store_->journal_intents("plan-1", {revoke_action("k5"), revoke_action("k6"), revoke_action("k7")}, at(140));
  store_->mark_done(ids[0], 204, 1, at(150));
  store_->mark_failed(ids[2], 403, 1, "forbidden", at(150));
  store_->record_source_success("idp-a", at(160));
  store_->record_read_failure("idp-b", "timeout", at(170));

  const Store::Gauges g = store_->gauges();
  EXPECT_EQ(g.quarantined_plans, 2);
  EXPECT_EQ(g.quarantined_plans, static_cast<long>(store_->quarantined_plans(true).size()));
  EXPECT_EQ(g.pending_intents, 1);
  EXPECT_EQ(g.pending_intents, static_cast<long>(store_->pending_intents().size()));
  ASSERT_EQ(g.sources.size(), 2u);
  const std::vector<SourceHealth> health = store_->all_source_health();
  for (size_t i = 0; i < health.size(); ++i) {
    EXPECT_EQ(g.sources[i].source, health[i].source);
    EXPECT_EQ(g.sources[i].healthy, health[i].healthy);
    EXPECT_EQ(g.sources[i].last_success, health[i].last_success);
  }
}

// ---- Audit, values, events ---------------------------------------------------

TEST_F(StoreTest, AuditSinceReturnsRowsAtOrAfterSinceOldestFirst) {
  for (int64_t t : {300, 100, 200}) {
    AuditEntry entry;
    entry.time = at(t);
    entry.plan_id = "p" + std::to_string(t);
    entry.action = "revoke";
    entry.result = "done";
    store_->append_audit(entry);
  }
  std::vector<AuditEntry> rows = store_->audit_since(at(200));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].plan_id, "p200");
  EXPECT_EQ(rows[1].plan_id, "p300");
  rows = store_->audit_since(std::nullopt);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].plan_id, "p100");
  EXPECT_TRUE(store_->audit_since(at(301)).empty());
  EXPECT_EQ(store_->revocations_since(at(150)), 2);

  AuditEntry bad;
  bad.result = "maybe";  // not a result the audit trail knows
  EXPECT_THROW(store_->append_audit(bad), StoreError);
}

TEST_F(StoreTest, RememberEventDedupes) {
  EXPECT_TRUE(store_->remember_event("idp-a", "evt-1", at(100)));
  EXPECT_FALSE(store_->remember_event("idp-a", "evt-1", at(101)));
  EXPECT_TRUE(store_->remember_event("idp-c", "evt-1", at(101)));  // per source
  EXPECT_TRUE(store_->remember_event("idp-a", "evt-2", at(200)));

  reopen();
  EXPECT_FALSE(store_->remember_event("idp-a", "evt-1", at(300)));

  store_->prune_events(at(150));
  EXPECT_TRUE(store_->remember_event("idp-a", "evt-1", at(300)));   // pruned, new again
  EXPECT_FALSE(store_->remember_event("idp-a", "evt-2", at(300)));  // kept
}

TEST_F(StoreTest, ValuesPersistAndOverwrite) {
  EXPECT_FALSE(store_->get_value("idp-a", "next").has_value());
  store_->set_value("idp-a", "next", "https://idp.example/changes?after=1");
  store_->set_value("idp-a", "next", "https://idp.example/changes?after=2");
  store_->set_value("idp-b", "next", "delta-1");
  reopen();
  EXPECT_EQ(store_->get_value("idp-a", "next"), "https://idp.example/changes?after=2");
  EXPECT_EQ(store_->get_value("idp-b", "next"), "delta-1");
}

TEST_F(StoreTest, ValuesWithQuotesAreBoundNotSpliced) {
  const std::string hostile = "x'); DROP TABLE identities; --";
  store_->set_value("scope'", hostile, hostile);
  EXPECT_EQ(store_->get_value("scope'", hostile), hostile);
  store_->apply_full_read(hostile, {person(hostile, hostile)}, 1, at(100));
  EXPECT_EQ(identity(hostile, hostile).subject_id, hostile);
}

// ---- Facts from incremental reads and pushes ----------------------------------

TEST_F(StoreTest, ApplyChangesKeepsKnownNamesWhenAnEventNamesSomeoneOnlyById) {
  store_->apply_full_read("idp-a", {person("u1", "alice@example.com", IdentityStatus::active, {"palette-users"})}, 1,
                          at(100));
  const std::string user_name_before = identity("idp-a", "u1").user_name;
  ASSERT_FALSE(user_name_before.empty());
  IdentityChanges changes;
  Identity by_id;
  by_id.subject_id = "u1";
  by_id.status = IdentityStatus::inactive;
  by_id.status_detail = "suspended";
  changes.identities.push_back(by_id);
  changes.event_ids = {"evt-1"};
  changes.cursors["next"] = "https://idp.example/changes?after=9";
  const std::set<std::string> affected = store_->apply_changes("idp-a", changes, at(200), true);
  EXPECT_EQ(affected, std::set<std::string>{"alice@example.com"});
  const IdentityRecord r = identity("idp-a", "u1");
  EXPECT_EQ(r.email, "alice@example.com") << "an empty email keeps the stored one";
  EXPECT_EQ(r.user_name, user_name_before) << "an empty userName keeps the stored one";
  EXPECT_EQ(r.status, IdentityStatus::inactive);
  ASSERT_EQ(r.memberships.size(), 1u) << "groups untouched when groups_known is false";
  EXPECT_FALSE(r.memberships[0].removed_at);
  EXPECT_TRUE(store_->event_seen("idp-a", "evt-1"));
  EXPECT_FALSE(store_->event_seen("idp-b", "evt-1"));
  EXPECT_EQ(store_->values(Store::cursor_scope("idp-a")).at("next"), "https://idp.example/changes?after=9");
  EXPECT_TRUE(store_->source_health("idp-a")->healthy);
}

TEST_F(StoreTest, ApplyChangesRecordsSomeoneNewFromAMembershipsHints) {
  IdentityChanges changes;
  changes.memberships.push_back({"u9", "palette-users", true, "new.hire", "New.Hire@Example.com"});
  const std::set<std::string> affected = store_->apply_changes("idp-a", changes, at(300), false);
  EXPECT_EQ(affected, std::set<std::string>{"new.hire@example.com"});
  const IdentityRecord r = identity("idp-a", "u9");
  EXPECT_EQ(r.email, "new.hire@example.com");
  EXPECT_EQ(r.user_name, "new.hire");
  ASSERT_EQ(r.memberships.size(), 1u);
  EXPECT_FALSE(store_->source_health("idp-a")) << "without mark_success the source's health is not touched";
}

TEST_F(StoreTest, ApplyChangesIsOneTransaction) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com")}, 1, at(100));
  IdentityChanges changes;
  Identity gone = person("u1", "a@x.com", IdentityStatus::deleted);
  changes.identities.push_back(gone);
  changes.memberships.push_back({"u1", "g", true, "", ""});
  EXPECT_THROW(store_->batch([&] {
    store_->apply_changes("idp-a", changes, at(200), true);
    throw StoreError("the caller's batch fails after the apply");
  }), StoreError);
  EXPECT_EQ(identity("idp-a", "u1").status, IdentityStatus::active) << "nothing of the apply stayed";
  EXPECT_NE(store_->source_health("idp-a")->last_success, at(200));
  EXPECT_TRUE(identity("idp-a", "u1").memberships.empty());
}

// ---- Stale team memberships ---------------------------------------------------

TEST_F(StoreTest, StaleTeamMembershipsAreReplacedByEachReconcile) {
  EXPECT_TRUE(store_->stale_team_memberships().memberships.empty());
  EXPECT_FALSE(store_->stale_team_memberships().found_at);
  const StaleMembership alice{"u1", "alice@example.com", "palette-admins", "hr", "palette-admins", at(50)};
  const StaleMembership bob{"u2", "bob@example.com", "ops", "idp-a", "ops", at(60)};
  store_->replace_stale_team_memberships({bob, alice}, at(100));
  const auto stored = store_->stale_team_memberships();
  EXPECT_EQ(stored.memberships, (std::vector<StaleMembership>{alice, bob}));  // by owner email
  EXPECT_EQ(stored.found_at, at(100));
  store_->replace_stale_team_memberships({bob}, at(200));
  EXPECT_EQ(store_->stale_team_memberships().memberships, std::vector<StaleMembership>{bob});
  store_->replace_stale_team_memberships({}, at(300));
  EXPECT_TRUE(store_->stale_team_memberships().memberships.empty());
}

TEST_F(StoreTest, WhenAMemberLeftAGroupIsKeptAfterTheRemoval) {
  // SPEC §9 rests on this: a left membership stays, with its removed_at.
  Identity alice = person("u1", "alice@example.com");
  alice.groups = {"palette-users", "palette-admins"};
  store_->apply_full_read("hr", {alice}, 1, at(100));
  alice.groups = {"palette-users"};
  store_->apply_full_read("hr", {alice}, 1, at(200));
  store_->apply_full_read("hr", {alice}, 1, at(300));
  const auto r = identity("hr", "u1");
  ASSERT_EQ(r.memberships.size(), 2u);
  for (const auto& m : r.memberships) {
    if (m.group == "palette-admins") EXPECT_EQ(m.removed_at, at(200));
    else EXPECT_FALSE(m.removed_at);
  }
}

// ---- Opening and schema ------------------------------------------------------

TEST_F(StoreTest, OpenPutsTheFileInWalMode) {
  EXPECT_EQ(store_->schema_version(), schema::latest_version());
  EXPECT_TRUE(std::filesystem::exists(db_file_));
  // journal_mode=WAL is stored in the file itself.
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_file_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, ReopeningRunsNoMigrationTwice) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com")}, 1, at(100));
  const int64_t applied_at =
      query_int("SELECT applied_at FROM schema_migrations WHERE version = 1");
  reopen();
  reopen();
  EXPECT_EQ(store_->schema_version(), schema::latest_version());
  EXPECT_EQ(query_int("SELECT count(*) FROM schema_migrations"), schema::latest_version());
  EXPECT_EQ(query_int("SELECT applied_at FROM schema_migrations WHERE version = 1"), applied_at);
  EXPECT_EQ(query_int("PRAGMA user_version"), schema::latest_version());
  EXPECT_EQ(store_->load_identities().size(), 1u);
}

TEST_F(StoreTest, FutureSchemaVersionIsRefused) {
  store_.reset();
  exec_raw("PRAGMA user_version = 99;");
  try {
    Store::open(db_file_);
    FAIL() << "a database from a newer keywarden was opened";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("schema version 99"), std::string::npos) << message;
    EXPECT_NE(message.find("newer"), std::string::npos) << message;
  }
  EXPECT_EQ(query_int("PRAGMA user_version"), 99);  // left untouched
}

TEST_F(StoreTest, VersionThatDisagreesWithMigrationRecordIsRefused) {
  store_.reset();
  exec_raw("DELETE FROM schema_migrations;");
  EXPECT_THROW(Store::open(db_file_), StoreError);
}

TEST_F(StoreTest, CompromisedStatusIsStoredAndLoaded) {
  store_->apply_identity_update("idp-s", person("email:a@x.com", "a@x.com", IdentityStatus::compromised), false,
                                at(100));
  EXPECT_EQ(identity("idp-s", "email:a@x.com").status, IdentityStatus::compromised);
}

// How many tables' CREATE text has an IN list in a CHECK (two-value lists,
// in source_health and pushed_resources, SQLite compares without a table).
constexpr const char* kTablesWithInChecks =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK (% IN (%'";

TEST_F(StoreTest, MigrationToChecksWithoutTemporaryTablesKeepsEveryRuleAndRow) {
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"palette-users"})}, 1, at(100));
  store_.reset();
  exec_raw("PRAGMA writable_schema = ON;" + std::string(schema_history::kChecksOfVersion5) +
           "PRAGMA writable_schema = OFF;"
           "DELETE FROM schema_migrations WHERE version = 6;"
           "PRAGMA user_version = 5;");
  ASSERT_EQ(query_int(kTablesWithInChecks), 2 + 5) << "the old text is back";
  reopen();
  EXPECT_EQ(store_->schema_version(), 6);
  EXPECT_EQ(query_int(kTablesWithInChecks), 2);
  const IdentityRecord kept = identity("idp-a", "u1");
  ASSERT_EQ(kept.memberships.size(), 1u);
  EXPECT_EQ(kept.memberships[0].group, "palette-users");
  // The same values pass, and no other.
  for (const IdentityStatus status : {IdentityStatus::inactive, IdentityStatus::deleted, IdentityStatus::compromised,
                                      IdentityStatus::active}) {
    store_->apply_identity_update("idp-a", person("u1", "a@x.com", status), false, at(200));
    EXPECT_EQ(identity("idp-a", "u1").status, status);
  }
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_file_.c_str(), &db), SQLITE_OK);
  for (const std::string statement :
       {"UPDATE identities SET status = 'gone'", "UPDATE identities SET status = 'Active'",
        "INSERT INTO journal (plan_id, action, key_uid, key_name, owner_uid, owner_email, reason, source, detail, "
        "state, created_at, updated_at) VALUES ('p', 'revoke', 'k', 'n', 'o', 'e', 'r', 's', 'd', 'lost', 1, 1)",
        "INSERT INTO journal (plan_id, action, key_uid, key_name, owner_uid, owner_email, reason, source, detail, "
        "state, created_at, updated_at) VALUES ('p', 'rotate', 'k', 'n', 'o', 'e', 'r', 's', 'd', 'pending', 1, 1)",
        "INSERT INTO audit (time, plan_id, action, key_uid, key_name, owner_uid, owner_email, reason, source, result) "
        "VALUES (1, 'p', 'revoke', 'k', 'n', 'o', 'e', 'r', 's', 'maybe')"}) {
    EXPECT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, nullptr), SQLITE_CONSTRAINT) << statement;
  }
  sqlite3_close(db);
}

// SQLite checks an IN list of three or more values against a b-tree it
// builds and frees for every row written (migration 6): no table may bring
// one back.
TEST_F(StoreTest, NoWriteBuildsATemporaryTableForItsChecks) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_file_.c_str(), &db), SQLITE_OK);
  std::vector<std::string> tables;
  {
    sqlite3_stmt* list = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                                 -1, &list, nullptr),
              SQLITE_OK);
    while (sqlite3_step(list) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list, 0)));
    sqlite3_finalize(list);
  }
  EXPECT_GT(tables.size(), 10u);
  for (const std::string& table : tables) {
    // EXPLAIN compiles the write, CHECKs included, without running it.
    const std::string sql = "EXPLAIN INSERT INTO \"" + table + "\" DEFAULT VALUES";
    sqlite3_stmt* explain = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &explain, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(explain) == SQLITE_ROW) {
      EXPECT_STRNE(reinterpret_cast<const char*>(sqlite3_column_text(explain, 1)), "OpenEphemeral") << table;
    }
    sqlite3_finalize(explain);
  }
  sqlite3_close(db);
}

TEST_F(StoreTest, MigrationToCompromisedStatusKeepsEveryRow) {
  // A database as schema version 4 left it: the old CHECK, with identities
  // and memberships in it.
  store_->apply_full_read("idp-a", {person("u1", "a@x.com", IdentityStatus::active, {"palette-users"})}, 1, at(100));
  store_.reset();
  exec_raw(
      "PRAGMA writable_schema = ON;" + std::string(schema_history::kChecksOfVersion5) +
      schema_history::kStatusCheckOfVersion4 +
      "PRAGMA writable_schema = OFF;"
      "DELETE FROM schema_migrations WHERE version >= 5;"
      "PRAGMA user_version = 4;");
  EXPECT_EQ(query_int("SELECT count(*) FROM sqlite_schema WHERE name = 'identities' AND sql LIKE '%compromised%'"), 0);
  reopen();
  EXPECT_EQ(store_->schema_version(), schema::latest_version());
  const IdentityRecord kept = identity("idp-a", "u1");
  ASSERT_EQ(kept.memberships.size(), 1u);  // not cascade-deleted by the migration
  EXPECT_EQ(kept.memberships[0].group, "palette-users");
  store_->apply_identity_update("idp-a", person("u1", "a@x.com", IdentityStatus::compromised), false, at(200));
  EXPECT_EQ(identity("idp-a", "u1").status, IdentityStatus::compromised);
}

TEST_F(StoreTest, ForeignFileWithTablesButNoVersionIsRefused) {
  store_.reset();
  std::filesystem::remove(db_file_);
  exec_raw("CREATE TABLE identities (x);");
  EXPECT_THROW(Store::open(db_file_), StoreError);
}

TEST_F(StoreTest, FileThatIsNotADatabaseIsRefusedAndKept) {
  store_.reset();
  std::filesystem::remove(db_file_);
  std::filesystem::remove(db_file_.string() + "-wal");
  std::filesystem::remove(db_file_.string() + "-shm");
  {
    std::ofstream garbage(db_file_, std::ios::binary);
    garbage << std::string(8192, 'x');
  }
  EXPECT_THROW(Store::open(db_file_), StoreError);
  EXPECT_EQ(std::filesystem::file_size(db_file_), 8192u);
}

TEST_F(StoreTest, OpenInMissingFolderThrowsNamingThePath) {
  const std::filesystem::path missing = dir_ / "no-such-dir" / "keywarden.db";
  try {
    Store::open(missing);
    FAIL() << "opened a database in a folder that does not exist";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, CorruptEnumSpellingIsAnErrorNotADefault) {
  store_->journal_intents("p1", {revoke_action("k1")}, at(100));
  // journal.reason has no CHECK (the engine's reasons may grow), so a row can
  // hold a spelling this build does not know. It must not read back as a default.
  exec_raw("UPDATE journal SET reason = 'made_up';");
  EXPECT_THROW(store_->pending_intents(), StoreError);
}

}  // namespace
}  // namespace keywarden

namespace keywarden {
namespace {

TEST_F(StoreTest, ScratchCopyStartsFromTheFileAndNeverWritesIt) {
  store_->apply_full_read("hr", {person("1", "a@example.com")}, 1, at(100));
  auto copy = Store::open_scratch_copy(db_file_);
  EXPECT_EQ(copy->load_identities().size(), 1u);
  copy->apply_full_read("hr", {person("2", "b@example.com")}, 1, at(200));
  copy->journal_intents("p-1", {revoke_action("k1")}, at(200));
  EXPECT_EQ(copy->load_identities().size(), 2u);
  copy.reset();
  reopen();
  EXPECT_EQ(store_->load_identities().size(), 1u);
  EXPECT_TRUE(store_->pending_intents().empty());
}

TEST_F(StoreTest, ScratchCopyOfAMissingFileIsAnEmptyStoreAndCreatesNoFile) {
  const auto missing = dir_ / "never-created.db";
  auto copy = Store::open_scratch_copy(missing);
  EXPECT_TRUE(copy->load_identities().empty());
  EXPECT_FALSE(std::filesystem::exists(missing));
}

}  // namespace
}  // namespace keywarden

namespace keywarden {
namespace {

TEST_F(StoreTest, ABatchCommitsEveryItemOnceAndAFailingItemLosesOnlyItsOwnWork) {
  store_->batch([&] {
    store_->batch_item([&] { store_->apply_identity_update("idp-c", person("1", "a@example.com"), false, at(10)); });
    EXPECT_THROW(store_->batch_item([&] {
      store_->apply_identity_update("idp-c", person("2", "b@example.com"), false, at(10));
      throw std::runtime_error("this push is refused");
    }),
                 std::runtime_error);
    store_->batch_item([&] { EXPECT_TRUE(store_->remember_event("idp-c", "evt-1", at(10))); });
  });
  reopen();
  EXPECT_TRUE(store_->load_identity("idp-c", "1").has_value());
  EXPECT_FALSE(store_->load_identity("idp-c", "2").has_value());
  EXPECT_FALSE(store_->remember_event("idp-c", "evt-1", at(11)));
}

TEST_F(StoreTest, AFailedBatchLeavesNothingBehind) {
  EXPECT_THROW(store_->batch([&] {
    store_->apply_identity_update("idp-c", person("1", "a@example.com"), false, at(10));
    throw std::runtime_error("disk gone");
  }),
               std::runtime_error);
  reopen();
  EXPECT_FALSE(store_->load_identity("idp-c", "1").has_value());
}

}  // namespace
}  // namespace keywarden

// The SCIM repository kept in keywarden's Store (migration 2), and the
// service running on it. Each test is named after the failure it guards.
#include "connectors/scim/store_scim_repository.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>

#include "connectors/scim/scim_test_client.h"
#include "daemon/store/schema.h"
#include "daemon/store/schema_history_test.h"

namespace keywarden {
namespace {

using nlohmann::json;
using scim_test::at;
using scim_test::Reply;
using scim_test::ScimTestClient;

class StoreScimRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-scim-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_file_ = dir_ / "keywarden.db";
    store_ = Store::open(db_file_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs SQL on a second connection, as an older keywarden or an operator would.
  void raw(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_file_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  // The repository of `source` for one request, as ScimSource builds it.
  struct Request {
    Request(Store& store, const std::string& source)
        : resources(store, source), known(store, source), repo(resources, known, changes) {}
    PushedResources resources;
    SourceFacts known;
    IdentityChanges changes;
    StoreScimRepository repo;
  };

  // What the daemon does once a request is answered: apply its facts.
  void apply(Request& request, Timestamp now) {
    store_->apply_changes(request.resources.source(), request.changes, now, true);
    request.changes = IdentityChanges{};
  }

  // Undoes the migrations after 3 (stale team memberships, the compromised
  // status, the CHECKs without temporary tables), so that the database is as an older keywarden left it.
  void undo_migrations_after_three() {
    raw("DROP TABLE stale_team_memberships;"
        "PRAGMA writable_schema = ON;" + std::string(schema_history::kChecksOfVersion5) +
        schema_history::kStatusCheckOfVersion4 +
        "PRAGMA writable_schema = OFF;"
        "DELETE FROM schema_migrations WHERE version > 3; PRAGMA user_version = 3;");
  }

  std::filesystem::path dir_;
  std::filesystem::path db_file_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreScimRepositoryTest, MigrationTwoUpgradesAVersionOneDatabaseKeepingItsData) {
  store_->apply_identity_update("corp-okta", Identity{"00u1", "a", "a@x.com", IdentityStatus::active, "", {"g"}},
                                true, at(100));
  store_.reset();
  // What a keywarden with only migration 1 left behind (migration 1 is frozen,
  // so undoing migrations 2 and 3 gives exactly that database).
  undo_migrations_after_three();
  raw("DROP TABLE pushed_resources; DROP TABLE pushed_emails; DROP TABLE pushed_members;"
      "DELETE FROM schema_migrations WHERE version >= 2; PRAGMA user_version = 1;");
  store_ = Store::open(db_file_);
  EXPECT_EQ(store_->schema_version(), schema::latest_version());
  const std::optional<IdentityRecord> kept = store_->load_identity("corp-okta", "00u1");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->email, "a@x.com");
  Request request(*store_, "corp-scim");
  StoreScimRepository& repo = request.repo;
  const ScimRecord put = repo.put(ScimResourceType::user, "u1", "{}", {"a", "", "", {"a@x.com"}}, at(200));
  EXPECT_EQ(put.version, 1);
}

TEST_F(StoreScimRepositoryTest, MigrationThreeRenamesTheTablesKeepingTheirRows) {
  {
    Request request(*store_, "corp-scim");
    request.repo.put(ScimResourceType::user, "u1", R"({"a":1})", {"alice", "", "", {"a@x.com"}}, at(1));
    request.repo.put(ScimResourceType::group, "g1", "{}", {"", "", "g", {}}, at(1));
    request.repo.put_member("g1", {"u1", R"({"value":"u1"})"});
  }
  store_.reset();
  // A database as migration 2 left it: the old names, version 2.
  undo_migrations_after_three();
  raw("ALTER TABLE pushed_resources RENAME TO scim_resources; ALTER TABLE pushed_emails RENAME TO scim_emails;"
      "ALTER TABLE pushed_members RENAME TO scim_members;"
      "DROP INDEX pushed_resources_by_id; DROP INDEX pushed_resources_by_age;"
      "DROP INDEX pushed_resources_by_user_name; DROP INDEX pushed_resources_by_external_id;"
      "DROP INDEX pushed_resources_by_display_name; DROP INDEX pushed_emails_by_email;"
      "DROP INDEX pushed_members_by_member;"
      "CREATE UNIQUE INDEX scim_resources_by_id ON scim_resources (source, type, id);"
      "CREATE INDEX scim_resources_by_age ON scim_resources (source, type, created, id);"
      "CREATE INDEX scim_resources_by_user_name ON scim_resources (source, type, user_name_lower);"
      "CREATE INDEX scim_resources_by_external_id ON scim_resources (source, type, external_id);"
      "CREATE INDEX scim_resources_by_display_name ON scim_resources (source, type, display_name_lower);"
      "CREATE INDEX scim_emails_by_email ON scim_emails (source, type, email);"
      "CREATE INDEX scim_members_by_member ON scim_members (source, member_id, group_id);"
      "DELETE FROM schema_migrations WHERE version = 3; PRAGMA user_version = 2;");
  store_ = Store::open(db_file_);
  EXPECT_EQ(store_->schema_version(), schema::latest_version());
  Request request(*store_, "corp-scim");
  ASSERT_TRUE(request.repo.get(ScimResourceType::user, "u1"));
  EXPECT_EQ(request.repo.get(ScimResourceType::user, "u1")->json, R"({"a":1})");
  EXPECT_EQ(request.repo.find(ScimResourceType::user, ScimLookup::email, "a@x.com").size(), 1u);
  EXPECT_EQ(request.repo.groups_with_member("u1"), std::vector<std::string>{"g1"});
}

TEST_F(StoreScimRepositoryTest, IdentityFactsWaitForTheApplyAndGoThroughIt) {
  Request request(*store_, "corp-entra");
  ScimTestClient client(&request.repo);
  const std::string user = client.create_user("bob@example.com", "Bob@Example.com");
  EXPECT_FALSE(store_->load_identity("corp-entra", user)) << "a connector writes no identity itself";
  ASSERT_EQ(request.changes.identities.size(), 1u);
  EXPECT_TRUE(request.repo.load_identity(user)) << "but the request reads what it decided";
  apply(request, client.now);
  ASSERT_TRUE(store_->load_identity("corp-entra", user));
  EXPECT_EQ(store_->load_identity("corp-entra", user)->email, "bob@example.com");
}

TEST_F(StoreScimRepositoryTest, FindAnswersOldestFirstThenById) {
  Request request(*store_, "corp-scim");
  StoreScimRepository& repo = request.repo;
  repo.put(ScimResourceType::user, "u3", "{}", {"same", "x", "", {"same@x.com"}}, at(30));
  repo.put(ScimResourceType::user, "u2", "{}", {"same", "x", "", {"same@x.com"}}, at(10));
  repo.put(ScimResourceType::user, "u1", "{}", {"same", "x", "", {"same@x.com"}}, at(30));
  for (const ScimLookup lookup : {ScimLookup::user_name, ScimLookup::external_id, ScimLookup::email}) {
    const std::string value = lookup == ScimLookup::email ? "same@x.com" : lookup == ScimLookup::user_name ? "same" : "x";
    std::vector<std::string> ids;
    for (const ScimRecord& record : repo.find(ScimResourceType::user, lookup, value)) ids.push_back(record.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"u2", "u1", "u3"})) << value;
  }
}

TEST_F(StoreScimRepositoryTest, PutKeepsCreatedAndCountsVersions) {
  Request request(*store_, "corp-scim");
  StoreScimRepository& repo = request.repo;
  ScimRecord first = repo.put(ScimResourceType::user, "u1", R"({"a":1})", {"alice", "ext", "", {"a@x.com"}}, at(10));
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(first.created, at(10));
  ScimRecord second = repo.put(ScimResourceType::user, "u1", R"({"a":2})", {"alice", "ext", "", {"b@x.com"}}, at(20));
  EXPECT_EQ(second.version, 2);
  EXPECT_EQ(second.created, at(10));
  EXPECT_EQ(second.modified, at(20));
  const std::optional<ScimRecord> stored = repo.get(ScimResourceType::user, "u1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->json, R"({"a":2})");
  EXPECT_EQ(stored->version, second.version) << "put answers what it stored";
  EXPECT_EQ(stored->created, second.created);
  EXPECT_EQ(stored->modified, second.modified);
  EXPECT_TRUE(repo.find(ScimResourceType::user, ScimLookup::email, "a@x.com").empty()) << "old email key replaced";
  EXPECT_EQ(repo.find(ScimResourceType::user, ScimLookup::email, "b@x.com").size(), 1u);
  EXPECT_EQ(repo.find(ScimResourceType::user, ScimLookup::user_name, "alice").size(), 1u);
  EXPECT_EQ(repo.find(ScimResourceType::user, ScimLookup::external_id, "ext").size(), 1u);
  EXPECT_TRUE(repo.find(ScimResourceType::user, ScimLookup::external_id, "").empty());
  EXPECT_FALSE(repo.get(ScimResourceType::group, "u1")) << "types are separate";
}

TEST_F(StoreScimRepositoryTest, SourcesDoNotSeeEachOther) {
  Request ra(*store_, "scim-a"), rb(*store_, "scim-b");
  StoreScimRepository &a = ra.repo, &b = rb.repo;
  a.put(ScimResourceType::user, "u1", "{}", {"alice", "", "", {}}, at(1));
  EXPECT_FALSE(b.get(ScimResourceType::user, "u1"));
  EXPECT_TRUE(b.find(ScimResourceType::user, ScimLookup::user_name, "alice").empty());
  EXPECT_EQ(b.list(ScimResourceType::user, 0, 10).total, 0);
}

TEST_F(StoreScimRepositoryTest, ListPagesInCreationOrder) {
  Request request(*store_, "s");
  StoreScimRepository& repo = request.repo;
  for (int i = 0; i < 5; ++i) repo.put(ScimResourceType::group, "g" + std::to_string(4 - i), "{}", {}, at(i));
  const ScimPage page = repo.list(ScimResourceType::group, 1, 2);
  EXPECT_EQ(page.total, 5);
  ASSERT_EQ(page.records.size(), 2u);
  EXPECT_EQ(page.records[0].id, "g3");
  EXPECT_EQ(page.records[1].id, "g2");
}

TEST_F(StoreScimRepositoryTest, RemovingAGroupRemovesItsMemberRows) {
  Request request(*store_, "s");
  StoreScimRepository& repo = request.repo;
  repo.put(ScimResourceType::group, "g1", "{}", {}, at(1));
  repo.put_member("g1", {"u1", R"({"value":"u1"})"});
  repo.put_member("g1", {"u2", R"({"value":"u2"})"});
  EXPECT_EQ(repo.groups_with_member("u1"), std::vector<std::string>{"g1"});
  EXPECT_TRUE(repo.remove_member("g1", "u2"));
  EXPECT_FALSE(repo.remove_member("g1", "u2"));
  EXPECT_TRUE(repo.remove(ScimResourceType::group, "g1"));
  EXPECT_FALSE(repo.remove(ScimResourceType::group, "g1"));
  EXPECT_TRUE(repo.members("g1").empty());
  EXPECT_TRUE(repo.groups_with_member("u1").empty());
}

TEST_F(StoreScimRepositoryTest, EntraSequenceLandsInTheStoreAndSurvivesReopen) {
  {
    Request request(*store_, "corp-entra");
  StoreScimRepository& repo = request.repo;
    ScimTestClient client(&repo);
    const std::string user = client.create_user("alice@example.com", "Alice@Example.com");
    const std::string group = client.create_group("palette-users", {user});
    apply(request, client.now);
    std::optional<IdentityRecord> identity = store_->load_identity("corp-entra", user);
    ASSERT_TRUE(identity);
    EXPECT_EQ(identity->email, "alice@example.com");
    ASSERT_EQ(identity->memberships.size(), 1u);
    EXPECT_FALSE(identity->memberships[0].removed_at);

    client.now += std::chrono::seconds(60);
    Reply r = client.send("PATCH", "/Users/" + user,
                          json::parse(R"({"Operations":[{"op":"Replace","path":"active","value":"False"}]})"));
    EXPECT_EQ(r.status(), 200);
    r = client.send("PATCH", "/Groups/" + group, json::parse(R"({"Operations":[
        {"op":"Remove","path":"members","value":[{"value":")" + user + R"("}]}]})"));
    EXPECT_EQ(r.status(), 204);
    apply(request, client.now);
    identity = store_->load_identity("corp-entra", user);
    EXPECT_EQ(identity->status, IdentityStatus::inactive);
    EXPECT_EQ(identity->status_since, client.now);
    ASSERT_EQ(identity->memberships.size(), 1u);
    EXPECT_EQ(identity->memberships[0].removed_at, client.now);
    EXPECT_EQ(store_->load_identities_by_email("ALICE@example.com").size(), 1u);
  }
  store_.reset();
  store_ = Store::open(db_file_);
  Request request(*store_, "corp-entra");
  StoreScimRepository& repo = request.repo;
  ScimTestClient client(&repo);
  const Reply found = client.send("GET", "/Users?filter=userName%20eq%20%22Alice@example.com%22");
  EXPECT_EQ(found.body["totalResults"], 1);
  EXPECT_EQ(found.body["Resources"][0]["active"], false);
  const Reply deleted = client.send("DELETE", "/Users/" + found.body["Resources"][0]["id"].get<std::string>());
  EXPECT_EQ(deleted.status(), 204);
  apply(request, client.now);
  EXPECT_EQ(store_->load_identities_by_email("alice@example.com")[0].status, IdentityStatus::deleted);
}

// The lookups a large group change makes by key (issue 13), on SQLite: the
// members asked for, the users among ids with their join emails, and the
// memberships reported as facts for Store::apply_changes.
TEST_F(StoreScimRepositoryTest, GroupChangesLookUpOnlyTheNamedMembersAndUsers) {
  Request request(*store_, "corp");
  StoreScimRepository& repo = request.repo;
  ScimTestClient client(&repo);
  const std::string a = client.create_user("a@x.com", "A.Work@X.com"), b = client.create_user("b@x.com");
  const std::string gone = client.create_user("gone@x.com");
  ASSERT_EQ(client.send("DELETE", "/Users/" + gone).status(), 204);
  const std::string group = client.create_group("palette-users", {a, b, "not-a-user"});
  apply(request, client.now);

  const std::vector<ScimMemberRecord> named = repo.members_among(group, {b, "not-a-user", "absent", b});
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].member_id, b);
  EXPECT_EQ(named[1].member_id, "not-a-user");
  EXPECT_EQ(named[1].json, "");  // {"value": id} alone: the row keeps nothing more

  // A deleted user keeps an identity row but is no user any more; a nested
  // group or dangling id never was one.
  const std::vector<ScimUserEmail> users = repo.user_emails({gone, "not-a-user", b, a, a});
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].id, std::min(a, b));
  const auto email_of = [&](const std::string& id) {
    for (const ScimUserEmail& user : users) {
      if (user.id == id) return user.email;
    }
    return std::string("?");
  };
  EXPECT_EQ(email_of(a), "a.work@x.com");
  EXPECT_EQ(email_of(b), "b@x.com");

  repo.set_memberships(users, "admins", true, at(500));
  apply(request, at(500));
  repo.set_memberships(repo.user_emails({a}), "admins", false, at(600));
  apply(request, at(600));
  const std::optional<IdentityRecord> left = store_->load_identity("corp", a);
  const std::optional<IdentityRecord> stayed = store_->load_identity("corp", b);
  ASSERT_TRUE(left && stayed);
  const auto admins = [](const IdentityRecord& record) {
    for (const MembershipRecord& m : record.memberships) {
      if (m.group == "admins") return m;
    }
    return MembershipRecord{};
  };
  EXPECT_EQ(admins(*left).removed_at, at(600));
  EXPECT_EQ(admins(*stayed).first_seen, at(500));
  EXPECT_FALSE(admins(*stayed).removed_at.has_value());
}

// A large group change goes to SQLite many rows per statement (issue 13):
// every row of a run that crosses each batch size is written, read back in
// id order, updated and removed, and an id asked for twice counts once.
TEST_F(StoreScimRepositoryTest, ManyMemberRowsAreWrittenReadAndRemovedInBatches) {
  Request request(*store_, "corp");
  StoreScimRepository& repo = request.repo;
  std::vector<ScimMemberRecord> rows;
  std::vector<std::string> ids;
  for (int i = 302; i >= 0; --i) {  // 256 + 32 + 3 × 4 + 3 × 1, not in order
    const std::string id = "m" + std::to_string(1000 + i);
    rows.push_back({id, R"({"value":")" + id + R"("})"});
    ids.push_back(id);
  }
  repo.put_members("g1", rows);
  ids.push_back("absent");
  ids.push_back(ids.front());
  std::vector<ScimMemberRecord> found = repo.members_among("g1", ids);
  ASSERT_EQ(found.size(), 303u);
  for (size_t i = 0; i < found.size(); ++i) EXPECT_EQ(found[i].member_id, "m" + std::to_string(1000 + i));
  EXPECT_EQ(repo.members("g1").size(), 303u);

  rows.resize(40);  // m1302 … m1263, now with a display name
  for (ScimMemberRecord& row : rows) row.json = R"({"display":"changed"})";
  repo.put_members("g1", rows);
  EXPECT_EQ(repo.members_among("g1", {"m1300"})[0].json, R"({"display":"changed"})");
  EXPECT_EQ(repo.members_among("g1", {"m1000"})[0].json, R"({"value":"m1000"})");

  std::vector<std::string> leaving(ids.begin(), ids.begin() + 270);
  leaving.push_back(leaving.front());
  EXPECT_EQ(repo.remove_members("g1", leaving), 270u);
  EXPECT_EQ(repo.members("g1").size(), 33u);
  EXPECT_FALSE(repo.remove_member("g1", ids.front()));
  EXPECT_TRUE(repo.remove_member("g1", "m1000"));
}

// Memberships written many per statement keep the order of the changes: a
// join then a leave of one person in one request ends outside the group,
// a leave then a join inside it, as with one statement per change.
TEST_F(StoreScimRepositoryTest, BatchedMembershipChangesKeepTheirOrder) {
  Request request(*store_, "corp");
  ScimTestClient client(&request.repo);
  std::vector<std::string> users;
  for (int i = 0; i < 300; ++i) users.push_back(client.create_user("u" + std::to_string(i) + "@x.com"));
  apply(request, client.now);

  IdentityChanges changes;
  for (const std::string& id : users) changes.memberships.push_back({id, "admins", true, "", "", true});
  changes.memberships.push_back({users[0], "admins", false, "", "", true});
  changes.memberships.push_back({users[1], "ops", true, "", "", true});
  changes.memberships.push_back({users[1], "ops", false, "", "", true});
  changes.memberships.push_back({users[1], "ops", true, "", "", true});
  store_->apply_changes("corp", changes, at(700), true);

  const auto current = [&](const std::string& id, const std::string& group) {
    const std::optional<IdentityRecord> record = store_->load_identity("corp", id);
    for (const MembershipRecord& m : record->memberships) {
      if (m.group == group) return !m.removed_at.has_value();
    }
    return false;
  };
  EXPECT_FALSE(current(users[0], "admins"));
  EXPECT_TRUE(current(users[1], "admins"));
  EXPECT_TRUE(current(users[299], "admins"));
  EXPECT_TRUE(current(users[1], "ops"));
}

}  // namespace
}  // namespace keywarden

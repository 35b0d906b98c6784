// The SCIM repository kept in keywarden's Store (migration 2), and the
// service running on it. Each test is named after the failure it guards.
#include "connectors/scim/store_scim_repository.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>

#include "connectors/scim/scim_test_client.h"

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

  std::filesystem::path dir_;
  std::filesystem::path db_file_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreScimRepositoryTest, MigrationTwoUpgradesAVersionOneDatabaseKeepingItsData) {
  store_->apply_identity_update("corp-okta", Identity{"00u1", "a", "a@x.com", IdentityStatus::active, "", {"g"}},
                                true, at(100));
  store_.reset();
  // What a keywarden with only migration 1 left behind (migration 1 is frozen,
  // so undoing migration 2 gives exactly that database).
  raw("DROP TABLE scim_resources; DROP TABLE scim_emails; DROP TABLE scim_members;"
      "DELETE FROM schema_migrations WHERE version = 2; PRAGMA user_version = 1;");
  store_ = Store::open(db_file_);
  EXPECT_EQ(store_->schema_version(), 2);
  const std::optional<IdentityRecord> kept = store_->load_identity("corp-okta", "00u1");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->email, "a@x.com");
  StoreScimRepository repo(*store_, "corp-scim");
  const ScimRecord put = repo.put(ScimResourceType::user, "u1", "{}", {"a", "", "", {"a@x.com"}}, at(200));
  EXPECT_EQ(put.version, 1);
}

TEST_F(StoreScimRepositoryTest, PutKeepsCreatedAndCountsVersions) {
  StoreScimRepository repo(*store_, "corp-scim");
  ScimRecord first = repo.put(ScimResourceType::user, "u1", R"({"a":1})", {"alice", "ext", "", {"a@x.com"}}, at(10));
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(first.created, at(10));
  ScimRecord second = repo.put(ScimResourceType::user, "u1", R"({"a":2})", {"alice", "ext", "", {"b@x.com"}}, at(20));
  EXPECT_EQ(second.version, 2);
  EXPECT_EQ(second.created, at(10));
  EXPECT_EQ(second.modified, at(20));
  EXPECT_EQ(repo.get(ScimResourceType::user, "u1")->json, R"({"a":2})");
  EXPECT_TRUE(repo.find(ScimResourceType::user, ScimLookup::email, "a@x.com").empty()) << "old email key replaced";
  EXPECT_EQ(repo.find(ScimResourceType::user, ScimLookup::email, "b@x.com").size(), 1u);
  EXPECT_EQ(repo.find(ScimResourceType::user, ScimLookup::user_name, "alice").size(), 1u);
  EXPECT_EQ(repo.find(ScimResourceType::user, ScimLookup::external_id, "ext").size(), 1u);
  EXPECT_TRUE(repo.find(ScimResourceType::user, ScimLookup::external_id, "").empty());
  EXPECT_FALSE(repo.get(ScimResourceType::group, "u1")) << "types are separate";
}

TEST_F(StoreScimRepositoryTest, SourcesDoNotSeeEachOther) {
  StoreScimRepository a(*store_, "scim-a"), b(*store_, "scim-b");
  a.put(ScimResourceType::user, "u1", "{}", {"alice", "", "", {}}, at(1));
  EXPECT_FALSE(b.get(ScimResourceType::user, "u1"));
  EXPECT_TRUE(b.find(ScimResourceType::user, ScimLookup::user_name, "alice").empty());
  EXPECT_EQ(b.list(ScimResourceType::user, 0, 10).total, 0);
}

TEST_F(StoreScimRepositoryTest, ListPagesInCreationOrder) {
  StoreScimRepository repo(*store_, "s");
  for (int i = 0; i < 5; ++i) repo.put(ScimResourceType::group, "g" + std::to_string(4 - i), "{}", {}, at(i));
  const ScimPage page = repo.list(ScimResourceType::group, 1, 2);
  EXPECT_EQ(page.total, 5);
  ASSERT_EQ(page.records.size(), 2u);
  EXPECT_EQ(page.records[0].id, "g3");
  EXPECT_EQ(page.records[1].id, "g2");
}

TEST_F(StoreScimRepositoryTest, RemovingAGroupRemovesItsMemberRows) {
  StoreScimRepository repo(*store_, "s");
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
    StoreScimRepository repo(*store_, "corp-entra");
    ScimTestClient client(&repo);
    const std::string user = client.create_user("alice@example.com", "Alice@Example.com");
    const std::string group = client.create_group("palette-users", {user});
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
    identity = store_->load_identity("corp-entra", user);
    EXPECT_EQ(identity->status, IdentityStatus::inactive);
    EXPECT_EQ(identity->status_since, client.now);
    ASSERT_EQ(identity->memberships.size(), 1u);
    EXPECT_EQ(identity->memberships[0].removed_at, client.now);
    EXPECT_EQ(store_->load_identities_by_email("ALICE@example.com").size(), 1u);
  }
  store_.reset();
  store_ = Store::open(db_file_);
  StoreScimRepository repo(*store_, "corp-entra");
  ScimTestClient client(&repo);
  const Reply found = client.send("GET", "/Users?filter=userName%20eq%20%22Alice@example.com%22");
  EXPECT_EQ(found.body["totalResults"], 1);
  EXPECT_EQ(found.body["Resources"][0]["active"], false);
  const Reply deleted = client.send("DELETE", "/Users/" + found.body["Resources"][0]["id"].get<std::string>());
  EXPECT_EQ(deleted.status(), 204);
  EXPECT_EQ(store_->load_identities_by_email("alice@example.com")[0].status, IdentityStatus::deleted);
}

}  // namespace
}  // namespace keywarden

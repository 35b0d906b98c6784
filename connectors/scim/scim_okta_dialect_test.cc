// Okta's SCIM client replayed as Okta documents it (reference/idp-protocols.md
// §1.5; okta-developer-docs .../docs/reference/scim/scim-20/index.md).
#include <gtest/gtest.h>

#include "connectors/scim/scim_test_client.h"

namespace keywarden {
namespace {

using nlohmann::json;
using scim_test::Reply;
using scim_test::ScimTestClient;

constexpr const char* kOktaCreate = R"({
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": "test.user@okta.local",
  "name": {"givenName": "Test", "familyName": "User"},
  "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
  "displayName": "Test User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true
})";

class OktaSequenceTest : public ::testing::Test {
 protected:
  std::string provision_user() {
    const Reply query = client_.send(
        "GET", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100");
    EXPECT_EQ(query.status(), 200);
    EXPECT_TRUE(query.body["totalResults"].is_number_integer());
    EXPECT_TRUE(query.body["itemsPerPage"].is_number_integer());
    EXPECT_TRUE(query.body["startIndex"].is_number_integer());
    EXPECT_EQ(query.body["totalResults"], 0);
    const Reply created = client_.send("POST", "/Users", std::string(kOktaCreate));
    EXPECT_EQ(created.status(), 201) << created.response.body;
    EXPECT_FALSE(created.response.body.empty()) << "Okta treats an empty create answer as an error";
    EXPECT_EQ(created.body["externalId"], "00ujl29u0le5T6Aj10h7");
    EXPECT_FALSE(created.body.contains("password"));
    return created.body["id"].get<std::string>();
  }

  ScimTestClient client_;
};

TEST_F(OktaSequenceTest, QueryCreateAndDuplicateCreate) {
  const std::string id = provision_user();
  const Reply again = client_.send(
      "GET", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100");
  EXPECT_EQ(again.body["totalResults"], 1);
  EXPECT_EQ(again.body["Resources"][0]["id"], id);
  const Reply duplicate = client_.send("POST", "/Users", std::string(kOktaCreate));
  EXPECT_EQ(duplicate.status(), 409);
  EXPECT_EQ(duplicate.body["scimType"], "uniqueness");
}

TEST_F(OktaSequenceTest, OinDeactivateIsAPathlessReplace) {
  const std::string id = provision_user();
  const Reply r = client_.send("PATCH", "/Users/" + id, json::parse(R"({
      "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations":[{"op":"replace","value":{"active":false}}]})"));
  EXPECT_EQ(r.status(), 200) << r.response.body;
  EXPECT_EQ(r.body["active"], false);
  EXPECT_TRUE(r.response.deprovisioned);
  EXPECT_EQ(r.response.affected_emails, std::set<std::string>{"test.user@okta.local"});
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::inactive);
}

TEST_F(OktaSequenceTest, AiwDeactivatesWithAFullPut) {
  const std::string id = provision_user();
  json body = json::parse(kOktaCreate);
  body.erase("password");
  body["id"] = id;
  body["active"] = false;
  const Reply r = client_.send("PUT", "/Users/" + id, body);
  EXPECT_EQ(r.status(), 200) << r.response.body;
  EXPECT_EQ(r.body["active"], false);
  EXPECT_TRUE(r.response.deprovisioned);
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::inactive);
  // The same PUT again (a retry) succeeds and still reports the leaver.
  const Reply again = client_.send("PUT", "/Users/" + id, body);
  EXPECT_EQ(again.status(), 200);
  EXPECT_TRUE(again.response.deprovisioned);
}

TEST_F(OktaSequenceTest, GroupPushRemovesByFilterAndAddsInOneRequest) {
  const std::string a = provision_user();
  const std::string b = client_.create_user("second@okta.local");
  const Reply lookup = client_.send("GET", "/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100");
  EXPECT_EQ(lookup.body["totalResults"], 0);
  const std::string group = client_.create_group("Test SCIMv2", {a});
  const Reply r = client_.send("PATCH", "/Groups/" + group, json::parse(R"({
      "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
      {"op":"remove","path":"members[value eq \")" + a + R"(\"]"},
      {"op":"add","path":"members","value":[{"value":")" + b + R"(","display":"second@okta.local"}]}]})"));
  EXPECT_EQ(r.status(), 204) << r.response.body;
  EXPECT_TRUE(r.response.deprovisioned);
  EXPECT_EQ(r.response.affected_emails, (std::set<std::string>{"second@okta.local", "test.user@okta.local"}));
  EXPECT_TRUE(client_.memory().current_groups(a).empty());
  EXPECT_EQ(client_.memory().current_groups(b), std::vector<std::string>{"Test SCIMv2"});
}

TEST_F(OktaSequenceTest, PathlessReplaceOfIdAndDisplayNameOnEachMembershipUpdate) {
  const std::string a = provision_user();
  const std::string group = client_.create_group("Test SCIMv2", {a});
  const Reply r = client_.send("PATCH", "/Groups/" + group, json::parse(R"({
      "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations":[{"op":"replace","value":{"id":")" + group + R"(","displayName":"Test SCIMv2"}}]})"));
  EXPECT_EQ(r.status(), 204) << r.response.body;
  EXPECT_FALSE(r.response.deprovisioned);
  EXPECT_EQ(client_.memory().current_groups(a), std::vector<std::string>{"Test SCIMv2"});
}

TEST_F(OktaSequenceTest, AiwGroupPutWithTheFullMemberListMakesRemovalImplicit) {
  const std::string a = provision_user();
  const std::string b = client_.create_user("b@okta.local");
  const std::string group = client_.create_group("Test SCIMv2", {a, b});
  const Reply r = client_.send("PUT", "/Groups/" + group, json::parse(R"({
      "schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":")" + group + R"(",
      "displayName":"Test SCIMv2","members":[{"value":")" + b + R"(","display":"b@okta.local"}]})"));
  EXPECT_EQ(r.status(), 200) << r.response.body;
  EXPECT_EQ(r.body["members"].size(), 1u);
  EXPECT_TRUE(r.response.deprovisioned);
  EXPECT_EQ(r.response.affected_emails, std::set<std::string>{"test.user@okta.local"});
  EXPECT_TRUE(client_.memory().current_groups(a).empty());
  EXPECT_EQ(client_.memory().current_groups(b), std::vector<std::string>{"Test SCIMv2"});
}

TEST_F(OktaSequenceTest, GroupsArePagedWithIntegerTotals) {
  for (int i = 0; i < 3; ++i) client_.create_group("group-" + std::to_string(i));
  const Reply r = client_.send("GET", "/Groups?startIndex=1&count=100");
  EXPECT_EQ(r.body["totalResults"], 3);
  EXPECT_EQ(r.body["itemsPerPage"], 3);
  EXPECT_EQ(r.body["Resources"][0]["displayName"], "group-0");
}

}  // namespace
}  // namespace keywarden

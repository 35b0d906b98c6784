// Microsoft Entra ID's provisioning sequence replayed as Microsoft documents
// it (reference/idp-protocols.md §1.4; MicrosoftDocs/entra-docs
// use-scim-to-provision-users-and-groups.md and
// application-provisioning-config-problem-scim-compatibility.md).
#include <gtest/gtest.h>

#include "connectors/scim/scim_test_client.h"

namespace keywarden {
namespace {

using nlohmann::json;
using scim_test::Reply;
using scim_test::ScimTestClient;

constexpr const char* kCreateUser = R"({
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
  "active": true,
  "emails": [{"primary": true, "type": "work",
              "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
  "meta": {"resourceType": "User"},
  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
  "roles": []
})";

class EntraSequenceTest : public ::testing::Test {
 protected:
  // Matching query, then the create Entra sends when it finds nothing.
  std::string provision_user() {
    const Reply query = client_.send(
        "GET", "/Users?filter=userName%20eq%20%22Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1%22");
    EXPECT_EQ(query.status(), 200);
    EXPECT_EQ(query.body["totalResults"], 0);
    EXPECT_EQ(query.body["Resources"], json::array());
    const Reply created = client_.send("POST", "/Users", std::string(kCreateUser));
    EXPECT_EQ(created.status(), 201) << created.response.body;
    EXPECT_EQ(created.body["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    return created.body["id"].get<std::string>();
  }

  ScimTestClient client_;
};

TEST_F(EntraSequenceTest, CreateDisableGroupRemoveAndHardDelete) {
  const std::string id = provision_user();
  EXPECT_EQ(client_.identity(id).email, "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com");
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::active);

  // The matching query now finds the user, in any case, and by work email.
  Reply query = client_.send("GET", "/Users?filter=userName eq \"test_user_AB6490EE-1e48-479e-a20b-2d77186b5dd1\"");
  EXPECT_EQ(query.body["totalResults"], 1);
  query = client_.send("GET",
                       "/Users?filter=emails[type eq \"work\"].value eq "
                       "\"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com\"");
  EXPECT_EQ(query.body["totalResults"], 1);

  // Groups: matching query without members, create with empty members, add.
  query = client_.send("GET", "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Group1DisplayName%22");
  EXPECT_EQ(query.body["totalResults"], 0);
  const Reply group = client_.send("POST", "/Groups", json::parse(R"({
      "schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
      "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Group1DisplayName",
      "meta":{"resourceType":"Group"},"members":[]})"));
  ASSERT_EQ(group.status(), 201) << group.response.body;
  const std::string group_id = group.body["id"];
  const Reply added = client_.send("PATCH", "/Groups/" + group_id, json::parse(R"({
      "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations":[{"name":"addMember","op":"Add","path":"members",
                     "value":[{"$ref":null,"value":")" + id + R"("}]}]})"));
  EXPECT_EQ(added.status(), 204) << added.response.body;
  EXPECT_EQ(client_.memory().current_groups(id), std::vector<std::string>{"Group1DisplayName"});
  query = client_.send("GET", "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22group1displayname%22");
  EXPECT_EQ(query.body["totalResults"], 1);
  EXPECT_FALSE(query.body["Resources"][0].contains("members"));

  // Disable, default (non-compliant) form: the string "False".
  const Reply disabled = client_.send("PATCH", "/Users/" + id, json::parse(R"({
      "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations":[{"op":"Replace","path":"active","value":"False"}]})"));
  EXPECT_EQ(disabled.status(), 200) << disabled.response.body;
  EXPECT_EQ(disabled.body["active"], false);
  EXPECT_TRUE(disabled.response.deprovisioned);
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::inactive);
  // Microsoft asks that inactive users stay readable.
  EXPECT_EQ(client_.send("GET", "/Users/" + id).status(), 200);

  // Remove member, default (non-compliant) form: a value array.
  const Reply removed = client_.send("PATCH", "/Groups/" + group_id, json::parse(R"({
      "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations":[{"name":"removeMember","op":"Remove","path":"members",
                     "value":[{"$ref":null,"value":")" + id + R"("}]}]})"));
  EXPECT_EQ(removed.status(), 204);
  EXPECT_TRUE(removed.response.deprovisioned);
  EXPECT_EQ(removed.response.affected_emails,
            std::set<std::string>{"test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"});
  EXPECT_TRUE(client_.memory().current_groups(id).empty());
  // Entra retries: the same removal again is a success.
  EXPECT_EQ(client_.send("PATCH", "/Groups/" + group_id, json::parse(R"({"Operations":[
      {"op":"Remove","path":"members","value":[{"value":")" + id + R"("}]}]})")).status(), 204);

  // Hard delete after the soft-delete window.
  const Reply deleted = client_.send("DELETE", "/Users/" + id);
  EXPECT_EQ(deleted.status(), 204);
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::deleted);
  EXPECT_EQ(client_.send("GET", "/Users/" + id).status(), 404);
}

TEST_F(EntraSequenceTest, FlaggedCompliantForms) {
  const std::string id = provision_user();
  const std::string group = client_.create_group("g", {id});
  // ?aadOptscim062020: boolean value, lower-case op, multi-attribute replace.
  Reply r = client_.send("PATCH", "/Users/" + id, json::parse(R"({"Operations":[
      {"op":"replace","value":{"displayName":"New","name.givenName":"G",
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}},
      {"op":"replace","path":"active","value":false}]})"));
  EXPECT_EQ(r.status(), 200) << r.response.body;
  EXPECT_EQ(r.body["name"]["givenName"], "G");
  EXPECT_EQ(r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "7");
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::inactive);
  // Member removal by filter.
  r = client_.send("PATCH", "/Groups/" + group, json::parse(R"({"Operations":[
      {"op":"remove","path":"members[value eq \")" + id + R"(\"]"}]})"));
  EXPECT_EQ(r.status(), 204);
  EXPECT_TRUE(client_.memory().current_groups(id).empty());
}

TEST_F(EntraSequenceTest, ReEnableAfterDisable) {
  const std::string id = provision_user();
  client_.send("PATCH", "/Users/" + id, json::parse(R"({"Operations":[{"op":"Replace","path":"active","value":"False"}]})"));
  const Reply r = client_.send("PATCH", "/Users/" + id,
                               json::parse(R"({"Operations":[{"op":"Replace","path":"active","value":"True"}]})"));
  EXPECT_FALSE(r.response.deprovisioned);
  EXPECT_EQ(client_.identity(id).status, IdentityStatus::active);
}

}  // namespace
}  // namespace keywarden

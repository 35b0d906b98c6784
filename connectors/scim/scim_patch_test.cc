// SCIM PATCH in each dialect the IdPs send (reference/idp-protocols.md
// §1.4–1.5); each test is named after the dialect or mistake it guards.
#include "connectors/scim/scim_patch.h"

#include <gtest/gtest.h>

#include "connectors/scim/scim_error.h"

namespace keywarden {
namespace {

using nlohmann::json;

const json kUser = json::parse(R"({
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "u1", "userName": "alice@example.com", "active": true,
  "name": {"givenName": "Alice", "familyName": "Smith"},
  "emails": [{"value": "alice@example.com", "type": "work", "primary": true}]
})");

const json kGroup = json::parse(R"({
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "g1", "displayName": "palette-users",
  "members": [{"value": "u1", "display": "alice"}, {"value": "u2"}]
})");

json ops(json operations) {
  return {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}}, {"Operations", std::move(operations)}};
}

ScimPatchResult patch(const json& resource, json operations) {
  return apply_scim_patch(resource, ops(std::move(operations)));
}

std::string error_type(const json& resource, json operations) {
  try {
    patch(resource, std::move(operations));
  } catch (const ScimError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.scim_type();
  }
  return "no error";
}

TEST(ScimPatchTest, EntraDefaultDisableSendsTheStringFalseWithCapitalOp) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"Replace","path":"active","value":"False"}])"));
  EXPECT_EQ(r.resource["active"], false);
  EXPECT_TRUE(r.active_changed);
  EXPECT_TRUE(r.active_written);
}

TEST(ScimPatchTest, EntraFlaggedDisableSendsBooleanLowerCase) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"replace","path":"active","value":false}])"));
  EXPECT_EQ(r.resource["active"], false);
  EXPECT_TRUE(r.active_changed);
}

TEST(ScimPatchTest, ReEnableWithStringTrueInAnyCase) {
  json inactive = kUser;
  inactive["active"] = false;
  const ScimPatchResult r = patch(inactive, json::parse(R"([{"op":"REPLACE","path":"Active","value":"TRUE"}])"));
  EXPECT_EQ(r.resource["active"], true);
  EXPECT_TRUE(r.active_changed);
}

TEST(ScimPatchTest, OktaPathlessReplaceWithObjectValue) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"replace","value":{"active":false}}])"));
  EXPECT_EQ(r.resource["active"], false);
  EXPECT_TRUE(r.active_written);
}

TEST(ScimPatchTest, DeactivatingTwiceChangesNothingTheSecondTime) {
  const ScimPatchResult first = patch(kUser, json::parse(R"([{"op":"replace","path":"active","value":false}])"));
  const ScimPatchResult second =
      patch(first.resource, json::parse(R"([{"op":"replace","path":"active","value":false}])"));
  EXPECT_FALSE(second.active_changed);
  EXPECT_TRUE(second.active_written);
  EXPECT_EQ(second.resource, first.resource);
}

TEST(ScimPatchTest, EntraMultiAttributeReplaceWithDottedAndUrnKeys) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"replace","value":{
      "displayName":"Alice S","name.givenName":"Alicia","name.familyName":"S",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"42",
      "urn:ietf:params:scim:schemas:core:2.0:User:title":"Engineer"}}])"));
  EXPECT_EQ(r.resource["displayName"], "Alice S");
  EXPECT_EQ(r.resource["name"]["givenName"], "Alicia");
  EXPECT_EQ(r.resource["name"]["familyName"], "S");
  EXPECT_EQ(r.resource["title"], "Engineer");
  EXPECT_EQ(r.resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "42");
  EXPECT_NE(std::find(r.resource["schemas"].begin(), r.resource["schemas"].end(),
                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            r.resource["schemas"].end())
      << "the extension's URN joins schemas";
}

TEST(ScimPatchTest, ExtensionObjectKeyedByItsUrn) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"add","value":{
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"u9"}}}}])"));
  const json& enterprise = r.resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
  EXPECT_EQ(enterprise["department"], "R&D");
  EXPECT_EQ(enterprise["manager"]["value"], "u9");
}

TEST(ScimPatchTest, ReplaceOfComplexAttributeKeepsUnnamedSubAttributes) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"replace","path":"name","value":{"givenName":"Al"}}])"));
  EXPECT_EQ(r.resource["name"]["givenName"], "Al");
  EXPECT_EQ(r.resource["name"]["familyName"], "Smith");
}

TEST(ScimPatchTest, EntraWorkEmailThroughFilterUpdatesOrCreates) {
  ScimPatchResult r = patch(kUser, json::parse(
      R"([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice@new.example"}])"));
  EXPECT_EQ(r.resource["emails"][0]["value"], "alice@new.example");
  EXPECT_EQ(r.resource["emails"].size(), 1u);
  json no_emails = kUser;
  no_emails.erase("emails");
  r = patch(no_emails, json::parse(R"([{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.c"}])"));
  ASSERT_EQ(r.resource["emails"].size(), 1u);
  EXPECT_EQ(r.resource["emails"][0]["type"], "work");
  EXPECT_EQ(r.resource["emails"][0]["value"], "a@b.c");
}

TEST(ScimPatchTest, EntraDefaultMemberRemovalByValueArrayWithNullRef) {
  const ScimPatchResult r = patch(kGroup, json::parse(
      R"([{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"}]}])"));
  EXPECT_EQ(r.resource["members"].size(), 1u);
  EXPECT_EQ(r.members_removed, std::vector<std::string>{"u1"});
  EXPECT_TRUE(r.members_added.empty());
}

TEST(ScimPatchTest, EntraFlaggedMemberRemovalByFilter) {
  const ScimPatchResult r = patch(kGroup, json::parse(R"([{"op":"remove","path":"members[value eq \"u2\"]"}])"));
  EXPECT_EQ(r.members_removed, std::vector<std::string>{"u2"});
}

TEST(ScimPatchTest, RemovingAnAbsentMemberIsANoOp) {
  for (const char* op : {R"([{"op":"remove","path":"members[value eq \"nobody\"]"}])",
                         R"([{"op":"Remove","path":"members","value":[{"value":"nobody"}]}])"}) {
    const ScimPatchResult r = patch(kGroup, json::parse(op));
    EXPECT_TRUE(r.members_removed.empty()) << op;
    EXPECT_EQ(r.resource, kGroup) << op;
  }
}

TEST(ScimPatchTest, MemberValuesAreCaseExact) {
  const ScimPatchResult r = patch(kGroup, json::parse(R"([{"op":"remove","path":"members[value eq \"U1\"]"}])"));
  EXPECT_TRUE(r.members_removed.empty());
}

TEST(ScimPatchTest, AddMembersDeduplicates) {
  const ScimPatchResult r = patch(kGroup, json::parse(
      R"([{"op":"Add","path":"members","value":[{"value":"u1"},{"value":"u3","$ref":null},{"value":"u3"}]}])"));
  EXPECT_EQ(r.resource["members"].size(), 3u);
  EXPECT_EQ(r.members_added, std::vector<std::string>{"u3"});
}

TEST(ScimPatchTest, OktaRemoveByFilterAndAddInOneRequest) {
  const ScimPatchResult r = patch(kGroup, json::parse(R"([
      {"op":"remove","path":"members[value eq \"u1\"]"},
      {"op":"add","path":"members","value":[{"value":"u7","display":"test.user@okta.local"}]}])"));
  EXPECT_EQ(r.members_removed, std::vector<std::string>{"u1"});
  EXPECT_EQ(r.members_added, std::vector<std::string>{"u7"});
}

TEST(ScimPatchTest, ReplacingMembersWholesaleRemovesTheUnlisted) {
  const ScimPatchResult r = patch(kGroup, json::parse(R"([{"op":"replace","path":"members","value":[{"value":"u2"},{"value":"u5"}]}])"));
  EXPECT_EQ(r.members_removed, std::vector<std::string>{"u1"});
  EXPECT_EQ(r.members_added, std::vector<std::string>{"u5"});
}

TEST(ScimPatchTest, RemovingMembersWithoutValueRemovesAll) {
  const ScimPatchResult r = patch(kGroup, json::parse(R"([{"op":"remove","path":"members"}])"));
  EXPECT_EQ(r.members_removed, (std::vector<std::string>{"u1", "u2"}));
}

TEST(ScimPatchTest, OktaPathlessReplaceOfIdAndDisplayName) {
  const ScimPatchResult r = patch(kGroup, json::parse(R"([{"op":"replace","value":{"id":"g1","displayName":"renamed"}}])"));
  EXPECT_EQ(r.resource["displayName"], "renamed");
  EXPECT_EQ(r.resource["id"], "g1");
}

TEST(ScimPatchTest, ChangingIdIsAMutabilityError) {
  EXPECT_EQ(error_type(kGroup, json::parse(R"([{"op":"replace","value":{"id":"other"}}])")), "mutability");
  EXPECT_EQ(error_type(kGroup, json::parse(R"([{"op":"remove","path":"id"}])")), "mutability");
}

TEST(ScimPatchTest, MetaIsIgnored) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"replace","path":"meta","value":{"version":"x"}}])"));
  EXPECT_EQ(r.resource, kUser);
}

TEST(ScimPatchTest, RemoveWithoutPathIsNoTarget) {
  EXPECT_EQ(error_type(kGroup, json::parse(R"([{"op":"remove","value":[{"value":"u1"}]}])")), "noTarget");
}

TEST(ScimPatchTest, MalformedOperationsAreRejectedWithTheirScimType) {
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"move","path":"active","value":false}])")), "invalidSyntax");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"path":"active","value":false}])")), "invalidSyntax");
  EXPECT_EQ(error_type(kUser, json::parse(R"(["replace"])")), "invalidSyntax");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"replace","path":42,"value":false}])")), "invalidPath");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"replace","path":"emails[type eq","value":1}])")), "invalidPath");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"replace","path":"active","value":"maybe"}])")), "invalidValue");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"replace","path":"active"}])")), "invalidValue");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"replace","value":"x"}])")), "invalidValue");
  EXPECT_EQ(error_type(kUser, json::parse(R"([{"op":"replace","path":"emails[type co \"x\"].value","value":"v"}])")),
            "noTarget");
  try {
    apply_scim_patch(kUser, json::parse(R"({"schemas":[]})"));
    ADD_FAILURE();
  } catch (const ScimError& e) {
    EXPECT_EQ(e.scim_type(), "invalidSyntax");
  }
}

TEST(ScimPatchTest, AFailingOperationLeavesTheResourceUntouched) {
  const json body = ops(json::parse(R"([{"op":"replace","path":"active","value":false},{"op":"bogus"}])"));
  EXPECT_THROW(apply_scim_patch(kUser, body), ScimError);
  EXPECT_EQ(kUser["active"], true);
}

TEST(ScimPatchTest, OperationKeysInAnyCase) {
  const ScimPatchResult r = apply_scim_patch(
      kUser, json::parse(R"({"operations":[{"OP":"Replace","Path":"active","Value":"False"}]})"));
  EXPECT_EQ(r.resource["active"], false);
}

TEST(ScimPatchTest, RemoveOfAnAbsentAttributeIsANoOp) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([
      {"op":"remove","path":"nickName"},
      {"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
      {"op":"remove","path":"emails[type eq \"home\"]"}])"));
  EXPECT_EQ(r.resource, kUser);
}

}  // namespace
}  // namespace keywarden

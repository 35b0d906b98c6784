// SCIM PATCH in each dialect the IdPs send (reference/idp-protocols.md
// §1.4–1.5); each test is named after the dialect or mistake it guards.
#include "connectors/scim/scim_patch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "connectors/scim/scim_error.h"
#include "tests/sanitizers/slowdown.h"

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

// ---- Large groups (issue 13: 40,000 members added took 25 s, quadratic) ----

json member_values(int first, int count) {
  json members = json::array();
  for (int i = first; i < first + count; ++i) members.push_back({{"value", "member-" + std::to_string(i)}});
  return members;
}

TEST(ScimPatchTest, AddingAndRemovingAHundredThousandMembersIsLinear) {
  constexpr int kMembers = 100'000;
  json group = kGroup;
  group["members"] = member_values(0, kMembers / 2);
  const std::clock_t started = std::clock();  // CPU time: the machine may be busy
  // Half new, half already there: each must be found among both.
  ScimPatchResult added = patch(group, json::array({{{"op", "add"}, {"path", "members"},
                                                     {"value", member_values(kMembers / 4, kMembers)}}}));
  ScimPatchResult removed = patch(added.resource, json::array({{{"op", "Remove"}, {"path", "members"},
                                                               {"value", member_values(0, kMembers)}}}));
  const double seconds = static_cast<double>(std::clock() - started) / CLOCKS_PER_SEC;
  EXPECT_EQ(added.members_added.size(), static_cast<size_t>(kMembers * 3 / 4));
  EXPECT_EQ(added.resource["members"].size(), static_cast<size_t>(kMembers * 5 / 4));
  EXPECT_EQ(removed.members_removed.size(), static_cast<size_t>(kMembers));
  EXPECT_EQ(removed.resource["members"], member_values(kMembers, kMembers / 4));
  // Linear work is well under a second here; the quadratic code took minutes.
  EXPECT_LT(seconds, 5.0 * kSanitizerSlowdown);
}

TEST(ScimPatchTest, AddKeepsTheFirstOfEqualValuesWithinOneOperation) {
  const ScimPatchResult r = patch(kUser, json::parse(R"([{"op":"add","path":"emails","value":[
      {"value":"ALICE@example.com","type":"home"},{"value":"b@example.com"},{"value":"B@Example.com","type":"other"}]}])"));
  // Emails compare without case: alice's is there already, b's second spelling is the same value.
  EXPECT_EQ(r.resource["emails"].size(), 2u);
  EXPECT_EQ(r.resource["emails"][1], json({{"value", "b@example.com"}}));

  // Member ids compare exactly: "U1" is not "u1".
  const ScimPatchResult g = patch(kGroup, json::parse(R"([{"op":"add","path":"members","value":[{"value":"U1"},{"value":"u1"}]}])"));
  EXPECT_EQ(g.members_added, std::vector<std::string>{"U1"});
}

TEST(ScimPatchTest, NumbersThatCompareEqualAreOneValue) {
  json resource = kUser;
  resource["roles"] = json::parse(R"([{"value":1}])");
  const ScimPatchResult r = patch(resource, json::parse(R"([{"op":"add","path":"roles","value":[{"value":1.0},{"value":2}]}])"));
  EXPECT_EQ(r.resource["roles"], json::parse(R"([{"value":1},{"value":2}])"));
  const ScimPatchResult removed = patch(r.resource, json::parse(R"([{"op":"remove","path":"roles","value":[{"value":2.0}]}])"));
  EXPECT_EQ(removed.resource["roles"], json::parse(R"([{"value":1}])"));
}

TEST(ScimPatchTest, RemoveByPatternMatchesEveryNonNullMember) {
  json group = kGroup;
  group["members"] = json::parse(R"([{"value":"u1","display":"alice","type":"User"},
      {"value":"u2","display":"bob","type":"User"},{"value":"g9","display":"alice","type":"Group"}])");
  // No "value": every non-null member of the entry must match (names without case).
  ScimPatchResult r = patch(group, json::parse(R"([{"op":"remove","path":"members","value":[{"Display":"alice","type":"User","$ref":null}]}])"));
  EXPECT_EQ(r.members_removed, std::vector<std::string>{"u1"});
  // An entry whose members are all null matches every element.
  r = patch(group, json::parse(R"([{"op":"remove","path":"members","value":[{"$ref":null}]}])"));
  EXPECT_EQ(r.members_removed.size(), 3u);
  // An empty entry matches nothing.
  r = patch(group, json::parse(R"([{"op":"remove","path":"members","value":[{}]}])"));
  EXPECT_TRUE(r.members_removed.empty());
}

// ---- scim_patch_member_scope -------------------------------------------------

std::optional<std::vector<std::string>> scope_of(const char* operations) {
  return scim_patch_member_scope(ops(json::parse(operations)));
}

TEST(ScimPatchTest, MemberScopeNamesTheMembersOfAddAndRemoveByValue) {
  EXPECT_EQ(scope_of(R"([{"op":"Add","path":"members","value":[{"value":"a"},{"value":"b","display":"B"}]},
                         {"op":"Remove","path":"members","value":[{"value":"c","$ref":null},"d"]},
                         {"op":"remove","path":"members[value eq \"e\"]"},
                         {"op":"Replace","path":"displayName","value":"x"},
                         {"op":"add","value":{"externalId":"x","members":[{"value":"f"}]}}])"),
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(scope_of(R"([{"op":"replace","path":"externalId","value":"x"}])"), std::vector<std::string>{});
}

TEST(ScimPatchTest, MemberScopeIsWholeWhenAPatchCanTouchUnnamedMembers) {
  for (const char* operations : {
           R"([{"op":"replace","path":"members","value":[{"value":"a"}]}])",
           R"([{"op":"remove","path":"members"}])",
           R"([{"op":"remove","path":"members","value":[{"display":"alice"}]}])",
           R"([{"op":"remove","path":"members[display eq \"alice\"]"}])",
           R"([{"op":"remove","path":"members.display"}])",
           R"([{"op":"add","path":"members","value":["a"]}])",
           R"([{"op":"add","path":"members[value eq \"a\"]","value":{"value":"b"}}])",
           R"([{"op":"replace","value":{"members":[{"value":"a"}]}}])",
           R"([{"op":"add","value":{"urn:ietf:params:scim:schemas:core:2.0:Group":{"members":"x"}}}])",
           R"([{"op":"bogus","path":"members","value":[{"value":"a"}]}])"}) {
    EXPECT_FALSE(scope_of(operations).has_value()) << operations;
  }
}

// The scope's promise, checked on random PATCHes: applied to the group with
// only the members in scope, a PATCH adds and removes what it does applied to
// the whole group, and leaves the scoped members' objects the same.
TEST(ScimPatchTest, AScopedPatchChangesWhatTheWholePatchChanges) {
  std::mt19937 random(13);
  const auto id = [&] { return "m" + std::to_string(random() % 12); };
  const auto member = [&] {
    json element = {{"value", id()}};
    if (random() % 2) element["display"] = "d" + std::to_string(random() % 3);
    return element;
  };
  for (int round = 0; round < 2000; ++round) {
    json group = kGroup;
    group["members"] = json::array();
    std::set<std::string> stored;  // a stored group lists each member once
    for (int i = random() % 8; i > 0; --i) {
      json element = member();
      if (stored.insert(element["value"].get<std::string>()).second) group["members"].push_back(element);
    }
    json operations = json::array();
    for (int i = 1 + random() % 3; i > 0; --i) {
      switch (random() % 5) {
        case 0: operations.push_back({{"op", "add"}, {"path", "members"}, {"value", {member(), member()}}}); break;
        case 1: operations.push_back({{"op", "remove"}, {"path", "members"}, {"value", {member(), id()}}}); break;
        case 2: operations.push_back({{"op", "remove"}, {"path", "members[value eq \"" + id() + "\"]"}}); break;
        case 3:
          operations.push_back({{"op", "replace"}, {"path", "members[value eq \"" + id() + "\"].display"}, {"value", "z"}});
          break;
        default: operations.push_back({{"op", "replace"}, {"path", "displayName"}, {"value", "renamed"}}); break;
      }
    }
    const std::optional<std::vector<std::string>> scope = scim_patch_member_scope(ops(operations));
    ASSERT_TRUE(scope.has_value()) << operations;
    json scoped = group;
    scoped["members"] = json::array();
    for (const json& element : group["members"]) {
      if (std::binary_search(scope->begin(), scope->end(), element["value"].get<std::string>())) scoped["members"].push_back(element);
    }
    const ScimPatchResult whole = patch(group, operations);
    const ScimPatchResult part = patch(scoped, operations);
    EXPECT_EQ(part.members_added, whole.members_added) << operations << group;
    EXPECT_EQ(part.members_removed, whole.members_removed) << operations << group;
    std::map<std::string, json> whole_in_scope, part_members;
    for (const json& element : whole.resource["members"]) {
      const std::string value = element["value"].get<std::string>();
      if (std::binary_search(scope->begin(), scope->end(), value) && !whole_in_scope.contains(value)) whole_in_scope[value] = element;
    }
    for (const json& element : part.resource["members"]) {
      part_members.try_emplace(element["value"].get<std::string>(), element);
    }
    EXPECT_EQ(part_members, whole_in_scope) << operations << group;
  }
}

// Issue 13: a huge member PATCH is applied in parts; the parts, applied one
// after the other, must end where the whole PATCH ends.
// A member array sorted by "value", members of one value in their order.
json by_value(json members) {
  std::stable_sort(members.begin(), members.end(),
                   [](const json& a, const json& b) { return a["value"].get<std::string>() < b["value"].get<std::string>(); });
  return members;
}

TEST(ScimPatchTest, MemberPatchPartsAppliedInTurnEqualTheWhole) {
  std::mt19937 random(29);
  for (int round = 0; round < 500; ++round) {
    json group = kGroup;
    group["members"] = json::array();
    for (int i = 0; i < 6; ++i) {
      if (random() % 2) group["members"].push_back({{"value", "m" + std::to_string(i)}});
    }
    // Adds name m0..m9, removes m10..m15 (and stored ones): never the same member.
    json operations = json::array();
    for (int i = 1 + random() % 4; i > 0; --i) {
      const bool add = random() % 2;
      json values = json::array();
      for (int n = random() % 5; n > 0; --n) {
        const int id = add ? random() % 10 : 10 + random() % 6;
        if (add && random() % 2) {
          values.push_back({{"value", "m" + std::to_string(id)}, {"display", "D"}});
        } else {
          values.push_back({{"value", "m" + std::to_string(id)}});
        }
      }
      operations.push_back({{"op", add ? "Add" : "remove"}, {"path", "members"}, {"value", values}});
    }
    const size_t per_part = 1 + random() % 3;
    json whole_patch = ops(operations);
    size_t values = 0;
    for (const json& op : operations) values += op["value"].size();
    json cut = whole_patch;
    const std::vector<json> parts = split_scim_member_patch(cut, per_part);
    if (values <= per_part) {
      EXPECT_TRUE(parts.empty());
      EXPECT_EQ(cut, whole_patch);
      continue;
    }
    ASSERT_EQ(parts.size(), (values + per_part - 1) / per_part) << whole_patch;
    json stepped = group;
    for (const json& part : parts) {
      size_t in_part = 0;
      for (const json& op : part["Operations"]) in_part += op["value"].size();
      EXPECT_LE(in_part, per_part);
      EXPECT_EQ(part["schemas"], whole_patch["schemas"]);
      stepped = apply_scim_patch(stepped, part).resource;
    }
    // The same members, each the same object; in another order, since the
    // parts name their members sorted (a group's members have no order).
    EXPECT_EQ(by_value(stepped["members"]), by_value(patch(group, operations).resource["members"])) << whole_patch;
  }
}

// Each part reaches one slice of the member ids (a step then writes to a
// few pages of the store's B-trees): an operation's values come sorted by
// the member they name, and values naming one member keep their order.
TEST(ScimPatchTest, MemberPatchPartsNameTheirMembersInIdOrder) {
  json patch = ops(json::parse(R"([
      {"op":"add","path":"members","value":[{"value":"m7"},{"value":"m2","display":"first"},
                                            {"value":"m9"},{"value":"m2","display":"second"},{"value":"m1"}]},
      {"op":"remove","path":"members","value":["m8","m3",{"value":"m5"}]}])"));
  const std::vector<json> parts = split_scim_member_patch(patch, 2);
  std::vector<std::string> order;
  std::vector<std::string> displays_of_m2;
  for (const json& part : parts) {
    for (const json& op : part["Operations"]) {
      for (const json& value : op["value"]) {
        const std::string id = value.is_string() ? value.get<std::string>() : value["value"].get<std::string>();
        order.push_back(op["op"].get<std::string>() + " " + id);
        if (id == "m2") displays_of_m2.push_back(value["display"].get<std::string>());
      }
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"add m1", "add m2", "add m2", "add m7", "add m9", "remove m3",
                                             "remove m5", "remove m8"}));
  EXPECT_EQ(displays_of_m2, (std::vector<std::string>{"first", "second"}));
}

TEST(ScimPatchTest, MemberPatchIsWholeWhenPartsCouldDifferOrTouchOtherAttributes) {
  const json member = {{"value", "m1"}};
  for (const json& operations : {
           // A member removed and added again: out of the group between parts.
           json{{{"op", "remove"}, {"path", "members"}, {"value", {member}}},
                {{"op", "add"}, {"path", "members"}, {"value", {member, {{"value", "m2"}}}}}},
           // Another attribute, a filter, a path-less add, no value list.
           json{{{"op", "replace"}, {"path", "displayName"}, {"value", "x"}},
                {{"op", "add"}, {"path", "members"}, {"value", {member, {{"value", "m2"}}}}}},
           json{{{"op", "remove"}, {"path", "members[value eq \"m1\"]"}},
                {{"op", "add"}, {"path", "members"}, {"value", {{{"value", "m2"}}, {{"value", "m3"}}}}}},
           json{{{"op", "add"}, {"value", {{"members", {member, {{"value", "m2"}}, {{"value", "m3"}}}}}}}},
           json{{{"op", "remove"}, {"path", "members"}}, {{"op", "add"}, {"path", "members"}, {"value", {member}}}},
       }) {
    json cut = ops(operations);
    EXPECT_TRUE(split_scim_member_patch(cut, 1).empty()) << operations;
    EXPECT_EQ(cut, ops(operations));
  }
}

}  // namespace
}  // namespace keywarden

#include "daemon/engine/planner.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

using std::chrono::days;
using std::chrono::hours;

const Timestamp kNow = *parse_rfc3339("2026-11-26T10:00:00Z");

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_.self_user_uid = "self";
    add_user("self", "keywarden@example.com");
  }

  void add_user(const std::string& uid, const std::string& email) {
    inventory_.users_by_uid[uid] = PaletteUser{uid, email, true};
  }
  PaletteKey& add_key(const std::string& uid, const std::string& owner, bool active = true,
                      const std::string& name = "") {
    PaletteKey k;
    k.uid = uid;
    k.name = name.empty() ? "key-" + uid : name;
    k.owner_uid = owner;
    k.active = active;
    k.created_at = kNow - days{30};
    inventory_.keys.push_back(k);
    return inventory_.keys.back();
  }
  IdentityRecord& add_identity(const std::string& source, const std::string& subject, const std::string& email,
                               IdentityStatus status, std::vector<std::string> groups,
                               Timestamp status_since = kNow - days{100}) {
    IdentityRecord r;
    r.source = source;
    r.subject_id = subject;
    r.email = email;
    r.status = status;
    r.status_since = status_since;
    r.first_seen = kNow - days{100};
    for (auto& g : groups) r.memberships.push_back({g, kNow - days{100}, std::nullopt});
    identities_.push_back(r);
    return identities_.back();
  }

  std::vector<KeyVerdict> judge() {
    PlanInput in;
    in.now = now_;
    in.inventory = &inventory_;
    in.identities = &identities_;
    in.revoked_by_us = &revoked_;
    in.unhealthy_sources = unhealthy_;
    in.policy = &policy_;
    return judge_keys(in);
  }
  KeyVerdict judge_one() {
    auto v = judge();
    EXPECT_EQ(v.size(), 1u);
    return v.at(0);
  }

  Timestamp now_ = kNow;
  PaletteInventory inventory_;
  std::vector<IdentityRecord> identities_;
  std::unordered_map<std::string, RevokedKeyRecord> revoked_;
  std::set<std::string> unhealthy_;
  Policy policy_;
};

TEST_F(PlannerTest, KeepsTheKeyOfAnEntitledOwner) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"palette-users"});
  auto v = judge_one();
  EXPECT_EQ(v.kind, VerdictKind::keep);
  EXPECT_FALSE(v.action);
}

TEST_F(PlannerTest, RevokesTheKeyOfAnInactiveIdentity) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  auto& id = add_identity("hr", "1", "alice@example.com", IdentityStatus::inactive, {"palette-users"},
                          kNow - hours{1});
  id.status_detail = "status DEPROVISIONED";
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->kind, ActionKind::revoke);
  EXPECT_EQ(v.action->reason, Reason::identity_inactive);
  EXPECT_EQ(v.action->source, "hr");
  EXPECT_EQ(v.action->owner_email, "alice@example.com");
  EXPECT_EQ(v.action->detail, "status DEPROVISIONED since 2026-11-26T09:00:00Z");
}

TEST_F(PlannerTest, RevokesTheKeyOfADeletedIdentity) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::deleted, {});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::identity_deleted);
}

TEST_F(PlannerTest, RevokesWhenTheOwnerLeftEveryEntitledGroup) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  auto& id = add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"engineering"});
  id.memberships.push_back({"palette-users", kNow - days{10}, kNow - hours{2}});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::not_entitled);
}

TEST_F(PlannerTest, KeepsTheKeyWhenTheOwnerLeftOneOfTwoEntitledGroups) {
  policy_.entitled_groups = {"palette-users", "palette-admins"};
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  auto& id = add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"palette-admins"});
  id.memberships.push_back({"palette-users", kNow - days{10}, kNow - hours{2}});
  EXPECT_EQ(judge_one().kind, VerdictKind::keep);
}

TEST_F(PlannerTest, ActiveIsEnoughWithoutEntitledGroups) {
  policy_.entitled_groups.clear();
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {});
  EXPECT_EQ(judge_one().kind, VerdictKind::keep);
}

TEST_F(PlannerTest, NeverEntitledFollowsItsPolicy) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"engineering"});
  EXPECT_EQ(judge_one().kind, VerdictKind::report);
  policy_.never_entitled = OwnerPolicy::ignore;
  EXPECT_EQ(judge_one().kind, VerdictKind::keep);
  policy_.never_entitled = OwnerPolicy::revoke;
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::never_entitled);
}

TEST_F(PlannerTest, UnknownOwnerFollowsItsPolicy) {
  add_user("u1", "stranger@example.com");
  add_key("k1", "u1");
  EXPECT_EQ(judge_one().kind, VerdictKind::report);
  policy_.unknown_owner = OwnerPolicy::ignore;
  EXPECT_EQ(judge_one().kind, VerdictKind::keep);
  policy_.unknown_owner = OwnerPolicy::revoke;
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::unknown_owner);
}

TEST_F(PlannerTest, UnknownOwnerIsHeldWhileAnySourceIsUnhealthy) {
  policy_.unknown_owner = OwnerPolicy::revoke;
  unhealthy_ = {"idp-a"};
  add_user("u1", "stranger@example.com");
  add_key("k1", "u1");
  EXPECT_EQ(judge_one().kind, VerdictKind::held);
}

TEST_F(PlannerTest, OwnerMissingFollowsItsPolicy) {
  add_key("k1", "gone-user");
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::owner_missing);
  EXPECT_EQ(v.action->owner_email, "");
  policy_.owner_missing = OwnerPolicy::report;
  EXPECT_EQ(judge_one().kind, VerdictKind::report);
}

TEST_F(PlannerTest, NeverTouchesTheDaemonsOwnKeys) {
  add_key("k1", "self");
  policy_.unknown_owner = OwnerPolicy::revoke;
  EXPECT_EQ(judge_one().kind, VerdictKind::exempt);
}

TEST_F(PlannerTest, NeverTouchesExemptUsersOrKeyNames) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1", true, "ci-deploy");
  add_key("k2", "u1", true, "laptop");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::inactive, {});
  policy_.exempt_keys = {"ci-*"};
  auto v = judge();
  EXPECT_EQ(v[0].kind, VerdictKind::exempt);
  EXPECT_EQ(v[1].kind, VerdictKind::act);
  policy_.exempt_users = {"alice@example.com"};
  v = judge();
  EXPECT_EQ(v[1].kind, VerdictKind::exempt);
}

TEST_F(PlannerTest, WaitsForRevokeAfter) {
  policy_.revoke_after = hours{4};
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::inactive, {}, kNow - hours{3});
  EXPECT_EQ(judge_one().kind, VerdictKind::waiting);
  now_ = kNow + hours{1};
  EXPECT_EQ(judge_one().kind, VerdictKind::act);
}

TEST_F(PlannerTest, DeletesOnlyAfterDeleteAfter) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1", /*active=*/false);
  add_identity("hr", "1", "alice@example.com", IdentityStatus::inactive, {});
  revoked_["k1"] = {"k1", "u1", kNow - days{6}, Reason::identity_inactive};
  EXPECT_EQ(judge_one().kind, VerdictKind::revoked);
  // Exactly at the deadline the key may have been revoked up to a second
  // later than its stored (rounded-down) time: not yet.
  now_ = kNow + days{1};
  EXPECT_EQ(judge_one().kind, VerdictKind::revoked);
  now_ = kNow + days{1} + std::chrono::seconds{1};
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->kind, ActionKind::delete_key);
  EXPECT_EQ(v.action->reason, Reason::grace_elapsed);
}

TEST_F(PlannerTest, DeleteAfterNeverKeepsRevokedKeys) {
  policy_.delete_after.reset();
  add_user("u1", "alice@example.com");
  add_key("k1", "u1", false);
  add_identity("hr", "1", "alice@example.com", IdentityStatus::inactive, {});
  revoked_["k1"] = {"k1", "u1", kNow - days{600}, Reason::identity_inactive};
  EXPECT_EQ(judge_one().kind, VerdictKind::revoked);
}

TEST_F(PlannerTest, ReactivatesWhenTheOwnerReturnsWithinTheGrace) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1", false);
  auto& id = add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {}, kNow - hours{1});
  id.memberships.push_back({"palette-users", kNow - hours{1}, std::nullopt});
  revoked_["k1"] = {"k1", "u1", kNow - days{2}, Reason::identity_inactive};
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->kind, ActionKind::reactivate);
  EXPECT_EQ(v.action->reason, Reason::re_entitled);

  policy_.reactivate_on_return = false;
  EXPECT_EQ(judge_one().kind, VerdictKind::revoked);
}

TEST_F(PlannerTest, DoesNotReactivateAnExpiredKey) {
  add_user("u1", "alice@example.com");
  auto& key = add_key("k1", "u1", false);
  key.expiry = kNow - hours{1};
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"palette-users"}, kNow - hours{1});
  revoked_["k1"] = {"k1", "u1", kNow - days{2}, Reason::identity_inactive};
  EXPECT_EQ(judge_one().kind, VerdictKind::revoked);
}

TEST_F(PlannerTest, NeverReactivatesOrDeletesAKeyItDidNotRevoke) {
  add_user("u1", "alice@example.com");
  add_user("u2", "bob@example.com");
  add_key("k1", "u1", false);
  add_key("k2", "u2", false);
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"palette-users"});
  add_identity("hr", "2", "bob@example.com", IdentityStatus::deleted, {});
  now_ = kNow + days{365};
  for (const auto& v : judge()) {
    EXPECT_EQ(v.kind, VerdictKind::inactive) << v.key_uid;
    EXPECT_FALSE(v.action);
  }
}

TEST_F(PlannerTest, HoldsRevocationsThatRestOnAnUnhealthySource) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("idp-a", "1", "alice@example.com", IdentityStatus::inactive, {});
  unhealthy_ = {"idp-a"};
  auto v = judge_one();
  EXPECT_EQ(v.kind, VerdictKind::held);
  ASSERT_TRUE(v.action);
  EXPECT_EQ(v.action->reason, Reason::identity_inactive);
}

TEST_F(PlannerTest, AHealthySourcesDepartureIsNotHeldByAnotherUnhealthySource) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("idp-a", "1", "alice@example.com", IdentityStatus::active, {"palette-users"});
  add_identity("hr", "9", "alice@example.com", IdentityStatus::inactive, {});
  unhealthy_ = {"idp-a"};
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->source, "hr");
}

TEST_F(PlannerTest, HoldsDeletesWhileTheOwnersSourceIsUnhealthy) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1", false);
  add_identity("idp-a", "1", "alice@example.com", IdentityStatus::active, {});
  identities_.back().memberships.push_back({"palette-users", kNow - days{20}, kNow - days{10}});
  revoked_["k1"] = {"k1", "u1", kNow - days{9}, Reason::not_entitled};
  unhealthy_ = {"idp-a"};
  EXPECT_EQ(judge_one().kind, VerdictKind::held);
}

TEST_F(PlannerTest, RevokesKeysOlderThanMaxKeyAge) {
  policy_.max_key_age = days{20};
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"palette-users"});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::key_too_old);
}

TEST_F(PlannerTest, AnyInactiveSourceMakesALeaver) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("idp-a", "1", "alice@example.com", IdentityStatus::active, {"palette-users"});
  add_identity("idp-b", "a", "alice@example.com", IdentityStatus::inactive, {"palette-users"});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->source, "idp-b");
}

// One email, several identities of one source (docs/architecture.md): a
// rehired person has a disabled old account and an active new one.
TEST_F(PlannerTest, ARehiredOwnerKeepsTheKeysWhileTheOldAccountStaysDisabled) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  // The old account is disabled but still lists the group, as IdPs leave it.
  add_identity("corp", "old", "alice@example.com", IdentityStatus::inactive, {"palette-users"}, kNow - days{200});
  add_identity("corp", "new", "alice@example.com", IdentityStatus::active, {"palette-users"}, kNow - days{3});
  auto v = judge_one();
  EXPECT_EQ(v.kind, VerdictKind::keep) << v.note;
  EXPECT_FALSE(v.action);
  EXPECT_EQ(v.identity, "corp/new");

  // The same, whatever order the store lists them in.
  std::swap(identities_[0], identities_[1]);
  EXPECT_EQ(judge_one().kind, VerdictKind::keep);
}

TEST_F(PlannerTest, ARehiredOwnersKeyRevokedForTheOldAccountComesBack) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1", false);
  revoked_["k1"] = {"k1", "u1", kNow - days{2}, Reason::identity_inactive};
  add_identity("corp", "old", "alice@example.com", IdentityStatus::deleted, {}, kNow - days{2});
  add_identity("corp", "new", "alice@example.com", IdentityStatus::active, {"palette-users"}, kNow - hours{1});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act) << v.note;
  EXPECT_EQ(v.action->kind, ActionKind::reactivate);
}

TEST_F(PlannerTest, ARehiredOwnerIsJudgedByTheNewAccountsEntitlement) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  // The disabled account's membership entitles no one: the new account is
  // not (yet) in an entitled group, so this is never_entitled (report by
  // default), not a departure and not a keep.
  add_identity("corp", "old", "alice@example.com", IdentityStatus::inactive, {"palette-users"});
  add_identity("corp", "new", "alice@example.com", IdentityStatus::active, {"engineering"});
  auto v = judge_one();
  EXPECT_EQ(v.kind, VerdictKind::report) << v.note;
  ASSERT_TRUE(v.action);
  EXPECT_EQ(v.action->reason, Reason::never_entitled);
}

TEST_F(PlannerTest, EveryAccountOfASourceGoneOrInactiveIsALeaver) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("corp", "old", "alice@example.com", IdentityStatus::deleted, {}, kNow - days{200});
  add_identity("corp", "new", "alice@example.com", IdentityStatus::inactive, {"palette-users"}, kNow - hours{1});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act) << v.note;
  EXPECT_EQ(v.action->kind, ActionKind::revoke);
  EXPECT_EQ(v.action->reason, Reason::identity_deleted);
}

TEST_F(PlannerTest, AnActiveAccountInOneSourceDoesNotOutvoteAnotherSourcesDeparture) {
  add_user("u1", "alice@example.com");
  add_key("k1", "u1");
  add_identity("idp-a", "old", "alice@example.com", IdentityStatus::inactive, {});
  add_identity("idp-a", "new", "alice@example.com", IdentityStatus::active, {"palette-users"});
  add_identity("hr", "7", "alice@example.com", IdentityStatus::inactive, {}, kNow - hours{1});
  auto v = judge_one();
  ASSERT_EQ(v.kind, VerdictKind::act) << v.note;
  EXPECT_EQ(v.action->source, "hr");
}

TEST_F(PlannerTest, MakePlanKeepsOnlyActVerdicts) {
  add_user("u1", "alice@example.com");
  add_user("u2", "bob@example.com");
  add_key("k1", "u1");
  add_key("k2", "u2");
  add_key("k3", "u2");
  add_identity("hr", "1", "alice@example.com", IdentityStatus::active, {"palette-users"});
  add_identity("hr", "2", "bob@example.com", IdentityStatus::inactive, {});
  auto plan = make_plan("p1", kNow, judge());
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].key_uid, "k2");
  EXPECT_EQ(plan.actions[1].key_uid, "k3");
}

}  // namespace
}  // namespace keywarden

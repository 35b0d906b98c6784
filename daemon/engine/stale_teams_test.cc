// SPEC §9 through the planner: each test breaks if its rule goes.
#include "daemon/engine/stale_teams.h"

#include <gtest/gtest.h>

#include "daemon/engine/planner.h"

namespace keywarden {
namespace {

using std::chrono::days;
using std::chrono::hours;

const Timestamp kNow = *parse_rfc3339("2026-11-26T10:00:00Z");
const Timestamp kLeft = kNow - days{2};

class StaleTeamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_.self_user_uid = "self";
    policy_.entitled_groups = {"palette-users"};
    // alice: in Palette team palette-admins, left the IdP group two days ago.
    inventory_.users_by_uid["u1"] = PaletteUser{"u1", "alice@example.com", true, std::vector<std::string>{"palette-admins"}};
    inventory_.users_by_uid["u2"] = PaletteUser{"u2", "bob@example.com", true, std::vector<std::string>{"palette-admins"}};
    add_key("k1", "u1");
    auto& alice = add_identity("hr", "1", "alice@example.com", {"palette-users"});
    alice.memberships.push_back({"palette-admins", kNow - days{100}, kLeft});
    // bob is still in the group, so the source has it.
    add_identity("hr", "2", "bob@example.com", {"palette-users", "palette-admins"});
  }

  void add_key(const std::string& uid, const std::string& owner, bool active = true) {
    PaletteKey k;
    k.uid = uid;
    k.name = "key-" + uid;
    k.owner_uid = owner;
    k.active = active;
    k.created_at = kNow - days{30};
    inventory_.keys.push_back(k);
  }
  IdentityRecord& add_identity(const std::string& source, const std::string& subject, const std::string& email,
                               std::vector<std::string> groups) {
    IdentityRecord r;
    r.source = source;
    r.subject_id = subject;
    r.email = email;
    r.status = IdentityStatus::active;
    r.status_since = kNow - days{100};
    r.first_seen = kNow - days{100};
    for (auto& g : groups) r.memberships.push_back({g, kNow - days{100}, std::nullopt});
    identities_.push_back(r);
    return identities_.back();
  }
  IdentityRecord& identity(const std::string& subject) {
    for (auto& r : identities_) {
      if (r.subject_id == subject) return r;
    }
    throw std::logic_error("no identity " + subject);
  }
  void set_teams(const std::string& uid, std::optional<std::vector<std::string>> teams) {
    inventory_.users_by_uid[uid].teams = std::move(teams);
  }
  // k1 revoked by keywarden at `at` for `reason`, now inactive.
  void revoked_k1(Reason reason, Timestamp at = kNow - days{1}) {
    inventory_.keys.front().active = false;
    revoked_["k1"] = RevokedKeyRecord{"k1", "u1", at, reason};
  }

  Plan plan() {
    PlanInput in;
    in.now = kNow;
    in.inventory = &inventory_;
    in.identities = &identities_;
    in.revoked_by_us = &revoked_;
    in.unhealthy_sources = unhealthy_;
    in.policy = &policy_;
    return make_plan("p-test", kNow, judge_keys(in));
  }
  KeyVerdict k1() {
    auto p = plan();
    EXPECT_EQ(p.verdicts.size(), 1u);
    return p.verdicts.at(0);
  }

  PaletteInventory inventory_;
  std::vector<IdentityRecord> identities_;
  std::unordered_map<std::string, RevokedKeyRecord> revoked_;
  std::set<std::string> unhealthy_;
  Policy policy_;
};

TEST_F(StaleTeamsTest, ReportListsTheStaleMembershipAndRevokesNothing) {
  policy_.stale_teams = OwnerPolicy::report;
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  ASSERT_EQ(p.verdicts.size(), 1u);
  EXPECT_EQ(p.verdicts[0].kind, VerdictKind::report);
  ASSERT_TRUE(p.verdicts[0].action);
  EXPECT_EQ(p.verdicts[0].action->reason, Reason::stale_team);
  ASSERT_EQ(p.stale_teams.size(), 1u);
  EXPECT_EQ(p.stale_teams[0], (StaleMembership{"u1", "alice@example.com", "palette-admins", "hr", "palette-admins", kLeft}));
}

TEST_F(StaleTeamsTest, RevokeRevokesWithStaleTeamAndNamesTheTeam) {
  policy_.stale_teams = OwnerPolicy::revoke;
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, ActionKind::revoke);
  EXPECT_EQ(p.actions[0].reason, Reason::stale_team);
  EXPECT_EQ(p.actions[0].source, "hr");
  EXPECT_NE(p.actions[0].detail.find("Palette team palette-admins"), std::string::npos) << p.actions[0].detail;
  EXPECT_EQ(p.stale_teams.size(), 1u);
}

TEST_F(StaleTeamsTest, IgnoreNeitherListsNorRevokes) {
  policy_.stale_teams = OwnerPolicy::ignore;
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.stale_teams.empty());
  EXPECT_EQ(p.verdicts.at(0).kind, VerdictKind::keep);
}

TEST_F(StaleTeamsTest, ATeamNameDifferingInCaseMatchesNoGroup) {
  policy_.stale_teams = OwnerPolicy::revoke;
  set_teams("u1", std::vector<std::string>{"Palette-Admins"});
  set_teams("u2", std::vector<std::string>{"Palette-Admins"});
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.stale_teams.empty());
  EXPECT_EQ(p.verdicts.at(0).kind, VerdictKind::keep);
}

TEST_F(StaleTeamsTest, ATeamNoSourceHasAGroupForIsNeverStale) {
  policy_.stale_teams = OwnerPolicy::revoke;
  // bob leaves too: no identity of any source is in palette-admins any more
  // (the group was emptied, renamed or deleted).
  identity("2").memberships.back().removed_at = kLeft;
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.stale_teams.empty());
}

TEST_F(StaleTeamsTest, SomeoneNeverSeenInTheGroupIsNeverStale) {
  policy_.stale_teams = OwnerPolicy::revoke;
  identity("1").memberships.pop_back();  // alice was added to the team by hand
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.stale_teams.empty());
}

TEST_F(StaleTeamsTest, StillInTheGroupInAnotherSourceIsNotStale) {
  policy_.stale_teams = OwnerPolicy::revoke;
  add_identity("idp-a", "00u1", "alice@example.com", {"palette-admins"});
  EXPECT_TRUE(plan().actions.empty());
}

TEST_F(StaleTeamsTest, WaitsForRevokeAfter) {
  policy_.stale_teams = OwnerPolicy::revoke;
  policy_.revoke_after = days{3};
  const KeyVerdict v = k1();
  EXPECT_EQ(v.kind, VerdictKind::waiting);
  EXPECT_TRUE(v.stale_teams.empty());
  policy_.revoke_after = days{2};  // left exactly revoke_after ago: due
  EXPECT_EQ(k1().kind, VerdictKind::act);
}

TEST_F(StaleTeamsTest, AnUnhealthySourceBacksNoStaleVerdict) {
  policy_.stale_teams = OwnerPolicy::revoke;
  unhealthy_ = {"hr"};
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.stale_teams.empty());
  ASSERT_EQ(p.verdicts.at(0).kind, VerdictKind::held);
  EXPECT_EQ(p.verdicts[0].action->reason, Reason::stale_team);
}

TEST_F(StaleTeamsTest, AGroupMatchesByItsObjectIdToo) {
  policy_.stale_teams = OwnerPolicy::revoke;
  // The Entra connector reports each group by display name and object id.
  const std::string object_id = "8c0f3c4e-52a7-4f6e-9a43-0c1d2b3a4f5e";
  set_teams("u1", std::vector<std::string>{object_id});
  identity("1").memberships.push_back({object_id, kNow - days{100}, kLeft});
  identity("2").memberships.push_back({object_id, kNow - days{100}, std::nullopt});
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.stale_teams.at(0).team, object_id);
}

TEST_F(StaleTeamsTest, TeamsNotReadSayNothing) {
  policy_.stale_teams = OwnerPolicy::revoke;
  set_teams("u1", std::nullopt);
  EXPECT_TRUE(plan().actions.empty());
}

TEST_F(StaleTeamsTest, BackInTheGroupReactivates) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team);
  EXPECT_TRUE(plan().actions.empty()) << "still stale: stays revoked";
  identity("1").memberships.back() = {"palette-admins", kNow - hours{1}, std::nullopt};
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, ActionKind::reactivate);
  EXPECT_EQ(p.actions[0].reason, Reason::re_entitled);
}

TEST_F(StaleTeamsTest, RemovedFromTheTeamReactivates) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team);
  set_teams("u1", std::vector<std::string>{});
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, ActionKind::reactivate);
  EXPECT_EQ(p.actions[0].reason, Reason::re_entitled);
}

TEST_F(StaleTeamsTest, NoReactivationWhenOnlyTheOwnersIdentitiesAreLoaded) {
  // A push plans over the affected owner's identities alone: the group then
  // looks memberless, which must not pass for a return.
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team);
  identities_.pop_back();  // bob's identity, the group's other member, not loaded
  EXPECT_TRUE(plan().actions.empty());
}

TEST_F(StaleTeamsTest, NoReactivationWhenTeamsWereNotRead) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team);
  set_teams("u1", std::nullopt);
  EXPECT_TRUE(plan().actions.empty());
}

TEST_F(StaleTeamsTest, NoReactivationOnAnUnhealthySource) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team);
  set_teams("u1", std::vector<std::string>{});
  unhealthy_ = {"hr"};
  const Plan p = plan();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.verdicts.at(0).kind, VerdictKind::held);
}

TEST_F(StaleTeamsTest, NoReactivationForAnOwnerWhoLeft) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team);
  set_teams("u1", std::vector<std::string>{});
  identity("1").memberships.front().removed_at = kLeft;  // left palette-users too
  EXPECT_TRUE(plan().actions.empty());
}

TEST_F(StaleTeamsTest, StillStaleAfterTheGraceIsDeleted) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team, kNow - days{8});
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, ActionKind::delete_key);
  EXPECT_EQ(p.actions[0].reason, Reason::grace_elapsed);
}

TEST_F(StaleTeamsTest, ReturnAfterTheGraceDeletesInstead) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::stale_team, kNow - days{8});
  set_teams("u1", std::vector<std::string>{});
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, ActionKind::delete_key);
}

TEST_F(StaleTeamsTest, AReEntitledOwnerWithAStaleTeamIsNotReactivatedOnlyToBeRevokedAgain) {
  policy_.stale_teams = OwnerPolicy::revoke;
  revoked_k1(Reason::not_entitled);  // palette-users is current again (the fixture)
  EXPECT_TRUE(plan().actions.empty());
  policy_.stale_teams = OwnerPolicy::report;
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, ActionKind::reactivate);
}

TEST_F(StaleTeamsTest, ADepartureOutranksAStaleTeam) {
  policy_.stale_teams = OwnerPolicy::revoke;
  identity("1").status = IdentityStatus::inactive;
  const Plan p = plan();
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].reason, Reason::identity_inactive);
}

TEST_F(StaleTeamsTest, EachStaleMembershipIsListedOnceForAnOwnerWithManyKeys) {
  policy_.stale_teams = OwnerPolicy::report;
  add_key("k2", "u1");
  EXPECT_EQ(plan().stale_teams.size(), 1u);
}

}  // namespace
}  // namespace keywarden

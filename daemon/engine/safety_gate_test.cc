#include "daemon/engine/safety_gate.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

std::vector<Action> revocations(int n) {
  std::vector<Action> out(n);
  for (auto& a : out) a.kind = ActionKind::revoke;
  return out;
}

TEST(SafetyGate, PassesAPlanAtTheLimit) {
  SafetyLimits limits{.max_revocations = 25, .max_revocations_percent = 100, .max_shrink_percent = 20};
  EXPECT_FALSE(check_thresholds(revocations(25), 1000, limits).quarantine);
}

TEST(SafetyGate, QuarantinesOneRevocationOverTheCount) {
  SafetyLimits limits{.max_revocations = 25, .max_revocations_percent = 100, .max_shrink_percent = 20};
  auto d = check_thresholds(revocations(26), 1000, limits);
  EXPECT_TRUE(d.quarantine);
  EXPECT_NE(d.reason.find("max_revocations"), std::string::npos);
}

TEST(SafetyGate, QuarantinesOverThePercentOfTheInventory) {
  SafetyLimits limits{.max_revocations = 1000, .max_revocations_percent = 10, .max_shrink_percent = 20};
  EXPECT_FALSE(check_thresholds(revocations(10), 100, limits).quarantine);
  auto d = check_thresholds(revocations(11), 100, limits);
  EXPECT_TRUE(d.quarantine);
  EXPECT_NE(d.reason.find("max_revocations_percent"), std::string::npos);
}

TEST(SafetyGate, DeletesAndReactivationsDoNotCount) {
  SafetyLimits limits{.max_revocations = 0, .max_revocations_percent = 0, .max_shrink_percent = 20};
  std::vector<Action> actions(5);
  actions[0].kind = ActionKind::delete_key;
  for (size_t i = 1; i < actions.size(); ++i) actions[i].kind = ActionKind::reactivate;
  EXPECT_FALSE(check_thresholds(actions, 10, limits).quarantine);
}

TEST(SafetyGate, RecentPushRevocationsCountAgainstTheWindow) {
  SafetyLimits limits{.max_revocations = 5, .max_revocations_percent = 100, .max_shrink_percent = 20};
  EXPECT_FALSE(check_thresholds(revocations(1), 100, limits, 4).quarantine);
  EXPECT_TRUE(check_thresholds(revocations(1), 100, limits, 5).quarantine);
}

TEST(SafetyGate, ShrinkPastTheLimitIsABadRead) {
  EXPECT_FALSE(shrank_too_much(-1, 0, 20));    // no earlier good read
  EXPECT_FALSE(shrank_too_much(100, 80, 20));  // exactly the limit
  EXPECT_TRUE(shrank_too_much(100, 79, 20));
  EXPECT_TRUE(shrank_too_much(100, 0, 20));
  EXPECT_FALSE(shrank_too_much(100, 150, 20));
}

TEST(EntitledPopulation, CountsActiveIdentitiesInAnEntitledGroup) {
  const std::vector<Identity> read = {
      {"1", "a", "a@x.com", IdentityStatus::active, "", {"palette-users"}},
      {"2", "b", "b@x.com", IdentityStatus::active, "", {"staff"}},
      {"3", "c", "c@x.com", IdentityStatus::inactive, "", {"palette-users"}},
      {"4", "d", "d@x.com", IdentityStatus::deleted, "", {"palette-users"}},
      {"5", "e", "e@x.com", IdentityStatus::active, "", {"staff", "palette-users"}},
  };
  EXPECT_EQ(entitled_population(read, {"palette-users"}), 2) << "only active members of an entitled group";
  EXPECT_EQ(entitled_population(read, {"palette-users", "staff"}), 3);
  EXPECT_EQ(entitled_population(read, {}), 3) << "without entitled groups, being active is enough";
  EXPECT_EQ(entitled_population(read, {"Palette-Users"}), 0) << "group names match exactly";
}

}  // namespace
}  // namespace keywarden

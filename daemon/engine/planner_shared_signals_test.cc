// The planner's two rules for Shared Signals facts (SPEC §8.1): a
// compromised identity revokes with credential_compromise and is never
// reactivated, and a subject reference joins the identities of other sources
// that have its subject id, as soon as one of them exists.
#include <gtest/gtest.h>

#include "daemon/engine/planner.h"

namespace keywarden {
namespace {

using std::chrono::days;
using std::chrono::hours;

const Timestamp kNow = *parse_rfc3339("2026-11-26T10:00:00Z");

class SharedSignalsPlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_.users_by_uid["u1"] = PaletteUser{"u1", "alice@example.com", true};
    PaletteKey key;
    key.uid = "k1";
    key.name = "alice-ci";
    key.owner_uid = "u1";
    key.created_at = kNow - days{30};
    inventory_.keys.push_back(key);
    policy_.entitled_groups = {"palette-users"};
  }

  IdentityRecord& add(const std::string& source, const std::string& subject, const std::string& email,
                      IdentityStatus status, bool entitled, Timestamp since = kNow - hours{1}) {
    IdentityRecord r;
    r.source = source;
    r.subject_id = subject;
    r.email = email;
    r.status = status;
    r.status_since = since;
    r.first_seen = kNow - days{100};
    if (entitled) r.memberships.push_back({"palette-users", kNow - days{100}, std::nullopt});
    identities_.push_back(r);
    return identities_.back();
  }

  KeyVerdict judge() {
    PlanInput in;
    in.now = kNow;
    in.inventory = &inventory_;
    in.identities = &identities_;
    in.revoked_by_us = &revoked_;
    in.policy = &policy_;
    auto verdicts = judge_keys(in);
    EXPECT_EQ(verdicts.size(), 1u);
    return verdicts.at(0);
  }

  PaletteInventory inventory_;
  std::vector<IdentityRecord> identities_;
  std::unordered_map<std::string, RevokedKeyRecord> revoked_;
  Policy policy_;
};

TEST_F(SharedSignalsPlannerTest, CompromisedIdentityRevokesWithCredentialCompromise) {
  add("idp-a", "00u1", "alice@example.com", IdentityStatus::active, true);
  add("risc", "email:alice@example.com", "alice@example.com", IdentityStatus::compromised, false)
      .status_detail = "credential-compromise (SET j1)";
  const KeyVerdict v = judge();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::credential_compromise);
  EXPECT_EQ(to_string(v.action->reason), "credential_compromise");
  EXPECT_EQ(v.action->source, "risc");
  EXPECT_EQ(v.action->detail, "credential-compromise (SET j1) since 2026-11-26T09:00:00Z");
}

TEST_F(SharedSignalsPlannerTest, KeyRevokedForCompromiseIsNeverReactivated) {
  // The transmitter says the account is fine again, and the directory still
  // lists it as entitled: a key revoked for a compromise stays revoked.
  add("idp-a", "00u1", "alice@example.com", IdentityStatus::active, true);
  add("risc", "email:alice@example.com", "alice@example.com", IdentityStatus::active, false);
  inventory_.keys[0].active = false;
  revoked_["k1"] = RevokedKeyRecord{"k1", "u1", kNow - hours{2}, Reason::credential_compromise};
  const KeyVerdict v = judge();
  EXPECT_EQ(v.kind, VerdictKind::revoked) << v.note;
  EXPECT_FALSE(v.action.has_value());

  // The same history with identity_inactive is reactivated: the rule above is
  // about the reason, not the rest of the setup.
  revoked_["k1"].reason = Reason::identity_inactive;
  const KeyVerdict control = judge();
  ASSERT_EQ(control.kind, VerdictKind::act);
  EXPECT_EQ(control.action->kind, ActionKind::reactivate);
}

TEST_F(SharedSignalsPlannerTest, DeletionOutranksCompromiseAndCompromiseOutranksDeactivation) {
  add("idp-a", "00u1", "alice@example.com", IdentityStatus::inactive, true, kNow - hours{5});
  add("risc", "email:alice@example.com", "alice@example.com", IdentityStatus::compromised, false);
  EXPECT_EQ(judge().action->reason, Reason::credential_compromise);
  add("hr", "7", "alice@example.com", IdentityStatus::deleted, false);
  EXPECT_EQ(judge().action->reason, Reason::identity_deleted);
}

TEST_F(SharedSignalsPlannerTest, AnActiveAccountOfTheSameSourceDoesNotSetACompromiseAside) {
  // The transmitter said Alice (by email) is compromised, and later that her
  // account (by iss_sub) is enabled: two identities of one source, one email.
  add("idp-a", "00u1", "alice@example.com", IdentityStatus::active, true);
  add("idp-s", "email:alice@example.com", "alice@example.com", IdentityStatus::compromised, false);
  add("idp-s", "other-account", "alice@example.com", IdentityStatus::active, false, kNow - hours{0});
  const KeyVerdict v = judge();
  ASSERT_EQ(v.kind, VerdictKind::act) << v.note;
  EXPECT_EQ(v.action->reason, Reason::credential_compromise);
}

TEST_F(SharedSignalsPlannerTest, SubjectReferenceJoinsAnotherSourcesIdentity) {
  add("idp-a", "00u1", "alice@example.com", IdentityStatus::active, true);
  add("idp-s", subject_reference("00u1"), "", IdentityStatus::inactive, false).status_detail = "account-disabled";
  const KeyVerdict v = judge();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::identity_inactive);
  EXPECT_EQ(v.action->source, "idp-s");
  EXPECT_EQ(v.identity, "idp-s/" + subject_reference("00u1"));
}

TEST_F(SharedSignalsPlannerTest, SubjectReferenceWaitsUntilASourceReportsTheSubject) {
  add("idp-s", subject_reference("00u1"), "", IdentityStatus::inactive, false);
  add("idp-a", "00u2", "alice@example.com", IdentityStatus::active, true);  // a different subject
  EXPECT_EQ(judge().kind, VerdictKind::keep);
  // The directory now reports 00u1 as Alice: the kept event takes effect.
  identities_.back().subject_id = "00u1";
  const KeyVerdict v = judge();
  ASSERT_EQ(v.kind, VerdictKind::act);
  EXPECT_EQ(v.action->reason, Reason::identity_inactive);
}

TEST_F(SharedSignalsPlannerTest, SubjectReferenceDoesNotJoinItsOwnSourceOrPlainIds) {
  // Only the "subject reference" spelling joins, and only other sources.
  add("idp-a", "00u1", "alice@example.com", IdentityStatus::active, true);
  add("idp-s", "00u1", "", IdentityStatus::inactive, false);                      // a plain id
  add("idp-a", subject_reference("00u1"), "", IdentityStatus::inactive, false);  // same source
  EXPECT_EQ(judge().kind, VerdictKind::keep);
}

TEST(SubjectReferenceTest, JoinListsEachEmailOncePerReference) {
  std::vector<IdentityRecord> ids(4);
  ids[0] = {"idp-a", "00u1", "", "alice@example.com"};
  ids[1] = {"idp-c", "00u1", "", "alice@example.com"};
  ids[2] = {"idp-k", "00u1", "", "alice2@example.com"};
  ids[3] = {"idp-s", subject_reference("00u1"), "", ""};
  const auto joins = join_subject_references(ids);
  ASSERT_EQ(joins.size(), 2u);
  EXPECT_EQ(joins[0].first, "alice@example.com");
  EXPECT_EQ(joins[1].first, "alice2@example.com");
  EXPECT_EQ(joins[0].second, &ids[3]);
}

}  // namespace
}  // namespace keywarden

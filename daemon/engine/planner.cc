#include "daemon/engine/planner.h"

#include "daemon/engine/stale_teams.h"

#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>
#include <unordered_set>

namespace keywarden {

namespace {

std::string describe_duration(Duration d) {
  const long long s = d.count();
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

// What the sources, taken together, say about one Palette user's email.
struct OwnerStanding {
  enum class Kind { unknown, entitled, departed, never_entitled };
  Kind kind = Kind::unknown;
  Reason reason = Reason::identity_inactive;  // for departed
  Timestamp since{};        // departed: when the departure was first seen;
                            // entitled: since when; never_entitled: first seen
  // The identity the standing rests on; null for unknown.
  const IdentityRecord* by = nullptr;
  std::string identity;  // "source/subject" of `by`, built once for all the owner's keys
  std::string detail;
  bool rests_on_unhealthy = false;  // some source it rests on is unhealthy

  // The source the standing rests on; empty for unknown.
  std::string source() const { return by ? by->source : std::string(); }
};

// Identities of one source that share an email are one person's accounts in
// that source: a rehired person gets a new, active account while the old one
// stays disabled (docs/architecture.md, "One email, several identities of one source").
// The person is judged by the accounts still in use: a source's inactive and
// deleted identities are set aside when the same source has an active one
// for the email. A source with no active one keeps them all, so its word
// that the person left still counts; and across sources nothing changes (any
// source that says the person left is believed).
std::vector<const IdentityRecord*> accounts_in_use(const std::vector<const IdentityRecord*>& ids) {
  const auto active_in = [&](const std::string& source) {
    return std::any_of(ids.begin(), ids.end(), [&](const IdentityRecord* r) {
      return r->source == source && r->status == IdentityStatus::active;
    });
  };
  std::vector<const IdentityRecord*> in_use;
  in_use.reserve(ids.size());
  for (const IdentityRecord* r : ids) {
    // A compromise is never set aside: another account of the same person
    // being active does not make the compromised credentials safe.
    if (r->status == IdentityStatus::active || r->status == IdentityStatus::compromised || !active_in(r->source)) {
      in_use.push_back(r);
    }
  }
  return in_use;
}

class OwnerJudge {
 public:
  OwnerJudge(const Policy& policy, const std::set<std::string>& unhealthy)
      : policy_(policy), unhealthy_(unhealthy),
        entitled_groups_(policy.entitled_groups.begin(), policy.entitled_groups.end()) {}

  OwnerStanding judge(const std::vector<const IdentityRecord*>& listed) const {
    const std::vector<const IdentityRecord*> ids = accounts_in_use(listed);
    OwnerStanding out;
    if (ids.empty()) {
      out.kind = OwnerStanding::Kind::unknown;
      out.rests_on_unhealthy = !unhealthy_.empty();
      return out;
    }
    if (auto departed = departure(ids)) return *departed;

    const bool any_unhealthy = std::any_of(ids.begin(), ids.end(), [&](const IdentityRecord* r) {
      return unhealthy_.count(r->source) > 0;
    });
    Timestamp latest_status = ids.front()->status_since;
    for (const auto* r : ids) latest_status = std::max(latest_status, r->status_since);

    if (entitled_groups_.empty()) {
      out.kind = OwnerStanding::Kind::entitled;
      out.since = latest_status;
      set_identity(out, *ids.front());
      out.rests_on_unhealthy = any_unhealthy;
      return out;
    }

    // Entitled now: some source lists a current membership of an entitled group.
    std::optional<Timestamp> joined;
    const IdentityRecord* joined_by = nullptr;
    // Left: memberships of entitled groups that ended.
    std::optional<Timestamp> left;
    const IdentityRecord* left_from = nullptr;
    std::string left_group;
    for (const auto* r : ids) {
      for (const auto& m : r->memberships) {
        if (!entitled_groups_.count(m.group)) continue;
        if (!m.removed_at) {
          if (!joined || m.first_seen < *joined) joined = m.first_seen, joined_by = r;
        } else if (!left || *m.removed_at > *left) {
          left = m.removed_at, left_from = r, left_group = m.group;
        }
      }
    }
    if (joined) {
      out.kind = OwnerStanding::Kind::entitled;
      out.since = std::max(*joined, latest_status);
      set_identity(out, *joined_by);
      out.rests_on_unhealthy = any_unhealthy;
      return out;
    }
    if (left) {
      out.kind = OwnerStanding::Kind::departed;
      out.reason = Reason::not_entitled;
      out.since = *left;
      set_identity(out, *left_from);
      out.detail = "left " + left_group + " (the last entitled group) at " + format_rfc3339(*left);
      out.rests_on_unhealthy = any_unhealthy;
      return out;
    }
    out.kind = OwnerStanding::Kind::never_entitled;
    Timestamp first = ids.front()->first_seen;
    for (const auto* r : ids) first = std::min(first, r->first_seen);
    out.since = first;
    set_identity(out, *ids.front());
    out.detail = "active, but never seen in an entitled group";
    out.rests_on_unhealthy = any_unhealthy;
    return out;
  }

 private:
  // A deleted, compromised or inactive identity in any source. Healthy
  // sources win over unhealthy ones, deletion over compromise over
  // deactivation, the earliest sighting over later ones.
  std::optional<OwnerStanding> departure(const std::vector<const IdentityRecord*>& ids) const {
    const IdentityRecord* best = nullptr;
    auto rank = [&](const IdentityRecord* r) {
      return std::make_tuple(unhealthy_.count(r->source) > 0 ? 1 : 0,
                             r->status == IdentityStatus::deleted       ? 0
                             : r->status == IdentityStatus::compromised ? 1
                                                                        : 2,
                             r->status_since);
    };
    for (const auto* r : ids) {
      if (r->status == IdentityStatus::active) continue;
      if (!best || rank(r) < rank(best)) best = r;
    }
    if (!best) return std::nullopt;
    OwnerStanding out;
    out.kind = OwnerStanding::Kind::departed;
    out.reason = best->status == IdentityStatus::deleted       ? Reason::identity_deleted
                 : best->status == IdentityStatus::compromised ? Reason::credential_compromise
                                                               : Reason::identity_inactive;
    out.since = best->status_since;
    set_identity(out, *best);
    const std::string what = !best->status_detail.empty() ? best->status_detail
                             : std::string(to_string(best->status));
    out.detail = what + " since " + format_rfc3339(best->status_since);
    out.rests_on_unhealthy = unhealthy_.count(best->source) > 0;
    return out;
  }

  static void set_identity(OwnerStanding& out, const IdentityRecord& r) {
    out.by = &r;
    out.identity = r.source + "/" + r.subject_id;
  }

  const Policy& policy_;
  const std::set<std::string>& unhealthy_;
  std::unordered_set<std::string> entitled_groups_;
};

bool revoke_reason_allows_return(Reason r) {
  return r == Reason::identity_inactive || r == Reason::identity_deleted || r == Reason::not_entitled ||
         r == Reason::never_entitled || r == Reason::unknown_owner;
}

class KeyJudge {
 private:
  // Everything known about one email, judged on first use.
  struct EmailFacts {
    std::vector<const IdentityRecord*> identities;  // every source's identities joined by it
    std::optional<OwnerStanding> standing;
  };

  // Everything known about one Palette user. Pointers point into the
  // inventory, by_email_ and nobody_, whose elements stay put.
  struct OwnerFacts {
    const PaletteUser* user = nullptr;
    // Set on the user's first key:
    const EmailFacts* email = nullptr;  // null when no source knows the user's email
    const OwnerStanding* standing = nullptr;
    std::optional<TeamStanding> teams;  // judged on first use

    const std::vector<const IdentityRecord*>& identities() const {
      static const std::vector<const IdentityRecord*> kNone;
      return email ? email->identities : kNone;
    }
  };

 public:
  explicit KeyJudge(const PlanInput& in)
      : in_(in), policy_(*in.policy), standings_(*in.policy, in.unhealthy_sources),
        teams_(*in.inventory, *in.identities, in.unhealthy_sources, in.policy->revoke_after, in.now),
        references_(join_subject_references(*in.identities)) {
    by_email_.reserve(in.identities->size());
    for (const auto& r : *in.identities) {
      if (!r.email.empty()) by_email_[r.email].identities.push_back(&r);
    }
    for (const auto& [email, reference] : references_) by_email_[email].identities.push_back(reference);
    owners_.reserve(in.inventory->users_by_uid.size());
    for (const auto& [uid, user] : in.inventory->users_by_uid) owners_.try_emplace(uid, OwnerFacts{&user});
    exempt_users_.insert(policy_.exempt_users.begin(), policy_.exempt_users.end());
  }

  // Appends one verdict per key to `out`, in order.
  void judge_all(const std::vector<PaletteKey>& keys, std::vector<KeyVerdict>& out) {
    // Owners are looked up a batch ahead, in a loop that does nothing else:
    // at full scale each lookup is a cache miss, and only a tight loop of
    // independent lookups lets the processor wait for several at once.
    constexpr size_t kBatch = 32;
    std::array<OwnerFacts*, kBatch> owners{};
    for (size_t begin = 0; begin < keys.size(); begin += kBatch) {
      const size_t end = std::min(keys.size(), begin + kBatch);
      for (size_t i = begin; i < end; ++i) owners[i - begin] = owner_of(keys[i]);
      // Each verdict is filled where it will stay: moving 250,000 of them
      // into place costs as much as filling them.
      for (size_t i = begin; i < end; ++i) judge(keys[i], owners[i - begin], out.emplace_back());
    }
  }

 private:
  OwnerFacts* owner_of(const PaletteKey& key) {
    const auto it = owners_.find(key.owner_uid);
    return it == owners_.end() ? nullptr : &it->second;
  }

  // Fills `v`, a default KeyVerdict. `facts` is the key's owner, null when
  // Palette has no such user.
  void judge(const PaletteKey& key, OwnerFacts* facts, KeyVerdict& v) {
    v.key_uid = key.uid;
    v.key_name = key.name;
    v.owner_uid = key.owner_uid;
    v.key_active = key.active;
    const PaletteUser* owner = facts ? facts->user : nullptr;
    if (owner) v.owner_email = owner->email;

    if (auto exempt = exemption(key, owner)) {
      v.kind = VerdictKind::exempt;
      v.note = *exempt;
      return;
    }
    const auto rec_it = in_.revoked_by_us->find(key.uid);
    const RevokedKeyRecord* ours = rec_it == in_.revoked_by_us->end() ? nullptr : &rec_it->second;

    if (!owner) {
      judge_owner_missing(key, ours, v);
      return;
    }
    const OwnerStanding& standing = standing_of(*facts);
    v.identity = standing.identity;

    if (ours && !key.active) {
      judge_revoked_by_us(key, *ours, *facts, standing, v);
      return;
    }
    if (!key.active) {
      v.kind = VerdictKind::inactive;
      v.note = "already inactive; not revoked by keywarden, left alone";
      return;
    }
    judge_active_key(key, standing, v);
    apply_stale_teams(key, *facts, v);
    if ((v.kind == VerdictKind::keep || v.kind == VerdictKind::report) && too_old(key)) {
      v.kind = VerdictKind::act;
      v.action = make_action(ActionKind::revoke, key, v, Reason::key_too_old, "",
                             "created " + format_rfc3339(key.created_at) + ", older than max_key_age " +
                                 describe_duration(*policy_.max_key_age));
      v.note = "key older than max_key_age";
    }
  }

 private:
  std::optional<std::string> exemption(const PaletteKey& key, const PaletteUser* owner) const {
    if (!in_.inventory->self_user_uid.empty() && key.owner_uid == in_.inventory->self_user_uid) {
      return "the daemon's own Palette user";
    }
    if (owner && exempt_users_.count(owner->email)) return "exempt user " + owner->email;
    for (const auto& pattern : policy_.exempt_keys) {
      if (key_name_matches(pattern, key.name)) return "exempt key name (" + pattern + ")";
    }
    return std::nullopt;
  }

  // What the sources say about the owner's email, judged on the owner's
  // first key.
  const OwnerStanding& standing_of(OwnerFacts& facts) {
    if (facts.standing) return *facts.standing;
    const auto email_it = by_email_.find(facts.user->email);
    if (email_it == by_email_.end()) {
      // No source knows the email: the same standing for every such owner.
      if (!nobody_) nobody_ = standings_.judge(facts.identities());
      facts.standing = &*nobody_;
      return *facts.standing;
    }
    EmailFacts& email = email_it->second;
    if (!email.standing) email.standing = standings_.judge(email.identities);
    facts.email = &email;
    facts.standing = &*email.standing;
    return *facts.standing;
  }

  const TeamStanding& team_standing_of(OwnerFacts& facts) {
    // Without Palette's team listing there is nothing to judge (TeamJudge
    // says so for every such user alike), and nothing worth keeping.
    if (!facts.user->teams) return no_teams_;
    if (!facts.teams) {
      standing_of(facts);  // joins the owner's identities, if not done yet
      facts.teams = teams_.judge(*facts.user, facts.identities());
    }
    return *facts.teams;
  }

  bool too_old(const PaletteKey& key) const {
    return policy_.max_key_age && key.created_at + *policy_.max_key_age <= in_.now;
  }

  bool expired(const PaletteKey& key) const { return key.expiry && *key.expiry <= in_.now; }

  Action make_action(ActionKind kind, const PaletteKey& key, const KeyVerdict& v, Reason reason,
                     std::string source, std::string detail) const {
    Action a;
    a.kind = kind;
    a.key_uid = key.uid;
    a.key_name = key.name;
    a.owner_uid = key.owner_uid;
    a.owner_email = v.owner_email;
    a.reason = reason;
    a.source = std::move(source);
    a.detail = std::move(detail);
    return a;
  }

  // Applies an OwnerPolicy to a revocation the facts suggest but do not demand.
  void apply_owner_policy(OwnerPolicy policy, Action action, bool rests_on_unhealthy, KeyVerdict& v,
                          const std::string& why) const {
    switch (policy) {
      case OwnerPolicy::ignore:
        v.kind = VerdictKind::keep;
        v.note = why + "; policy ignore";
        return;
      case OwnerPolicy::report:
        v.kind = VerdictKind::report;
        v.note = why + "; policy report";
        v.action = std::move(action);
        return;
      case OwnerPolicy::revoke:
        v.kind = rests_on_unhealthy ? VerdictKind::held : VerdictKind::act;
        v.note = rests_on_unhealthy ? why + "; held: a source is unhealthy" : why;
        v.action = std::move(action);
        return;
    }
  }

  void judge_owner_missing(const PaletteKey& key, const RevokedKeyRecord* ours, KeyVerdict& v) const {
    if (ours && !key.active) {
      judge_delete_due(key, *ours, /*rests_on_unhealthy=*/false, v);
      return;
    }
    if (!key.active) {
      v.kind = VerdictKind::inactive;
      v.note = "owner gone, key already inactive; not revoked by keywarden";
      return;
    }
    apply_owner_policy(policy_.owner_missing,
                       make_action(ActionKind::revoke, key, v, Reason::owner_missing, "",
                                   "Palette user " + key.owner_uid + " no longer exists"),
                       false, v, "the owner's Palette user is gone");
  }

  // A key keywarden revoked and that is still inactive: reactivate on return
  // within the grace, delete once the grace is over, otherwise wait.
  void judge_revoked_by_us(const PaletteKey& key, const RevokedKeyRecord& ours, OwnerFacts& owner,
                           const OwnerStanding& standing, KeyVerdict& v) {
    const std::optional<Timestamp> deadline =
        policy_.delete_after ? std::optional<Timestamp>(ours.revoked_at + *policy_.delete_after) : std::nullopt;
    if (ours.reason == Reason::stale_team) {
      judge_revoked_for_stale_team(key, ours, owner, standing, deadline, v);
      return;
    }
    // Reactivating a key that the stale-team rule would revoke again at once
    // would only make it flap.
    const bool stale_team_revoke_due = policy_.stale_teams == OwnerPolicy::revoke &&
                                       team_standing_of(owner).any(TeamMembershipState::stale);
    if (standing.kind == OwnerStanding::Kind::entitled && policy_.reactivate_on_return &&
        revoke_reason_allows_return(ours.reason) && !expired(key) && !too_old(key) && !stale_team_revoke_due &&
        (!deadline || standing.since < *deadline)) {
      v.action = make_action(ActionKind::reactivate, key, v, Reason::re_entitled, standing.source(),
                             "entitled again since " + format_rfc3339(standing.since));
      v.kind = standing.rests_on_unhealthy ? VerdictKind::held : VerdictKind::act;
      v.note = standing.rests_on_unhealthy ? "owner entitled again; held: a source is unhealthy"
                                           : "owner entitled again within the grace";
      return;
    }
    judge_delete_due(key, ours, standing.rests_on_unhealthy, v);
  }

  // SPEC §9 with §4 step 6: a key revoked for a stale team membership comes
  // back once no team of the owner is stale any more (back in the group, or
  // Palette no longer lists them in the team), if the owner is otherwise in
  // good standing. When Palette's teams were not read, nothing is known:
  // the key stays revoked.
  void judge_revoked_for_stale_team(const PaletteKey& key, const RevokedKeyRecord& ours, OwnerFacts& owner,
                                    const OwnerStanding& standing, const std::optional<Timestamp>& deadline,
                                    KeyVerdict& v) {
    const TeamStanding& teams = team_standing_of(owner);
    const bool good_standing = standing.kind == OwnerStanding::Kind::entitled ||
                               (standing.kind == OwnerStanding::Kind::never_entitled &&
                                policy_.never_entitled != OwnerPolicy::revoke);
    if (teams.returned() && good_standing && policy_.reactivate_on_return && !expired(key) && !too_old(key) &&
        (!deadline || in_.now <= *deadline)) {
      v.action = make_action(ActionKind::reactivate, key, v, Reason::re_entitled, standing.source(),
                             "no stale Palette team membership left (back in the group, or no longer in the team)");
      v.kind = standing.rests_on_unhealthy ? VerdictKind::held : VerdictKind::act;
      v.note = standing.rests_on_unhealthy ? "team membership no longer stale; held: a source is unhealthy"
                                           : "team membership no longer stale, within the grace";
      return;
    }
    if (policy_.stale_teams != OwnerPolicy::ignore) v.stale_teams = teams.with_state(TeamMembershipState::stale);
    judge_delete_due(key, ours, standing.rests_on_unhealthy, v);
  }

  // SPEC §9 on an active key whose owner is otherwise kept (or only
  // reported): list the owner's stale team memberships, and under
  // stale_teams = revoke, revoke the key for them.
  void apply_stale_teams(const PaletteKey& key, OwnerFacts& owner, KeyVerdict& v) {
    if (policy_.stale_teams == OwnerPolicy::ignore) return;
    if (v.kind != VerdictKind::keep && v.kind != VerdictKind::report) return;
    const TeamStanding& teams = team_standing_of(owner);
    v.stale_teams = teams.with_state(TeamMembershipState::stale);
    const bool revoke = policy_.stale_teams == OwnerPolicy::revoke;
    if (v.stale_teams.empty()) {
      if (!revoke || v.kind != VerdictKind::keep) return;
      if (const auto held = teams.with_state(TeamMembershipState::held); !held.empty()) {
        v.kind = VerdictKind::held;
        v.action = make_action(ActionKind::revoke, key, v, Reason::stale_team, held.front().source,
                               describe_stale_teams(held));
        v.note = "stale Palette team membership; held: a source is unhealthy";
      } else if (const auto leaving = teams.with_state(TeamMembershipState::leaving); !leaving.empty()) {
        v.kind = VerdictKind::waiting;
        v.note = "left the group of Palette team " + leaving.front().team + " at " +
                 format_rfc3339(leaving.front().left_at) + "; revoke at " +
                 format_rfc3339(leaving.front().left_at + policy_.revoke_after);
      }
      return;
    }
    Action action = make_action(ActionKind::revoke, key, v, Reason::stale_team, v.stale_teams.front().source,
                                describe_stale_teams(v.stale_teams));
    if (!revoke) {
      if (v.kind == VerdictKind::keep) {
        v.kind = VerdictKind::report;
        v.action = std::move(action);
        v.note = "stale Palette team membership; policy report";
      } else {
        v.note += "; stale Palette team membership";
      }
      return;
    }
    v.kind = VerdictKind::act;
    v.action = std::move(action);
    v.note = "stale Palette team membership";
  }

  static std::string describe_stale_teams(const std::vector<StaleMembership>& stale) {
    std::string out;
    for (const auto& m : stale) {
      if (!out.empty()) out += "; ";
      out += "Palette team " + m.team + ": left group " + m.group + " in " + m.source + " at " +
             format_rfc3339(m.left_at);
    }
    return out;
  }

  void judge_delete_due(const PaletteKey& key, const RevokedKeyRecord& ours, bool rests_on_unhealthy,
                        KeyVerdict& v) const {
    if (!policy_.delete_after) {
      v.kind = VerdictKind::revoked;
      v.note = "revoked by keywarden at " + format_rfc3339(ours.revoked_at) + "; delete_after is never";
      return;
    }
    const Timestamp deadline = ours.revoked_at + *policy_.delete_after;
    // Times are whole seconds, rounded down: a key revoked at 10.9 s is
    // stored as 10 s. A delete cannot be undone, so it waits until the
    // deadline has passed by a whole second, never up to a second early.
    if (in_.now <= deadline) {
      v.kind = VerdictKind::revoked;
      v.note = "revoked by keywarden at " + format_rfc3339(ours.revoked_at) + "; delete after " +
               format_rfc3339(deadline);
      return;
    }
    v.action = make_action(ActionKind::delete_key, key, v, Reason::grace_elapsed, "",
                           "revoked at " + format_rfc3339(ours.revoked_at) + " (" + std::string(to_string(ours.reason)) +
                               "), delete_after " + describe_duration(*policy_.delete_after) + " elapsed");
    v.kind = rests_on_unhealthy ? VerdictKind::held : VerdictKind::act;
    v.note = rests_on_unhealthy ? "grace elapsed; held: a source is unhealthy" : "grace elapsed";
  }

  void judge_active_key(const PaletteKey& key, const OwnerStanding& standing, KeyVerdict& v) const {
    switch (standing.kind) {
      case OwnerStanding::Kind::entitled:
        v.kind = VerdictKind::keep;
        v.note = "owner entitled";
        return;
      case OwnerStanding::Kind::unknown:
        apply_owner_policy(policy_.unknown_owner,
                           make_action(ActionKind::revoke, key, v, Reason::unknown_owner, "",
                                       "no source knows " + v.owner_email),
                           standing.rests_on_unhealthy, v, "no source knows the owner");
        return;
      case OwnerStanding::Kind::never_entitled:
        if (policy_.never_entitled == OwnerPolicy::revoke && in_.now < standing.since + policy_.revoke_after) {
          wait(v, standing, "never entitled");
          return;
        }
        apply_owner_policy(policy_.never_entitled,
                           make_action(ActionKind::revoke, key, v, Reason::never_entitled, standing.source(),
                                       standing.detail),
                           standing.rests_on_unhealthy, v, "owner never seen entitled");
        return;
      case OwnerStanding::Kind::departed:
        if (in_.now < standing.since + policy_.revoke_after) {
          wait(v, standing, std::string(to_string(standing.reason)));
          return;
        }
        v.action = make_action(ActionKind::revoke, key, v, standing.reason, standing.source(), standing.detail);
        v.kind = standing.rests_on_unhealthy ? VerdictKind::held : VerdictKind::act;
        v.note = standing.rests_on_unhealthy ? "owner left; held: source " + standing.source() + " is unhealthy"
                                             : "owner left";
        return;
    }
  }

  void wait(KeyVerdict& v, const OwnerStanding& standing, const std::string& what) const {
    v.kind = VerdictKind::waiting;
    v.note = what + " since " + format_rfc3339(standing.since) + "; revoke at " +
             format_rfc3339(standing.since + policy_.revoke_after);
  }

  const PlanInput& in_;
  const Policy& policy_;
  OwnerJudge standings_;
  TeamJudge teams_;
  // The emails by_email_ views of subject references point at.
  std::vector<std::pair<std::string, const IdentityRecord*>> references_;
  // Keys are views into the caller's identities (or references_), which
  // outlive the judge: a full plan does not copy 100,000 emails to look
  // them up.
  std::unordered_map<std::string_view, EmailFacts> by_email_;
  std::optional<OwnerStanding> nobody_;  // the standing of an email no source knows
  // Every user of the inventory by uid, viewing the inventory's keys, which
  // outlive the judge. Stands in for users_by_uid, so that a key's owner and
  // what is known of them take one lookup.
  std::unordered_map<std::string_view, OwnerFacts> owners_;
  const TeamStanding no_teams_{};
  std::unordered_set<std::string> exempt_users_;
};

}  // namespace

bool key_name_matches(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

std::vector<KeyVerdict> judge_keys(const PlanInput& input) {
  KeyJudge judge(input);
  std::vector<KeyVerdict> out;
  out.reserve(input.inventory->keys.size());
  judge.judge_all(input.inventory->keys, out);
  return out;
}

Plan make_plan(std::string plan_id, Timestamp now, std::vector<KeyVerdict> verdicts) {
  Plan plan;
  plan.plan_id = std::move(plan_id);
  plan.generated_at = now;
  plan.verdicts = std::move(verdicts);
  for (const auto& v : plan.verdicts) {
    if (v.kind == VerdictKind::act && v.action) plan.actions.push_back(*v.action);
    for (const auto& m : v.stale_teams) {
      if (std::find(plan.stale_teams.begin(), plan.stale_teams.end(), m) == plan.stale_teams.end()) {
        plan.stale_teams.push_back(m);
      }
    }
  }
  return plan;
}

}  // namespace keywarden

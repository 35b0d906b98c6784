#include "daemon/engine/stale_teams.h"

#include <algorithm>
#include <optional>

namespace keywarden {

namespace {

std::string source_group_key(const std::string& source, const std::string& group) {
  std::string key;
  key.reserve(source.size() + 1 + group.size());
  key += source;
  key += '\0';
  key += group;
  return key;
}

}  // namespace

bool TeamStanding::any(TeamMembershipState state) const {
  return std::any_of(findings.begin(), findings.end(), [&](const TeamFinding& f) { return f.state == state; });
}

std::vector<StaleMembership> TeamStanding::with_state(TeamMembershipState state) const {
  std::vector<StaleMembership> out;
  for (const auto& f : findings) {
    if (f.state == state) out.push_back(f.membership);
  }
  return out;
}

TeamJudge::TeamJudge(const PaletteInventory& inventory, const std::vector<IdentityRecord>& identities,
                     const std::set<std::string>& unhealthy, Duration revoke_after, Timestamp now)
    : unhealthy_(unhealthy), revoke_after_(revoke_after), now_(now) {
  std::unordered_set<std::string> team_names;
  for (const auto& [uid, user] : inventory.users_by_uid) {
    if (user.teams) team_names.insert(user.teams->begin(), user.teams->end());
  }
  if (team_names.empty()) return;
  for (const auto& r : identities) {
    for (const auto& m : r.memberships) {
      if (!m.removed_at && team_names.count(m.group)) groups_with_members_.insert(source_group_key(r.source, m.group));
    }
  }
}

bool TeamJudge::source_has_group(const std::string& source, const std::string& group) const {
  return groups_with_members_.count(source_group_key(source, group)) > 0;
}

TeamStanding TeamJudge::judge(const PaletteUser& user, const std::vector<const IdentityRecord*>& ids) const {
  TeamStanding out;
  if (!user.teams) return out;
  out.teams_known = true;
  for (const auto& team : *user.teams) {
    bool in_group_now = false;
    bool rests_on_unhealthy = false;
    const IdentityRecord* left_by = nullptr;
    std::optional<Timestamp> left_at;
    bool seen_in_group = false;
    bool in_group_anywhere = false;
    for (const auto* r : ids) {
      for (const auto& m : r->memberships) {
        if (m.group != team) continue;
        seen_in_group = true;
        if (!m.removed_at) in_group_anywhere = true;
      }
    }
    if (seen_in_group && !in_group_anywhere) out.out_of_a_team_group = true;
    for (const auto* r : ids) {
      if (!source_has_group(r->source, team)) continue;
      if (unhealthy_.count(r->source)) rests_on_unhealthy = true;
      for (const auto& m : r->memberships) {
        if (m.group != team) continue;  // exact, case-sensitive: Palette's SpectroTeam rule
        if (!m.removed_at) {
          in_group_now = true;
        } else if (!left_at || *m.removed_at > *left_at) {
          left_at = m.removed_at;
          left_by = r;
        }
      }
    }
    if (in_group_now || !left_by) continue;  // back in the group, or never seen in it
    TeamFinding finding;
    finding.membership = StaleMembership{user.uid, user.email, team, left_by->source, team, *left_at};
    if (rests_on_unhealthy) {
      finding.state = TeamMembershipState::held;
    } else if (now_ < *left_at + revoke_after_) {
      finding.state = TeamMembershipState::leaving;
    } else {
      finding.state = TeamMembershipState::stale;
    }
    out.findings.push_back(std::move(finding));
  }
  return out;
}

}  // namespace keywarden

// SPEC §9: stale Palette team memberships. Palette syncs a user's teams from
// the IdP's groups only when the user logs in, so someone moved out of an IdP
// group keeps the Palette team of the same name, and their API keys keep its
// permissions, for as long as they do not log in.
//
// Pure, like the planner: every input is an argument.
//
// A user's membership of Palette team T is stale when
//  1. a source has a group named exactly T (case-sensitive; an Entra source
//     reports each group's object id as a group name too, so a team named
//     after the object id matches; a Keycloak source its full path). keywarden
//     knows a source's groups only through their members, so "has a group"
//     means: some identity of that source is currently in it (in the source's
//     last good state). A team no source has a group for (made by hand, a
//     group renamed or deleted, or emptied) is never stale;
//  2. none of the user's identities (joined by email) in such a source is in
//     the group now;
//  3. one of them was seen in it and left it at `left_at` (the latest such
//     departure counts), and `left_at + revoke_after` has passed. Someone
//     never seen in the group (added to the team by hand, or by Palette's
//     defaultTeams) is never stale.
// A finding that rests on an unhealthy source (the one the departure was seen
// in, or any source that has the group and knows the user) is `held`: no
// stale verdict rests on it until a good read.
#pragma once

#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/engine/identity.h"
#include "daemon/engine/palette_inventory.h"
#include "daemon/engine/plan.h"

namespace keywarden {

enum class TeamMembershipState {
  stale,    // left more than revoke_after ago, on healthy sources
  leaving,  // left, revoke_after not yet passed
  held,     // would be stale or leaving, but rests on an unhealthy source
};

struct TeamFinding {
  StaleMembership membership;
  TeamMembershipState state = TeamMembershipState::stale;
};

// What the sources say about one Palette user's teams.
struct TeamStanding {
  bool teams_known = false;           // Palette's team listing was read
  std::vector<TeamFinding> findings;  // one per team the user left the group of, sorted by team
  // Some team of the user is named like a group that one of the user's own
  // identities left and is in nowhere now, whether or not that makes a
  // finding (the group may look memberless, e.g. when only this user's
  // identities were loaded for a push).
  bool out_of_a_team_group = false;

  bool any(TeamMembershipState state) const;
  std::vector<StaleMembership> with_state(TeamMembershipState state) const;
  // SPEC §9's return, on positive evidence only: Palette's teams were read,
  // and for every team of the user whose group they were seen in, they are
  // in that group now (or Palette no longer lists them in the team). Judged
  // from the user's own identities, so it holds however many other
  // identities the caller loaded.
  bool returned() const { return teams_known && findings.empty() && !out_of_a_team_group; }
};

class TeamJudge {
 public:
  // Keeps references to `unhealthy`; the other inputs are read during the call.
  TeamJudge(const PaletteInventory& inventory, const std::vector<IdentityRecord>& identities,
            const std::set<std::string>& unhealthy, Duration revoke_after, Timestamp now);

  // `ids` are the user's identities in every source (joined by email).
  TeamStanding judge(const PaletteUser& user, const std::vector<const IdentityRecord*>& ids) const;

 private:
  bool source_has_group(const std::string& source, const std::string& group) const;

  const std::set<std::string>& unhealthy_;
  Duration revoke_after_;
  Timestamp now_;
  // "source\0group" for every group that is a Palette team name and has a
  // current member in that source. Only team names are kept, so a directory
  // of a million memberships costs one small-set lookup each.
  std::unordered_set<std::string> groups_with_members_;
};

}  // namespace keywarden

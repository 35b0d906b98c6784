// The decision policy and safety limits of SPEC §3 [policy] and [safety], in
// the shape the engine needs. The config loader fills these in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/time_point.h"

namespace keywarden {

// What to do with a key whose situation is suspicious but not a departure.
enum class OwnerPolicy { revoke, report, ignore };

std::string_view to_string(OwnerPolicy p);
std::optional<OwnerPolicy> owner_policy_from_string(std::string_view s);

struct Policy {
  std::vector<std::string> entitled_groups{"palette-users"};  // empty: active is enough
  Duration revoke_after{0};
  std::optional<Duration> delete_after{std::chrono::days{7}};  // nullopt: never delete
  bool reactivate_on_return = true;
  OwnerPolicy owner_missing = OwnerPolicy::revoke;
  OwnerPolicy unknown_owner = OwnerPolicy::report;
  OwnerPolicy never_entitled = OwnerPolicy::report;
  std::optional<Duration> max_key_age;  // nullopt: off
  std::vector<std::string> exempt_users;  // emails, normalized by the loader
  std::vector<std::string> exempt_keys;   // fnmatch globs on the key name
  OwnerPolicy stale_teams = OwnerPolicy::report;  // SPEC §9
};

struct SafetyLimits {
  long max_revocations = 25;
  double max_revocations_percent = 10;
  double max_shrink_percent = 20;
};

}  // namespace keywarden

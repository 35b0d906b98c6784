#include "daemon/engine/policy.h"

namespace keywarden {

std::string_view to_string(OwnerPolicy p) {
  switch (p) {
    case OwnerPolicy::revoke: return "revoke";
    case OwnerPolicy::report: return "report";
    case OwnerPolicy::ignore: return "ignore";
  }
  return "report";
}

std::optional<OwnerPolicy> owner_policy_from_string(std::string_view s) {
  if (s == "revoke") return OwnerPolicy::revoke;
  if (s == "report") return OwnerPolicy::report;
  if (s == "ignore") return OwnerPolicy::ignore;
  return std::nullopt;
}

}  // namespace keywarden

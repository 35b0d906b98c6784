#include "daemon/engine/plan.h"

#include <array>
#include <utility>

namespace keywarden {

namespace {

constexpr std::array<std::pair<Reason, std::string_view>, 11> kReasons{{
    {Reason::identity_inactive, "identity_inactive"},
    {Reason::identity_deleted, "identity_deleted"},
    {Reason::not_entitled, "not_entitled"},
    {Reason::owner_missing, "owner_missing"},
    {Reason::key_too_old, "key_too_old"},
    {Reason::unknown_owner, "unknown_owner"},
    {Reason::never_entitled, "never_entitled"},
    {Reason::grace_elapsed, "grace_elapsed"},
    {Reason::re_entitled, "re_entitled"},
    {Reason::stale_team, "stale_team"},
    {Reason::credential_compromise, "credential_compromise"},
}};

}  // namespace

std::string_view to_string(ActionKind k) {
  switch (k) {
    case ActionKind::revoke: return "revoke";
    case ActionKind::reactivate: return "reactivate";
    case ActionKind::delete_key: return "delete";
  }
  return "revoke";
}

std::optional<ActionKind> action_kind_from_string(std::string_view s) {
  if (s == "revoke") return ActionKind::revoke;
  if (s == "reactivate") return ActionKind::reactivate;
  if (s == "delete") return ActionKind::delete_key;
  return std::nullopt;
}

std::string_view to_string(Reason r) {
  for (const auto& [reason, name] : kReasons) {
    if (reason == r) return name;
  }
  return "identity_inactive";
}

std::optional<Reason> reason_from_string(std::string_view s) {
  for (const auto& [reason, name] : kReasons) {
    if (name == s) return reason;
  }
  return std::nullopt;
}

std::string_view to_string(VerdictKind v) {
  switch (v) {
    case VerdictKind::keep: return "keep";
    case VerdictKind::exempt: return "exempt";
    case VerdictKind::act: return "act";
    case VerdictKind::waiting: return "waiting";
    case VerdictKind::held: return "held";
    case VerdictKind::report: return "report";
    case VerdictKind::revoked: return "revoked";
    case VerdictKind::inactive: return "inactive";
  }
  return "keep";
}

}  // namespace keywarden

#include "connectors/okta/okta_events.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "daemon/engine/time_point.h"

namespace keywarden {

namespace {

std::string string_member(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The first target of `type` ("User", "UserGroup"); nullptr when none.
const nlohmann::json* target_of_type(const nlohmann::json& event, std::string_view type) {
  const auto targets = event.find("target");
  if (targets == event.end() || !targets->is_array()) return nullptr;
  for (const auto& target : *targets) {
    if (target.is_object() && string_member(target, "type") == type) return &target;
  }
  return nullptr;
}

struct StatusEvent {
  std::string_view type;
  IdentityStatus status;
  std::string_view detail;
};

constexpr StatusEvent kStatusEvents[] = {
    {"user.lifecycle.deactivate", IdentityStatus::inactive, "status DEPROVISIONED"},
    {"user.lifecycle.suspend", IdentityStatus::inactive, "status SUSPENDED"},
    {"user.lifecycle.unsuspend", IdentityStatus::active, "status ACTIVE"},
    {"user.lifecycle.activate", IdentityStatus::active, "status ACTIVE"},
    {"user.lifecycle.reactivate", IdentityStatus::active, "reactivated"},
    {"user.lifecycle.delete.initiated", IdentityStatus::deleted, "deleted in Okta"},
    {"user.lifecycle.delete.completed", IdentityStatus::deleted, "deleted in Okta"},
};

}  // namespace

std::optional<int64_t> parse_published_millis(std::string_view text) {
  const std::optional<Timestamp> whole = parse_rfc3339(text);
  if (!whole) return std::nullopt;
  int64_t millis = std::chrono::duration_cast<std::chrono::milliseconds>(whole->time_since_epoch()).count();
  // parse_rfc3339 truncates the fraction; its first three digits order
  // events within the second. (An offset other than Z shifts whole minutes,
  // so the fraction is the same in UTC.)
  const size_t t = text.find_first_of("Tt");
  const size_t dot = t == std::string_view::npos ? t : text.find('.', t);
  if (dot != std::string_view::npos) {
    int64_t scale = 100;
    for (size_t i = dot + 1; i < text.size() && scale > 0 && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10) {
      millis += (text[i] - '0') * scale;
    }
  }
  return millis;
}

OktaLogEvent parse_log_event(const nlohmann::json& event) {
  if (!event.is_object()) throw OktaFormatError("a System Log event that is not a JSON object");
  OktaLogEvent out;
  out.uuid = string_member(event, "uuid");
  out.event_type = string_member(event, "eventType");
  if (out.event_type.empty()) {
    throw OktaFormatError("System Log event " + (out.uuid.empty() ? std::string("without uuid") : out.uuid) +
                          " has no eventType");
  }
  out.published_ms = parse_published_millis(string_member(event, "published"));

  const auto outcome = event.find("outcome");
  if (outcome == event.end() || !outcome->is_object() || string_member(*outcome, "result") != "SUCCESS") return out;
  const nlohmann::json* user = target_of_type(event, "User");
  if (!user) return out;
  OktaEventEffect effect;
  effect.subject_id = string_member(*user, "id");
  effect.subject_login = string_member(*user, "alternateId");
  if (effect.subject_id.empty()) return out;

  for (const StatusEvent& s : kStatusEvents) {
    if (out.event_type == s.type) {
      effect.kind = OktaEventEffect::Kind::status;
      effect.status = s.status;
      effect.status_detail = std::string(s.detail);
      out.effect = std::move(effect);
      return out;
    }
  }
  const bool added = out.event_type == "group.user_membership.add";
  if (added || out.event_type == "group.user_membership.remove") {
    const nlohmann::json* group = target_of_type(event, "UserGroup");
    if (!group) return out;
    effect.kind = OktaEventEffect::Kind::membership;
    effect.group = string_member(*group, "displayName");
    effect.member = added;
    if (effect.group.empty()) return out;
    out.effect = std::move(effect);
  }
  return out;
}

void sort_by_published(std::vector<OktaLogEvent>& events) {
  std::stable_sort(events.begin(), events.end(), [](const OktaLogEvent& a, const OktaLogEvent& b) {
    if (!a.published_ms) return false;
    if (!b.published_ms) return true;
    return *a.published_ms < *b.published_ms;
  });
}

}  // namespace keywarden

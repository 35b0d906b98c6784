#include "daemon/app/plan_output.h"

#include <algorithm>

namespace keywarden {

namespace {

nlohmann::json null_if_empty(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }

}  // namespace

nlohmann::json action_to_json(const Action& a) {
  return {{"action", to_string(a.kind)}, {"key_uid", a.key_uid},   {"key_name", a.key_name},
          {"owner_uid", a.owner_uid},    {"owner_email", a.owner_email}, {"reason", to_string(a.reason)},
          {"source", a.source},          {"detail", a.detail}};
}

nlohmann::json stale_membership_to_json(const StaleMembership& m) {
  return {{"owner_uid", m.owner_uid}, {"owner_email", m.owner_email}, {"team", m.team},
          {"source", m.source},       {"group", m.group},             {"left_at", format_rfc3339(m.left_at)}};
}

nlohmann::json plan_to_json(const Plan& plan, const std::vector<SourceReadOutcome>& reads) {
  nlohmann::json actions = nlohmann::json::array();
  for (const auto& a : plan.actions) actions.push_back(action_to_json(a));
  nlohmann::json held = nlohmann::json::array();
  for (const auto& v : plan.verdicts) {
    if (v.kind != VerdictKind::held || !v.action) continue;
    auto j = action_to_json(*v.action);
    j["held_because"] = v.note;
    held.push_back(std::move(j));
  }
  nlohmann::json stale_teams = nlohmann::json::array();
  for (const auto& m : plan.stale_teams) stale_teams.push_back(stale_membership_to_json(m));
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& r : reads) {
    sources.push_back({{"source", r.source}, {"ok", r.ok}, {"identities", r.identities}, {"error", null_if_empty(r.error)}});
  }
  return {{"plan_id", plan.plan_id},
          {"generated_at", format_rfc3339(plan.generated_at)},
          {"blocked", plan.blocked},
          {"block_reason", null_if_empty(plan.block_reason)},
          {"actions", std::move(actions)},
          {"stale_teams", stale_teams},
          {"held", std::move(held)},
          {"sources", std::move(sources)}};
}

nlohmann::json audit_to_json(const AuditEntry& e) {
  return {{"time", format_rfc3339(e.time)},
          {"plan_id", e.plan_id},
          {"action", e.action},
          {"key_uid", e.key_uid},
          {"key_name", e.key_name},
          {"owner_uid", e.owner_uid},
          {"owner_email", e.owner_email},
          {"reason", e.reason},
          {"source", e.source},
          {"result", e.result},
          {"http_status", e.http_status == 0 ? nlohmann::json() : nlohmann::json(e.http_status)},
          {"attempts", e.attempts}};
}

nlohmann::json verdict_to_json(const KeyVerdict& v) {
  nlohmann::json j = {{"key_uid", v.key_uid},       {"key_name", v.key_name},
                      {"owner_uid", v.owner_uid},   {"owner_email", null_if_empty(v.owner_email)},
                      {"identity", null_if_empty(v.identity)}, {"active", v.key_active},
                      {"verdict", to_string(v.kind)},          {"note", v.note}};
  j["action"] = v.action ? action_to_json(*v.action) : nlohmann::json();
  nlohmann::json stale_teams = nlohmann::json::array();
  for (const auto& m : v.stale_teams) stale_teams.push_back(stale_membership_to_json(m));
  j["stale_teams"] = std::move(stale_teams);
  return j;
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

void print_plan_table(std::ostream& out, const Plan& plan, const std::vector<SourceReadOutcome>& reads) {
  for (const auto& r : reads) {
    if (!r.ok) out << "source " << r.source << " unhealthy: " << r.error << "\n";
  }
  out << "plan " << plan.plan_id << " at " << format_rfc3339(plan.generated_at) << ": " << plan.actions.size()
      << " action(s)";
  if (plan.blocked) out << ", QUARANTINED: " << plan.block_reason;
  out << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : plan.actions) {
    rows.push_back({std::string(to_string(a.kind)), a.key_uid, a.key_name, a.owner_email.empty() ? a.owner_uid : a.owner_email,
                    std::string(to_string(a.reason)), a.source.empty() ? "-" : a.source, a.detail});
  }
  if (!rows.empty()) print_table(out, {"ACTION", "KEY", "NAME", "OWNER", "REASON", "SOURCE", "DETAIL"}, rows);
  std::vector<std::vector<std::string>> held;
  for (const auto& v : plan.verdicts) {
    if (v.kind == VerdictKind::held && v.action) {
      held.push_back({std::string(to_string(v.action->kind)), v.key_uid, v.key_name, v.owner_email,
                      std::string(to_string(v.action->reason)), v.note});
    }
  }
  if (!held.empty()) {
    out << "held back (a source they rest on is unhealthy): " << held.size() << "\n";
    print_table(out, {"ACTION", "KEY", "NAME", "OWNER", "REASON", "WHY"}, held);
  }
  print_stale_teams_table(out, plan.stale_teams);
}

void print_stale_teams_table(std::ostream& out, const std::vector<StaleMembership>& stale) {
  if (stale.empty()) return;
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : stale) {
    rows.push_back({m.owner_email.empty() ? m.owner_uid : m.owner_email, m.team, m.source, m.group,
                    format_rfc3339(m.left_at)});
  }
  out << "stale Palette team memberships (left the IdP group, still in the team): " << stale.size() << "\n";
  print_table(out, {"OWNER", "TEAM", "SOURCE", "GROUP", "LEFT AT"}, rows);
}

void print_verdict_table(std::ostream& out, const std::vector<KeyVerdict>& verdicts) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : verdicts) {
    rows.push_back({v.key_uid, v.key_name, v.owner_email.empty() ? "(gone) " + v.owner_uid : v.owner_email,
                    v.identity.empty() ? "-" : v.identity, v.key_active ? "active" : "revoked",
                    std::string(to_string(v.kind)) + (v.action ? " " + std::string(to_string(v.action->kind)) : ""),
                    v.note});
  }
  print_table(out, {"KEY", "NAME", "OWNER", "IDENTITY", "STATE", "VERDICT", "NOTE"}, rows);
  std::vector<StaleMembership> stale;
  for (const auto& v : verdicts) {
    for (const auto& m : v.stale_teams) {
      if (std::find(stale.begin(), stale.end(), m) == stale.end()) stale.push_back(m);
    }
  }
  if (!stale.empty()) out << "\n";
  print_stale_teams_table(out, stale);
}

void print_audit_table(std::ostream& out, const std::vector<AuditEntry>& entries) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : entries) {
    rows.push_back({format_rfc3339(e.time), e.plan_id, e.action, e.key_uid, e.key_name,
                    e.owner_email.empty() ? e.owner_uid : e.owner_email, e.reason, e.result,
                    e.http_status ? std::to_string(e.http_status) : "-", std::to_string(e.attempts)});
  }
  print_table(out, {"TIME", "PLAN", "ACTION", "KEY", "NAME", "OWNER", "REASON", "RESULT", "HTTP", "ATTEMPTS"}, rows);
}

}  // namespace keywarden

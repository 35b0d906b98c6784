// How plans, verdicts, the audit trail and status look to people (tables)
// and to scripts (the JSON shapes of SPEC §2).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "daemon/app/reconciler.h"
#include "daemon/engine/plan.h"
#include "daemon/store/store.h"

namespace keywarden {

nlohmann::json action_to_json(const Action& a);
// SPEC §9: {"owner_uid","owner_email","team","source","group","left_at"}.
nlohmann::json stale_membership_to_json(const StaleMembership& m);
// SPEC §2 `plan --json` with SPEC §9's "stale_teams", plus "sources" (read
// outcomes) and "held" (actions due but resting on an unhealthy source).
nlohmann::json plan_to_json(const Plan& plan, const std::vector<SourceReadOutcome>& reads);
// SPEC §2 `audit --json`: one object per line.
nlohmann::json audit_to_json(const AuditEntry& e);
nlohmann::json verdict_to_json(const KeyVerdict& v);

void print_plan_table(std::ostream& out, const Plan& plan, const std::vector<SourceReadOutcome>& reads);
void print_verdict_table(std::ostream& out, const std::vector<KeyVerdict>& verdicts);
// "stale Palette team memberships: N" and a table; nothing when there are none.
void print_stale_teams_table(std::ostream& out, const std::vector<StaleMembership>& stale);
void print_audit_table(std::ostream& out, const std::vector<AuditEntry>& entries);

// A plain text table: columns sized to their widest cell.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

}  // namespace keywarden

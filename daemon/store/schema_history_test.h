// For tests that upgrade an older store: SQL that turns today's schema
// text back into what an earlier schema version wrote. Run it between
// PRAGMA writable_schema = ON and OFF, on a closed store.
#pragma once

namespace keywarden::schema_history {

// The CHECK constraints as schema version 5 wrote them: IN lists, which
// migration 6 rewrote as comparisons.
inline constexpr const char* kChecksOfVersion5 =
    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status = ''active'' OR status = ''inactive'' OR "
    "status = ''deleted'' OR status = ''compromised'')', "
    "'CHECK (status IN (''active'', ''inactive'', ''deleted'', ''compromised''))') WHERE name = 'identities';"
    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (action = ''revoke'' OR action = ''reactivate'' OR "
    "action = ''delete'')', 'CHECK (action IN (''revoke'', ''reactivate'', ''delete''))') "
    "WHERE name IN ('journal', 'quarantine_actions');"
    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (state = ''pending'' OR state = ''done'' OR "
    "state = ''failed'')', 'CHECK (state IN (''pending'', ''done'', ''failed''))') WHERE name = 'journal';"
    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (state = ''pending'' OR state = ''approved'' OR "
    "state = ''rejected'')', 'CHECK (state IN (''pending'', ''approved'', ''rejected''))') "
    "WHERE name = 'quarantine';"
    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (result = ''done'' OR result = ''failed'' OR "
    "result = ''skipped'' OR result = ''quarantined'')', "
    "'CHECK (result IN (''done'', ''failed'', ''skipped'', ''quarantined''))') WHERE name = 'audit';";

// identities.status as schema version 4 wrote it: without 'compromised',
// which migration 5 added. After kChecksOfVersion5.
inline constexpr const char* kStatusCheckOfVersion4 =
    "UPDATE sqlite_schema SET sql = replace(sql, ', ''compromised''))', '))') WHERE name = 'identities';";

}  // namespace keywarden::schema_history

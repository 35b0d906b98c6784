// The commands of SPEC §2. Each returns the process exit code; usage and
// config problems throw UsageError, runtime failures propagate as
// exceptions that main() turns into exit 1.
#pragma once

#include <optional>
#include <string>

namespace keywarden {

struct GlobalOptions {
  std::string config_file;  // -c; empty: $KEYWARDEN_CONFIG or the default
};

int check_config_command(const GlobalOptions& g);
int plan_command(const GlobalOptions& g, bool json, bool detailed_exitcode);
int keys_command(const GlobalOptions& g, bool json);
int sync_command(const GlobalOptions& g, bool yes);
int approve_command(const GlobalOptions& g, const std::string& plan_id);
int reject_command(const GlobalOptions& g, const std::string& plan_id);
int status_command(const GlobalOptions& g, bool json);
int audit_command(const GlobalOptions& g, const std::string& since, bool json);
int version_command();
int run_command(const GlobalOptions& g);

}  // namespace keywarden

// keywarden's command line (SPEC §2).
#include <CLI/CLI.hpp>
#include <iostream>

#include "config/config.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/exit_codes.h"
#include "daemon/palette/palette_client.h"
#include "daemon/store/store.h"

int main(int argc, char** argv) {
  using namespace keywarden;
  CLI::App app{"keywarden: revokes, then deletes, the Palette API keys of people who left"};
  app.require_subcommand(1);
  GlobalOptions g;
  app.add_option("-c,--config", g.config_file,
                 "config file (default: $KEYWARDEN_CONFIG, then /etc/keywarden/keywarden.toml)");

  bool json = false, detailed = false, yes = false;
  std::string since, plan_id;
  auto* run = app.add_subcommand("run", "run the daemon in the foreground (systemd Type=notify)");
  auto* check = app.add_subcommand("check-config", "validate the config and exit");
  auto* plan = app.add_subcommand("plan", "read every source and Palette, print the plan, change nothing");
  plan->add_flag("--json", json, "print the plan as JSON");
  plan->add_flag("--detailed-exitcode", detailed, "exit 4 when the plan has actions");
  auto* sync = app.add_subcommand("sync", "one reconcile that carries out its plan, then exit");
  sync->add_flag("-y,--yes", yes, "do not ask for confirmation on a terminal");
  auto* status = app.add_subcommand("status", "sources, pending actions, quarantine, last reconcile");
  status->add_flag("--json", json, "print JSON");
  auto* keys = app.add_subcommand("keys", "the Palette key inventory with each key's verdict");
  keys->add_flag("--json", json, "print JSON");
  auto* audit = app.add_subcommand("audit", "the audit trail, oldest first");
  audit->add_option("--since", since, "a duration back from now (24h, 7d) or an RFC 3339 time");
  audit->add_flag("--json", json, "one JSON object per line");
  auto* approve = app.add_subcommand("approve", "release a quarantined plan");
  approve->add_option("ID", plan_id, "the quarantined plan's id")->required();
  auto* reject = app.add_subcommand("reject", "discard a quarantined plan");
  reject->add_option("ID", plan_id, "the quarantined plan's id")->required();
  auto* version = app.add_subcommand("version", "version and linked library versions");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (*run) return run_command(g);
    if (*check) return check_config_command(g);
    if (*plan) return plan_command(g, json, detailed);
    if (*sync) return sync_command(g, yes);
    if (*status) return status_command(g, json);
    if (*keys) return keys_command(g, json);
    if (*audit) return audit_command(g, since, json);
    if (*approve) return approve_command(g, plan_id);
    if (*reject) return reject_command(g, plan_id);
    if (*version) return version_command();
  } catch (const UsageError& e) {
    std::cerr << e.message << "\n";
    return kExitUsage;
  } catch (const PaletteError& e) {
    std::cerr << "keywarden: Palette: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const StoreError& e) {
    std::cerr << "keywarden: store: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << "keywarden: " << e.what() << "\n";
    return kExitRuntime;
  }
  return kExitUsage;
}

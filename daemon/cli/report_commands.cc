// check-config, status, audit and version: commands that only read.
#include <openssl/crypto.h>
#include <sqlite3.h>

#include <CLI/Version.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/version.hpp>
#include <iostream>
#include <set>
#include <nlohmann/json.hpp>
#include <toml++/impl/version.h>  // macros only: the version of the toml++ keywarden is built with

#include "daemon/app/daemon.h"
#include "connectors/source_registry.h"
#include "daemon/app/log.h"
#include "daemon/app/plan_output.h"
#include "daemon/cli/command_context.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/exit_codes.h"

#ifndef KEYWARDEN_VERSION
#define KEYWARDEN_VERSION "0.0.0"
#endif

namespace keywarden {

namespace {

nlohmann::json time_or_null(const std::optional<Timestamp>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
}

// Every error, one FILE:LINE:COL line each, as a usage error (exit 2).
void throw_if_any(const std::vector<ConfigError>& errors) {
  if (errors.empty()) return;
  std::string message;
  for (const auto& e : errors) message += e.format() + "\n";
  message.pop_back();
  throw UsageError{message};
}

}  // namespace

int check_config_command(const GlobalOptions& g) {
  const auto path = resolve_config_path(g.config_file);
  const Config config = load_config_or_fail(path);
  const SecretCheck secrets = check_secrets(config);
  for (const auto& w : secrets.warnings) std::cerr << "warning: " << w.format() << "\n";
  throw_if_any(secrets.errors);
  // Building each source runs its own checks of what the config names
  // (a saml source's IdP metadata and SP key pair); nothing is read or sent.
  std::string problems;
  boost::asio::io_context unused;
  for (const auto& source : config.sources) {
    try {
      (void)make_source(source, unused.get_executor());
    } catch (const std::invalid_argument& e) {
      problems += config.file.string() + ": " + e.what() + "\n";
    }
  }
  if (!problems.empty()) {
    problems.pop_back();
    throw UsageError{problems};
  }
  std::cout << config.file.string() << ": OK, " << config.sources.size() << " source(s):";
  for (const auto& s : config.sources) std::cout << " " << s.name << " (" << s.type << ")";
  std::cout << "\n";
  return kExitOk;
}

int status_command(const GlobalOptions& g, bool json) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  Store& store = ctx.store();
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& sc : ctx.config().sources) {
    const auto h = store.source_health(sc.name);
    sources.push_back({{"name", sc.name},
                       {"type", sc.type},
                       {"healthy", h ? h->healthy : false},
                       {"last_good_read", h ? time_or_null(h->last_success) : nlohmann::json()},
                       {"last_failure", h ? time_or_null(h->last_failure) : nlohmann::json()},
                       {"last_error", h && !h->last_error.empty() ? nlohmann::json(h->last_error) : nlohmann::json()}});
    // What the source itself reports (a stream's state, a realm that records
    // no events): its stored "status_json" object, merged in.
    if (const auto details = store.get_value(Store::cursor_scope(sc.name), "status_json")) {
      const nlohmann::json parsed = nlohmann::json::parse(*details, nullptr, false);
      if (parsed.is_object()) {
        for (const auto& [key, value] : parsed.items()) {
          if (!sources.back().contains(key)) sources.back()[key] = value;
        }
      }
    }
  }
  nlohmann::json pending = nlohmann::json::array();
  for (const auto& e : store.pending_intents()) {
    auto j = action_to_json(e.action);
    j["plan_id"] = e.plan_id;
    j["journaled_at"] = format_rfc3339(e.created_at);
    pending.push_back(std::move(j));
  }
  nlohmann::json quarantine = nlohmann::json::array();
  for (const auto& q : store.quarantined_plans(/*pending_only=*/true)) {
    long revokes = 0;
    for (const auto& a : q.actions) revokes += a.kind == ActionKind::revoke;
    quarantine.push_back({{"plan_id", q.plan_id},
                          {"created_at", format_rfc3339(q.created_at)},
                          {"reason", q.reason},
                          {"actions", q.actions.size()},
                          {"revocations", revokes}});
  }
  nlohmann::json last = nullptr;
  if (const auto t = store.get_value("reconcile", "last_time")) {
    last = {{"time", format_rfc3339(Timestamp{std::chrono::seconds{std::stoll(*t)}})},
            {"plan_id", store.get_value("reconcile", "last_plan_id").value_or("")},
            {"result", store.get_value("reconcile", "last_result").value_or("")}};
  }
  // SPEC §9, as the last full reconcile found them.
  const auto stale = store.stale_team_memberships();
  nlohmann::json stale_teams = nlohmann::json::array();
  for (const auto& m : stale.memberships) stale_teams.push_back(stale_membership_to_json(m));
  const nlohmann::json out = {{"sources", sources},
                              {"pending_actions", pending},
                              {"quarantined_plans", quarantine},
                              {"stale_teams", stale_teams},
                              {"last_reconcile", last}};
  if (json) {
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sources) {
    rows.push_back({s["name"].get<std::string>(), s["type"].get<std::string>(), s["healthy"].get<bool>() ? "yes" : "NO",
                    s["last_good_read"].is_null() ? "never" : s["last_good_read"].get<std::string>(),
                    s["last_error"].is_null() ? "" : s["last_error"].get<std::string>()});
  }
  print_table(std::cout, {"SOURCE", "TYPE", "HEALTHY", "LAST GOOD READ", "LAST ERROR"}, rows);
  static const std::set<std::string> kCommon = {"name", "type", "healthy", "last_good_read", "last_failure", "last_error"};
  for (const auto& s : sources) {
    for (const auto& [key, value] : s.items()) {
      if (kCommon.count(key)) continue;
      std::cout << s["name"].get<std::string>() << " " << key << ": "
                << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    }
  }
  std::cout << "\npending actions: " << pending.size() << "\n";
  std::cout << "quarantined plans: " << quarantine.size() << "\n";
  for (const auto& q : quarantine) {
    std::cout << "  " << q["plan_id"].get<std::string>() << "  " << q["created_at"].get<std::string>() << "  "
              << q["actions"].get<size_t>() << " action(s): " << q["reason"].get<std::string>() << "\n";
  }
  if (stale.memberships.empty()) {
    std::cout << "stale Palette team memberships: 0\n";
  } else {
    print_stale_teams_table(std::cout, stale.memberships);
  }
  std::cout << "last reconcile: "
            << (last.is_null() ? std::string("never")
                               : last["time"].get<std::string>() + " (" + last["result"].get<std::string>() + ")")
            << "\n";
  return kExitOk;
}

int audit_command(const GlobalOptions& g, const std::string& since, bool json) {
  CommandContext ctx(load_config_or_fail(resolve_config_path(g.config_file)));
  std::optional<Timestamp> from;
  if (!since.empty()) {
    std::optional<Duration> back;
    if (parse_duration(since, false, back) && back) {
      from = now_utc() - *back;
    } else if (auto t = parse_rfc3339(since)) {
      from = *t;
    } else {
      throw UsageError{"keywarden audit: --since takes a duration (24h, 7d) or an RFC 3339 time, not \"" + since + "\""};
    }
  }
  const auto entries = ctx.store().audit_since(from);
  if (json) {
    for (const auto& e : entries) std::cout << audit_to_json(e).dump() << "\n";
    std::cout << std::flush;
  } else {
    print_audit_table(std::cout, entries);
  }
  return kExitOk;
}

int version_command() {
  // Runtime versions where the library can tell (SQLite, OpenSSL); the
  // others are the headers (or pkg-config module) keywarden was built with.
  std::cout << "keywarden " << KEYWARDEN_VERSION << "\n"
            << "sqlite " << sqlite3_libversion() << "\n"
            << "openssl " << OpenSSL_version(OPENSSL_VERSION) << "\n"
            << "boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100
            << "\n"
            << "nlohmann_json " << NLOHMANN_JSON_VERSION_MAJOR << "." << NLOHMANN_JSON_VERSION_MINOR << "."
            << NLOHMANN_JSON_VERSION_PATCH << "\n"
            << "tomlplusplus " << TOML_LIB_MAJOR << "." << TOML_LIB_MINOR << "." << TOML_LIB_PATCH << "\n"
            << "cli11 " << CLI11_VERSION << "\n"
            << "libsystemd " << KEYWARDEN_LIBSYSTEMD_VERSION << "\n";
  return kExitOk;
}

int run_command(const GlobalOptions& g) {
  Config config = load_config_or_fail(resolve_config_path(g.config_file));
  const SecretCheck secrets = check_secrets(config);
  throw_if_any(secrets.errors);
  Daemon daemon(std::move(config));  // sets up the log
  for (const auto& w : secrets.warnings) logger().warn("secret file readable by others", {{"warning", w.format()}});
  return daemon.run();
}

}  // namespace keywarden

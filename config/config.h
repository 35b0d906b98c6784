// The configuration file of SPEC §3, loaded and validated with toml++.
//
// load_config never throws for a bad file: it returns every problem it finds
// as FILE:LINE:COL errors. Secrets are never read here (only their `*_file`
// paths or `*_env` names are kept); read_secret resolves them when needed.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/source_schema.h"
#include "daemon/engine/policy.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

struct ConfigError {
  std::string file;
  long line = 0;    // 1-based; 0 when the file itself is the problem
  long column = 0;
  std::string message;

  // "FILE:LINE:COL: message" (or "FILE: message" without a position).
  std::string format() const;
};

// Where a secret comes from: exactly one of `file` (absolute after loading)
// or `env` is set.
struct SecretRef {
  std::filesystem::path file;
  std::string env;
  // Where the `*_file` / `*_env` key stands in the config file, so that a
  // secret that cannot be read is reported as FILE:LINE:COL; 0 when unknown.
  long line = 0;
  long column = 0;
  bool empty() const { return file.empty() && env.empty(); }
};

struct DaemonConfig {
  std::filesystem::path state_dir = "/var/lib/keywarden";
  std::string listen = "127.0.0.1:9750";  // host:port; [v6]:port
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  Duration reconcile_interval{300};
  std::string log_level = "info";   // debug | info | warn | error
  std::string log_format = "text";  // text | json
};

struct PaletteConfig {
  std::string endpoint = "https://api.spectrocloud.com";
  SecretRef api_key;
  std::filesystem::path ca_file;
  double requests_per_second = 5;
  Duration timeout{30};
};

// One [[source]]. Its keys are validated against its type's SourceSchema and
// kept as strings: `*_file` and `path`-like keys are absolute paths,
// durations are validated but kept in their text form (see duration()), and
// an absent key with a default holds that default.
struct SourceConfig {
  std::string name;
  std::string type;  // a SourceSchema::type
  std::map<std::string, std::string> settings;
  std::vector<std::string> secrets;  // base names of the secrets set (e.g. "token")
  // Where each key of settings stands in the config file (line, column).
  std::map<std::string, std::pair<long, long>> positions;

  // settings[key] or `fallback`.
  std::string get(const std::string& key, const std::string& fallback = "") const;
  // The secret named by `<base>_file` / `<base>_env` (e.g. base "token").
  SecretRef secret(const std::string& base) const;
  // settings[key] parsed as a duration, or `fallback`.
  Duration duration(const std::string& key, Duration fallback) const;
};

// `config` with the default of every key of `schema` that it does not set.
// The loader applies it; connectors apply it too, so that a config built by
// hand (in tests) means what the same file would.
SourceConfig with_defaults(SourceConfig config, const SourceSchema& schema);

struct Config {
  std::filesystem::path file;  // the config file, absolute
  DaemonConfig daemon;
  PaletteConfig palette;
  Policy policy;
  SafetyLimits safety;
  std::vector<SourceConfig> sources;
};

struct ConfigLoadResult {
  std::optional<Config> config;     // set when errors is empty
  std::vector<ConfigError> errors;  // in file order
};

// Loads `file`, validating each [[source]] against the schema of its type
// among `schemas` (a type not there is an error).
ConfigLoadResult load_config(const std::filesystem::path& file, const SourceSchemas& schemas);

// "<n>s|m|h|d" (n a whole number, at most 100 years in total). With
// `allow_off`, "off" and "never" give nullopt. Returns false on anything else.
bool parse_duration(std::string_view text, bool allow_off, std::optional<Duration>& out);

// A secret file is at most this long; no token or key keywarden uses comes near.
inline constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

// Reads a secret from its file (trailing newline and whitespace trimmed) or
// environment variable. Throws std::runtime_error naming the file or variable,
// never the value, when it is missing or empty. A file must be a regular file
// (symlinks are followed, as in Kubernetes secret mounts) of at most
// kMaxSecretFileBytes: a FIFO, a device or a directory is refused without
// blocking on it or reading it. When `warning` is given, it is set to a
// sentence for a file that group or others may read (empty otherwise).
std::string read_secret(const SecretRef& ref, std::string* warning = nullptr);

// One secret the config names, for checking and for redaction.
struct NamedSecret {
  std::string what;    // "[palette] api key" or "source \"corp\" token", for messages
  std::string source;  // empty for the Palette key
  std::string base;    // "api_key", "token", "hook_secret", ...
  SecretRef ref;
};

// Every secret the config names: the Palette API key, then each source's.
std::vector<NamedSecret> secrets_of(const Config& config);

// What reading every secret of the config finds, each at the key that names
// the secret (FILE:LINE:COL): errors (missing, empty, not a regular file, too
// large) and warnings (a file that group or others may read). check-config
// and run both use it, before anything else happens.
struct SecretCheck {
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;
};
SecretCheck check_secrets(const Config& config);

}  // namespace keywarden

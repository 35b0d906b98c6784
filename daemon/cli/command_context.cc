#include "daemon/cli/command_context.h"

#include <cstdlib>

#include "daemon/app/log.h"
#include "connectors/source_registry.h"
#include "daemon/app/palette_options.h"
#include "daemon/cli/exit_codes.h"
#include "daemon/store/state_files.h"

namespace keywarden {

std::filesystem::path resolve_config_path(const std::string& from_flag) {
  if (!from_flag.empty()) return from_flag;
  if (const char* env = std::getenv("KEYWARDEN_CONFIG"); env && *env) return env;
  return "/etc/keywarden/keywarden.toml";
}

Config load_config_or_fail(const std::filesystem::path& file) {
  auto loaded = load_config(file, source_schemas());
  if (!loaded.errors.empty()) {
    std::string message;
    for (const auto& e : loaded.errors) message += e.format() + "\n";
    message.pop_back();
    throw UsageError{message};
  }
  return std::move(*loaded.config);
}

CommandContext::CommandContext(Config config) : config_(std::move(config)) {
  logger().configure(config_.daemon.log_level, config_.daemon.log_format);
}

CommandContext::~CommandContext() = default;

Store& CommandContext::store(StoreMode mode) {
  if (store_) return *store_;
  const auto db = config_.daemon.state_dir / "keywarden.db";
  if (mode == StoreMode::scratch) {
    store_ = Store::open_scratch_copy(db);
  } else {
    create_state_dir(config_.daemon.state_dir);
    store_ = Store::open(db);
  }
  return *store_;
}

PaletteClient& CommandContext::palette() {
  if (palette_) return *palette_;
  PaletteClientOptions options;
  try {
    options = palette_client_options(config_.palette);
  } catch (const std::exception& e) {
    throw UsageError{config_.file.string() + ": [palette] api key: " + e.what()};
  }
  palette_ = std::make_unique<PaletteClient>(io_.get_executor(), std::move(options));
  return *palette_;
}

std::vector<std::unique_ptr<Source>>& CommandContext::sources() {
  if (sources_built_) return sources_;
  for (const auto& sc : config_.sources) {
    try {
      sources_.push_back(make_source(sc, io_.get_executor()));
    } catch (const std::invalid_argument& e) {
      throw UsageError{config_.file.string() + ": " + e.what()};
    }
  }
  sources_built_ = true;
  return sources_;
}

Reconciler& CommandContext::reconciler(StoreMode mode) {
  if (!reconciler_) reconciler_ = std::make_unique<Reconciler>(config_, store(mode), palette(), sources());
  return *reconciler_;
}

}  // namespace keywarden

// What every command needs, built on demand: the loaded config, the store,
// the Palette client, the sources and the reconciler, on one io_context.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <vector>

#include "config/config.h"
#include "connectors/source.h"
#include "daemon/app/reconciler.h"
#include "daemon/palette/palette_client.h"
#include "daemon/store/store.h"

namespace keywarden {

// The config file the command line names: -c, then $KEYWARDEN_CONFIG, then
// /etc/keywarden/keywarden.toml.
std::filesystem::path resolve_config_path(const std::string& from_flag);

// Loads the config or throws UsageError with every FILE:LINE:COL error.
Config load_config_or_fail(const std::filesystem::path& file);

enum class StoreMode {
  durable,  // STATE_DIR/keywarden.db, created if needed
  scratch,  // an in-memory copy of it: the command's changes are thrown away
};

class CommandContext {
 public:
  explicit CommandContext(Config config);
  ~CommandContext();

  const Config& config() const { return config_; }
  boost::asio::io_context& io() { return io_; }

  // Opened on first use. Throws StoreError.
  Store& store(StoreMode mode = StoreMode::durable);
  // Built on first use; reads the API key (UsageError when it is missing).
  PaletteClient& palette();
  std::vector<std::unique_ptr<Source>>& sources();
  Reconciler& reconciler(StoreMode mode = StoreMode::durable);

  // Runs `task` on the io_context to completion and returns its value,
  // rethrowing its exception.
  template <class T>
  T run(boost::asio::awaitable<T> task);

 private:
  Config config_;
  boost::asio::io_context io_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PaletteClient> palette_;
  std::vector<std::unique_ptr<Source>> sources_;
  bool sources_built_ = false;
  std::unique_ptr<Reconciler> reconciler_;
};

}  // namespace keywarden

#include "daemon/cli/command_context_run.h"

// The connector interface every identity source implements.
//
// A connector turns one IdP's dialect into Identity facts; it knows nothing
// of keys, policy or SQL. Poll sources answer read_all() with the whole
// directory; push sources (SCIM, hooks) have their state written by the HTTP
// layer as pushes arrive, and read_all() is not called for them.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/engine/identity.h"

namespace keywarden {

// A read that failed, timed out, was partial or invalid. The message names
// the source's file or URL and the problem, never a secret.
class SourceReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Source {
 public:
  explicit Source(SourceConfig config) : config_(std::move(config)) {}
  virtual ~Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const std::string& name() const { return config_.name; }
  const SourceConfig& config() const { return config_; }

  // True when read_all() gives the complete directory on every reconcile.
  virtual bool polls() const = 0;

  // A complete read of every identity the source has. Throws SourceReadError
  // on any failure; never returns a partial list. Runs blocking work (file
  // reads, parsing) off the calling executor.
  virtual boost::asio::awaitable<std::vector<Identity>> read_all() = 0;

 private:
  SourceConfig config_;
};

// Builds the connector for `config.type`. Throws std::invalid_argument for a
// type this build cannot serve yet.
std::unique_ptr<Source> make_source(const SourceConfig& config, boost::asio::any_io_executor executor);

}  // namespace keywarden

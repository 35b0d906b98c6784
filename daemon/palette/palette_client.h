// The Palette REST client: the only code that knows Palette's JSON and paths
// (reference/palette-api.md).
//
// Tenant scope only: it sends the `ApiKey` header and never a `ProjectUid`.
// Every request waits for its slot at `requests_per_second` (retries too), so
// the sustained rate never exceeds it. 429, 5xx and connection errors are
// retried with exponential backoff and full jitter, honouring Retry-After
// (seconds or an HTTP date), up to `max_attempts` attempts in all. The API key
// never appears in an exception message or a log line.
#pragma once

#include <utility>  // before Boost: 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "daemon/engine/palette_inventory.h"
#include "daemon/palette/palette_actions.h"

namespace keywarden {

struct PaletteClientOptions {
  std::string endpoint;  // "https://api.spectrocloud.com" (http:// only for local testing)
  std::string api_key;   // secret
  std::string ca_file;
  double requests_per_second = 5;
  std::chrono::milliseconds timeout{30000};  // per request
  int max_attempts = 8;
  std::chrono::milliseconds backoff_base{250};
  std::chrono::milliseconds backoff_max{30000};
};

struct PaletteClientStats {
  long requests = 0;      // HTTP exchanges attempted
  long retries = 0;
  long throttled = 0;     // 429 answers
  long server_errors = 0; // 5xx answers
  long connection_errors = 0;
};

class PaletteClient final : public PaletteActions {
 public:
  PaletteClient(boost::asio::any_io_executor executor, PaletteClientOptions options);
  ~PaletteClient() override;
  PaletteClient(const PaletteClient&) = delete;
  PaletteClient& operator=(const PaletteClient&) = delete;

  // GET /v1/users/info, GET /v1/users (limit=50, following `continue`),
  // GET /v1/teams (likewise) and GET /v1/apiKeys (following
  // listmeta.continue if it ever appears). Throws PaletteError on failure: a
  // partial inventory is never returned. The one exception is the team
  // listing: when it fails, every user's `teams` stays nullopt and
  // `teams_error` says why (teams only ever add stale-team findings, so
  // without them keywarden knows less but decides nothing wrong).
  // keywarden only reads teams; it never edits one.
  boost::asio::awaitable<PaletteInventory> read_inventory();

  // PUT /v1/apiKeys/{uid}/state with {"isActive": false|true}, always written out.
  boost::asio::awaitable<MutationResult> set_key_active(std::string key_uid, bool active) override;
  // DELETE /v1/apiKeys/{uid}.
  boost::asio::awaitable<MutationResult> delete_key(std::string key_uid) override;

  const PaletteClientStats& stats() const;

  // For a stopping daemon: the backoff waits in progress end at once, and
  // every request from now on fails (PaletteError, status 0) before its next
  // attempt. An attempt already on the wire ends by its own timeout at most.
  // Call on the executor's thread.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keywarden

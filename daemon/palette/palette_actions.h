// The Palette mutations the executor carries out, as an interface, so that
// the executor can be tested against a fake Palette (daemon/app/executor_test.cc)
// and PaletteClient stays the only implementation that talks HTTP.
#pragma once

#include <utility>  // before Boost: 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <stdexcept>
#include <string>

namespace keywarden {

// A read or mutation that could not be completed: a non-retryable answer, or
// retries exhausted. `http_status` is 0 for connection-level failures.
class PaletteError : public std::runtime_error {
 public:
  PaletteError(const std::string& what, int http_status, std::string code, int attempts)
      : std::runtime_error(what), http_status_(http_status), code_(std::move(code)), attempts_(attempts) {}
  int http_status() const { return http_status_; }
  const std::string& code() const { return code_; }  // V1Error code, if any
  int attempts() const { return attempts_; }
  // True when retrying later may succeed (429, 5xx, connection errors).
  bool transient() const { return http_status_ == 0 || http_status_ == 429 || http_status_ >= 500; }

 private:
  int http_status_;
  std::string code_;
  int attempts_;
};

// The outcome of a successful mutation. A 404 counts as done (already gone).
struct MutationResult {
  int http_status = 0;
  int attempts = 0;
};

// Contract of every implementation: a call returns a MutationResult once the
// mutation took effect (2xx) or the key is already gone (404), and throws
// PaletteError otherwise; PaletteError::transient() tells whether the action
// may succeed later (429, 5xx, connection) after the implementation's own
// retries ran out.
class PaletteActions {
 public:
  virtual ~PaletteActions() = default;
  // PUT /v1/apiKeys/{uid}/state with {"isActive": false|true}.
  virtual boost::asio::awaitable<MutationResult> set_key_active(std::string key_uid, bool active) = 0;
  // DELETE /v1/apiKeys/{uid}.
  virtual boost::asio::awaitable<MutationResult> delete_key(std::string key_uid) = 0;
};

}  // namespace keywarden

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
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/engine/identity.h"
#include "daemon/store/store.h"

namespace keywarden {

// A read that failed, timed out, was partial or invalid. The message names
// the source's file or URL and the problem, never a secret.
class SourceReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What one complete read found.
struct FullRead {
  std::vector<Identity> identities;            // the whole directory
  std::map<std::string, std::string> cursors;  // stored with it: where incremental reads start
};

// One membership change learnt from an event.
struct MembershipChange {
  std::string subject_id;
  std::string group;  // display name (entra: and object id, as two changes)
  bool member = false;
};

// What an incremental read or a push found: applied to the store in one
// transaction together with the new cursors.
struct ChangeSet {
  std::vector<Identity> identities;  // upserts of whole identities
  bool groups_known = false;         // true: identities[i].groups is complete
  std::vector<MembershipChange> memberships;
  std::map<std::string, std::string> cursors;
  // The cursor is gone (Graph 410 / syncStateNotFound, an Okta link that no
  // longer works): nothing was read, and the next read must be a full one.
  bool resync_required = false;
};

// A request delivered to /hooks/<type>/<source> (or /ssf/<source>).
struct PushRequest {
  std::string method;
  std::string path;   // below the source's base path, "" or "/…"
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

struct PushResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  std::set<std::string> affected_emails;  // owners to reconcile at once (normalized)
  bool read_changes_now = false;          // e.g. a Graph notification: run an incremental read
};

// What a push handler may use. The daemon calls handle_push on its store
// thread inside a write transaction and answers only after it commits, so
// everything written through `store` is durable before the IdP hears 2xx.
struct PushContext {
  Store& store;
  Timestamp now;
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
  virtual boost::asio::awaitable<FullRead> read_all() = 0;

  // True when read_changes() can follow stored cursors between full reads.
  virtual bool reads_incrementally() const { return false; }
  // Changes since `cursors` (as stored by the previous read). Throws
  // SourceReadError on failure; a lost cursor is resync_required instead.
  virtual boost::asio::awaitable<ChangeSet> read_changes(std::map<std::string, std::string> cursors);

  // True when the source takes pushes on its hook path.
  virtual bool accepts_pushes() const { return false; }
  // Handles one push synchronously (no network I/O: it runs inside a store
  // transaction). Never throws for bad input: answers 4xx instead.
  virtual PushResponse handle_push(const PushRequest& request, PushContext& context);

 private:
  SourceConfig config_;
};

// Builds the connector for `config.type`. Throws std::invalid_argument for a
// type this build cannot serve yet.
std::unique_ptr<Source> make_source(const SourceConfig& config, boost::asio::any_io_executor executor);

}  // namespace keywarden

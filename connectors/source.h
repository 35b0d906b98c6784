// The connector interface every identity source implements.
//
// A connector turns one IdP's dialect into identity facts; it knows nothing
// of keys, policy or SQL, and holds no Store. What it learns it returns:
// a FullRead (the whole directory) or a ChangeSet (what changed), and the
// daemon has the store apply it in one transaction. A connector that keeps
// state between reads (a cursor, a stream id) returns it as cursors and is
// handed all of it back on the next call.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/engine/identity.h"
#include "daemon/engine/time_point.h"
#include "daemon/store/pushed_resources.h"
#include "daemon/store/source_facts.h"

namespace keywarden {


// A read that failed, timed out, was partial or invalid. The message names
// the source's file or URL and the problem, never a secret.
class SourceReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a read may need besides the source's own config.
struct ReadContext {
  Timestamp now{};
  // The owners of Palette keys keywarden may act on (normalized emails,
  // exempt users left out), from the last Palette inventory: a source that
  // can only be asked person by person asks about these.
  std::vector<std::string> owner_emails;
  // Everything this source stored (its cursors), by name.
  std::map<std::string, std::string> state;
};

// What one complete read found.
struct FullRead {
  std::vector<Identity> identities;            // the whole directory
  std::map<std::string, std::string> cursors;  // stored with it: where incremental reads start
};

// What an incremental read found: facts the store applies in one
// transaction together with the new cursors.
struct ChangeSet : IdentityChanges {
  // The cursor is gone (Graph 410 / syncStateNotFound, an Okta link that no
  // longer works): nothing was read, and the next read must be a full one.
  bool resync_required = false;
};

// A request delivered to the source's push route (SourceType::push_prefix
// followed by the source's name).
struct PushRequest {
  std::string method;
  std::string path;   // below the source's base path, "" or "/…"
  std::string query;  // raw, without "?"
  std::map<std::string, std::string> query_params;  // decoded; the first of repeated names
  std::map<std::string, std::string> headers;       // lower-cased names
  std::string body;   // empty when handed to authorize()
  bool tls = false;
  std::string base_url;  // scheme://host/<prefix><source>, for links in answers
};

struct PushContext;

struct PushResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  // Facts learnt: applied in the push's transaction before the answer is
  // sent. Only a 2xx answer's changes are applied.
  IdentityChanges changes;
  bool read_changes_now = false;  // e.g. a Graph notification: run an incremental read
  // Set on a 2xx: the push is not finished, and this does the rest. The
  // daemon commits this part's changes and calls it later with a fresh
  // context, in the same transaction or, when other pushes wait, after them,
  // so that one huge push (100,000 members added to a group) never holds a
  // leaver's deactivation back for more than a step. The client's answer is
  // the last step's. A failed step ends the push with its answer and the
  // steps before it stay: split only changes that are safe to apply in part
  // and to resend (adding and removing SCIM members by value).
  std::function<PushResponse(const PushContext&)> next_step;
};

// What a push handler may use. The daemon calls handle_push on its store
// thread inside a write transaction, applies the answer's changes in it, and
// answers only after it commits: a 2xx means durable.
struct PushContext {
  Timestamp now{};
  const SourceFacts& known;
  // Storage of the source's own pushed resources (a SCIM service provider's
  // Users and Groups), in the same transaction.
  PushedResources& resources;
};

// What a periodic upkeep asks the daemon to record.
struct UpkeepResult {
  std::map<std::string, std::string> cursors;  // stored values to set
  // Set: the source is unhealthy for this reason (e.g. its event stream is
  // paused, so leavers may be going unheard). Never a secret.
  std::optional<std::string> unhealthy;
  // Set: something failed that reads do not depend on (a subscription not
  // renewed while polling goes on): logged, the source stays as it is.
  std::optional<std::string> warning;
};

// One sample a source adds to /metrics beside the daemon's own: a count or
// state only, never a secret or a key uid. The daemon adds the label
// `source` (the source's name); `labels` are the sample's others.
struct SourceMetric {
  std::string name;  // keywarden_<type>_..., the same name and help for every sample of a family
  std::string type;  // counter | gauge
  std::string help;
  std::map<std::string, std::string> labels;
  double value = 0;
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
  virtual boost::asio::awaitable<FullRead> read_all(const ReadContext& context);

  // True when read_changes() can follow stored cursors between full reads,
  // every `poll_interval` of the source's config.
  virtual bool reads_incrementally() const { return false; }
  // Changes since the stored `state` (everything this source stored). Throws
  // SourceReadError on failure; a lost cursor is resync_required instead.
  virtual boost::asio::awaitable<ChangeSet> read_changes(std::map<std::string, std::string> state);

  // True when the source takes pushes on its type's push route.
  virtual bool accepts_pushes() const { return false; }
  // Checks a push on its headers alone, before its body is read: an answer
  // refuses it (401), and the body is never read. Runs on the I/O thread;
  // must not block. The default accepts.
  virtual std::optional<PushResponse> authorize(const PushRequest& head) const;
  // Handles one push synchronously (no network I/O: it runs inside a store
  // transaction). Never throws for bad input: answers 4xx instead.
  virtual PushResponse handle_push(const PushRequest& request, const PushContext& context);
  // False when the push, by its method and path alone, is bulk traffic that
  // seldom ends anyone's access (a SCIM POST that creates a resource: what
  // an IdP's initial cycle sends by the thousand). Other pushes may tell of
  // a departure (a deactivation, a deletion, a group left, a compromise)
  // and go ahead of bulk traffic in the store's queue; bulk pushes are
  // still applied, in order, right after. The default: every push may.
  virtual bool may_report_departure(const PushRequest& head) const;

  // Periodic work besides reading (subscriptions to keep alive, a stream's
  // status), after every full reconcile and every incremental read. Runs on
  // the I/O thread: network through the async client only. Throws on
  // failure; the daemon logs it and goes on.
  virtual boost::asio::awaitable<UpkeepResult> upkeep(const ReadContext& context);
  // True when upkeep() does anything.
  virtual bool has_upkeep() const { return false; }

  // What the source adds to /metrics (SsfSource: SETs received and refused,
  // stream state). Thread-safe: called on the I/O thread while pushes run
  // on the store thread. The default adds nothing.
  virtual std::vector<SourceMetric> metrics() const { return {}; }

  // How often the daemon calls read_changes(): the `poll_interval` key, when
  // the source's type has one.
  std::optional<Duration> poll_interval() const;

 private:
  SourceConfig config_;
};

}  // namespace keywarden

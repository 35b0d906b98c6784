// type = "okta" (SPEC §3): an Okta org, polled through the Management API
// and its System Log, and pushed to through Event Hooks (SPEC §6
// /hooks/okta/<source>).
//
// Three ways in, one meaning:
// - read_all(): the whole directory (users, deactivated users too, and every
//   group's members), plus the System Log cursor "log_next" where
//   incremental reads start. Run it on every reconcile.
// - read_changes(): the System Log since "log_next", every poll_interval
//   (default 1m) between full reads.
// - handle_push(): Event Hook deliveries, at once, inside the daemon's
//   store transaction.
//
// read_all() and read_changes() must not run at the same time on one
// source (the daemon's loop serializes them); handle_push() may run beside
// either (it touches neither the network nor the reads' state).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "connectors/okta/okta_client.h"
#include "connectors/source.h"
#include "connectors/source_type.h"

namespace keywarden {

// System Log polling limits.
struct OktaLogOptions {
  // Pages (of Okta's default 100 events) one read_changes() follows before
  // it returns and leaves the rest to the next poll.
  int max_pages = 50;
  // Users whose current state one read_changes() fetches with
  // GET /api/v1/users/{id}; beyond it, the events' own word is used.
  int max_user_lookups = 100;
  // How far before the start of a full read its System Log cursor begins:
  // covers clock skew between this host and Okta. Events replayed from that
  // window are harmless (see read_changes()).
  std::chrono::seconds cursor_overlap{60};
};

// The declaration of type "okta": keys, push route, factory.
const SourceType& okta_source_type();

class OktaSource final : public Source {
 public:
  OktaSource(SourceConfig config, boost::asio::any_io_executor executor);
  // For tests: shorter waits, smaller pages.
  OktaSource(SourceConfig config, boost::asio::any_io_executor executor, OktaClientOptions client_options,
             OktaLogOptions log_options);

  bool polls() const override { return true; }

  // Lists GET /api/v1/users?limit=200&filter=status eq "DEPROVISIONED"
  // (Okta leaves those out unless asked), then GET /api/v1/users?limit=200
  // (every other status), then GET /api/v1/groups?limit=200 and
  // each group's GET /api/v1/groups/{id}/users?limit=200, following every
  // Link rel="next" exactly as given. Each identity carries the display names
  // (profile.name) of its groups. Returns cursors {"log_next": "<url>/api/v1/
  // logs?since=<start of the read − cursor_overlap>&sortOrder=ASCENDING"}.
  //
  // Throws SourceReadError when any page fails (a 4xx, a 5xx or connection
  // error after retries, a timeout, too much throttling, malformed JSON, a
  // next link that leads nowhere or off the org), when the token cannot be
  // read, or when no user at all is listed (an org always has the token's
  // owner): never a partial directory. Messages never hold the token.
  boost::asio::awaitable<FullRead> read_all(const ReadContext& context) override;

  bool reads_incrementally() const override { return true; }

  // GETs the stored "log_next" URL (whole, `after` included) and each next
  // link until a page comes back empty (or max_pages), and returns:
  // - memberships: group.user_membership.add/remove, the last word per
  //   (user, group) in `published` order;
  // - identities: for each user with a lifecycle event, the current state
  //   from GET /api/v1/users/{id} (404: deleted); a delete event, or more
  //   than max_user_lookups users, uses the last event's own word and the
  //   target's alternateId as email and userName. Current state rather than
  //   the event's word makes replays and out-of-order events harmless;
  // - cursors {"log_next": the last page's next link}; groups_known false.
  // resync_required (and nothing else) when "log_next" is missing, points
  // off the org, or answers 400, 404 or 410. Throws SourceReadError for
  // other failures; the cursor then stays where it was.
  boost::asio::awaitable<ChangeSet> read_changes(std::map<std::string, std::string> cursors) override;

  // True when a hook secret is configured; without one every push would be
  // refused, so the source takes none.
  bool accepts_pushes() const override;
  // 401 unless the hook_header carries the hook secret (compared in constant
  // time), before the body is read.
  std::optional<PushResponse> authorize(const PushRequest& head) const override;
  // See handle_okta_hook (okta_hook.h). The hook secret is read on the first
  // push and kept; if it cannot be read the answer is 503 (Okta retries once).
  PushResponse handle_push(const PushRequest& request, const PushContext& context) override;

 private:
  std::string read_token() const;
  // The bodies of read_all() and read_changes(), once the client is made.
  boost::asio::awaitable<FullRead> read_directory(OktaClient& client, Timestamp started);
  boost::asio::awaitable<ChangeSet> read_log(OktaClient& client, std::string url);

  boost::asio::any_io_executor executor_;
  OktaClientOptions client_options_;
  OktaLogOptions log_options_;
  OktaRateLimitGate gate_;
  // The hook secret, read once (outer optional: read yet?). authorize() runs
  // on the I/O thread and handle_push() on the store thread: guarded.
  std::optional<std::string> hook_secret() const;
  mutable std::mutex hook_secret_mutex_;
  mutable std::optional<std::string> hook_secret_;
};

}  // namespace keywarden

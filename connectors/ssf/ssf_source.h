// type = "ssf" (SPEC §8.1): an OpenID Shared Signals transmitter as a source
// of security events, pushed to /ssf/<source> (RFC 8935) or polled (RFC 8936).
//
// - authorize(): the push bearer, compared in constant time; 401 otherwise.
// - handle_push(): verifies the SET with the keys last fetched (no network:
//   it runs inside the daemon's store transaction) and answers 202 with its
//   facts, or 400 {"err","description"}. A SET naming an unknown kid is
//   refused and makes the next upkeep fetch the JWKS again.
// - read_changes(): with poll delivery, one poll exchange (see
//   TransmitterSession::poll); its acknowledgements wait in the returned
//   state until the next poll, so a jti is acknowledged only once committed.
//   With push delivery, nothing (see reads_incrementally()). Either way, while
//   the stored state says the stream is paused, disabled or unusable, it
//   checks the stream again first and fails (the source stays unhealthy)
//   unless the stream is usable and enabled now.
// - upkeep(): discovery, JWKS, stream, subjects, verification and status.
// It reports events, never a directory: polls() is false.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "connectors/source.h"
#include "connectors/source_type.h"
#include "connectors/ssf/transmitter_session.h"

namespace keywarden {

const SourceType& ssf_source_type();

class SsfSource : public Source {
 public:
  SsfSource(SourceConfig config, boost::asio::any_io_executor executor);

  bool polls() const override { return false; }
  // Both deliveries: poll reads SETs every poll_interval; push reads nothing,
  // but the daemon's upkeep after each incremental read is what reads the
  // stream status every poll_interval (SPEC §8.1), as for poll.
  bool reads_incrementally() const override { return true; }
  boost::asio::awaitable<ChangeSet> read_changes(std::map<std::string, std::string> state) override;

  bool accepts_pushes() const override { return push_; }
  std::optional<PushResponse> authorize(const PushRequest& head) const override;
  PushResponse handle_push(const PushRequest& request, const PushContext& context) override;

  bool has_upkeep() const override { return true; }
  boost::asio::awaitable<UpkeepResult> upkeep(const ReadContext& context) override;

  // keywarden_ssf_sets_total{result}, keywarden_ssf_sets_refused_total{err}
  // (since the daemon started), keywarden_ssf_stream_status{status},
  // keywarden_ssf_stream_verified and keywarden_ssf_stream_missing_events
  // (as the last upkeep, read or push left them).
  std::vector<SourceMetric> metrics() const override;

 private:
  std::optional<std::string> push_token() const;
  // Sets the running SET counts and the status_json object (over `stored`
  // and `cursors`) among `cursors`. Writes from pushes and reads may land in
  // either order, so a stored count can lag by one write; the next catches up.
  void with_totals(std::map<std::string, std::string>& cursors, const std::map<std::string, std::string>& stored);

  bool push_;
  TransmitterSession session_;
  mutable std::mutex push_token_mutex_;
  mutable std::optional<std::string> push_token_;
  SetTally tally_;
  // The stream as last written (with_totals), for metrics().
  mutable std::mutex stream_mutex_;
  std::string stream_status_;  // enabled | paused | disabled | "" (not read yet)
  bool verified_ = false;
  long missing_events_ = 0;
};

}  // namespace keywarden

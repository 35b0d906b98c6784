// keywarden's conversation with one Shared Signals transmitter: discovery,
// the JWKS, the stream (SSF 1.0 §8) and polling (RFC 8936).
//
// Every call is asynchronous through the Beast client (daemon/net) on the
// executor given; nothing blocks. Each request opens its own connection, so
// concurrent calls (an upkeep during a poll) never share one. Failures throw
// TransmitterError (an answer we cannot use) or boost::system::system_error
// (the network); their messages name URLs and statuses, never a token.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/ssf/set_intake.h"
#include "connectors/ssf/transmitter_wire.h"
#include "daemon/net/http_client.h"

namespace keywarden {

struct TransmitterSettings {
  std::string issuer;
  std::string audience;
  bool push = true;            // delivery = "push"; else poll
  std::string receiver_url;    // push: our /ssf/<source> as the transmitter reaches it
  std::string token;           // the bearer keywarden presents; empty: none
  std::string push_token;      // the bearer the transmitter must present on pushes
  CompromisePolicy on_compromise = CompromisePolicy::report;
  std::string description;     // the stream's description ("keywarden <source>")
  TlsOptions tls;
  std::chrono::milliseconds timeout{30000};
};

// The state names an ssf source stores (its cursors).
namespace ssf_state {
inline constexpr const char* kStreamId = "stream_id";
inline constexpr const char* kStreamStatus = "stream_status";        // enabled | paused | disabled | ""
inline constexpr const char* kPollEndpoint = "poll_endpoint";
inline constexpr const char* kMissingEvents = "missing_events";      // JSON array
inline constexpr const char* kVerificationState = "verification_state";
inline constexpr const char* kVerified = "verified";                 // "true" | "false"
inline constexpr const char* kSubjectsAdded = "subjects_added";      // JSON array of emails
inline constexpr const char* kPendingAcks = "pending_acks";          // JSON array of jtis
inline constexpr const char* kPendingSetErrs = "pending_set_errs";   // JSON object jti → {err, description}
inline constexpr const char* kRecentJtis = "recent_jtis";            // JSON array, newest last
inline constexpr const char* kStatusJson = "status_json";
inline constexpr const char* kSetCounts = "set_counts";              // SetCounts as JSON
// Why the last upkeep found the source unhealthy ("" when it did not): a
// read_changes() checks again before it lets the daemon call it healthy.
inline constexpr const char* kUnhealthyReason = "unhealthy_reason";
}  // namespace ssf_state

// What a poll (read_changes) brought: facts to commit with the new state.
struct PollOutcome {
  std::vector<Identity> identities;
  std::vector<std::string> notes;
  std::vector<std::string> event_ids;          // jtis applied now
  std::map<std::string, std::string> state;    // pending acks / errors / recent jtis / stream facts
  int received = 0;
  int duplicates = 0;                          // acknowledged, applied before
  std::map<std::string, int> refused;          // by err code
};

// What an upkeep decided.
struct StreamUpkeep {
  std::map<std::string, std::string> state;
  std::optional<std::string> unhealthy;
};

class TransmitterSession {
 public:
  TransmitterSession(boost::asio::any_io_executor executor, TransmitterSettings settings);

  const TransmitterSettings& settings() const { return settings_; }
  TransmitterKeys& keys() { return keys_; }

  // Reads the metadata (ssf-configuration, then risc-configuration on 404)
  // and checks its issuer. Remembers it for the calls below.
  boost::asio::awaitable<TransmitterMetadata> discover();

  // Fetches the JWKS of the discovered metadata when there are no keys yet,
  // or a SET named an unknown kid and the last fetch is a minute old.
  // Returns true when it fetched.
  boost::asio::awaitable<bool> refresh_keys(Timestamp now);

  // SSF 1.0 §8: finds or creates our stream, asks for verification after
  // creating one, adds `owner_emails` as subjects when the transmitter's
  // default_subjects is NONE, and reads the stream status. `state` is what
  // the source stored. Unhealthy when the metadata is unusable or the stream
  // is paused or disabled.
  boost::asio::awaitable<StreamUpkeep> upkeep(std::map<std::string, std::string> state,
                                              std::vector<std::string> owner_emails, Timestamp now);

  // One RFC 8936 poll round trip and more while moreAvailable (at most
  // kMaxPollRounds). Acknowledges the jtis `state` holds as pending (those
  // were committed with it); the SETs received now are acknowledged by the
  // next poll, after the caller commits the outcome.
  boost::asio::awaitable<PollOutcome> poll(std::map<std::string, std::string> state, Timestamp now);

  static constexpr int kMaxPollRounds = 20;
  static constexpr int kMaxEventsPerPoll = 50;
  static constexpr size_t kRecentJtisKept = 2000;
  static constexpr size_t kSubjectsPerUpkeep = 200;

 private:
  // Coroutines take their arguments by value: a reference parameter would
  // dangle once the caller's temporaries are gone.
  boost::asio::awaitable<HttpResponse> call(std::string method, std::string url, std::string body, bool bearer);

  boost::asio::any_io_executor executor_;
  TransmitterSettings settings_;
  TransmitterKeys keys_;
  std::optional<TransmitterMetadata> metadata_;
};

// The "status_json" object of an ssf source from its state:
// {"stream": {"id", "status", "verified", "missing_events"},
//  "sets": {"received", "applied", "duplicate", "noted", "refused": {err: n}}}.
std::string stream_status_json(const std::map<std::string, std::string>& state);

}  // namespace keywarden

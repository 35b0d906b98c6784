// Taking in one SET, pushed (RFC 8935) or polled (RFC 8936): verification,
// de-duplication by jti and the facts it carries. Pure (the time, the keys
// and "was this jti seen" are arguments), so push and poll share it and it
// is tested without a network.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/ssf/set_events.h"
#include "connectors/ssf/set_verifier.h"

namespace keywarden {

// The transmitter's signing keys as last fetched, shared between the I/O
// thread (which fetches) and the store thread (which verifies pushes).
// Thread-safe.
class TransmitterKeys {
 public:
  // nullptr until the first good fetch.
  std::shared_ptr<const SigningKeys> current() const;
  void replace(std::shared_ptr<const SigningKeys> keys, Timestamp fetched_at);
  // A SET named a kid the keys lack: the next upkeep fetches them again.
  void want_refetch();
  bool refetch_wanted() const;
  // SPEC §8.1: a JWKS is fetched again at most once a minute.
  bool may_fetch(Timestamp now) const;

  static constexpr Duration kMinRefetchInterval{60};

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const SigningKeys> keys_;
  std::optional<Timestamp> fetched_at_;
  bool refetch_wanted_ = false;
};

// What one SET came to.
struct SetOutcome {
  std::string jti;                   // the verified jti (empty when refused)
  std::optional<SetRefusal> refusal;  // set: nothing of it may be applied
  bool duplicate = false;            // verified, but its jti was applied before: acknowledge only
  SetFacts facts;                    // to apply, when neither refused nor duplicate
};

struct IntakeSettings {
  SetExpectations expect;
  CompromisePolicy on_compromise = CompromisePolicy::report;
};

// Verifies `compact` with `keys` and reads its facts. `seen(jti)` says
// whether the jti was applied before.
SetOutcome take_set(std::string_view compact, const SigningKeys& keys, const IntakeSettings& settings,
                    const std::function<bool(const std::string&)>& seen);

// True when `authorization` is "Bearer <expected>" (scheme in any case), the
// token compared with secret_matches (constant time; an empty `expected`
// matches nothing).
bool bearer_matches(std::string_view authorization, std::string_view expected);

// The answer to one push (RFC 8935 §2.2/§2.3).
struct PushAnswer {
  int status = 202;
  std::string body;  // empty for 202; {"err","description"} for 400
  std::string content_type;
  SetOutcome outcome;
};

// Answers a POSTed SET. `keys` is nullptr while the transmitter's keys are
// not known yet: then 503 (the transmitter should retry), never a guess.
// 400 for a wrong content type or any refusal, with the RFC's err code;
// 202 for a good SET, a duplicate included. The bearer is checked before
// (Source::authorize), so nothing here reads a secret.
PushAnswer answer_push(std::string_view content_type, std::string_view body, const SigningKeys* keys,
                       const IntakeSettings& settings, const std::function<bool(const std::string&)>& seen);

// SETs taken in, by what became of them (SPEC §8.1: per-source events
// received and refused by err, shown by `status --json`).
struct SetCounts {
  long received = 0;   // past the bearer check, with a SET media type or from a poll
  long applied = 0;    // new and committed
  long duplicate = 0;  // a jti applied before: acknowledged only
  long noted = 0;      // events that change nothing (other types, compromise reported, no joinable subject)
  std::map<std::string, long> refused;  // by RFC 8935 err code

  void add(const SetCounts& more);
  nlohmann::json to_json() const;
  // Unusable JSON reads as zero counts.
  static SetCounts from_json(std::string_view text);
};

// What one push came to, as counts (a 503 for want of keys counts nothing).
SetCounts counts_of(const PushAnswer& answer);

// A source's running totals, stored with its state as JSON. A refused push
// writes nothing to the store, so counts wait here until the source's next
// write; the stored totals are read once, the first time any are passed in.
// Thread-safe (pushes count on the store thread, polls on the I/O thread).
class SetTally {
 public:
  void count(const SetCounts& counts);
  // The totals: `stored` (read at the first call only; nullopt: nothing
  // stored yet) plus everything counted.
  SetCounts totals(const std::optional<std::string>& stored);
  // Everything counted since this tally was made (the daemon's start): what
  // /metrics reports, as Prometheus counters that restart at zero.
  SetCounts since_start() const;

 private:
  mutable std::mutex mutex_;
  bool loaded_ = false;
  SetCounts totals_;
  SetCounts since_start_;
};

}  // namespace keywarden

#include "connectors/ssf/ssf_source.h"

#include <nlohmann/json.hpp>

namespace keywarden {

namespace net = boost::asio;
using nlohmann::json;

namespace {

std::string secret_or_empty(const SourceConfig& config, const std::string& base) {
  const SecretRef ref = config.secret(base);
  if (ref.empty()) return {};
  try {
    return read_secret(ref);
  } catch (const std::exception&) {
    return {};  // read again on first use; read_secret's message is reported there
  }
}

TransmitterSettings settings_of(const SourceConfig& config) {
  TransmitterSettings settings;
  settings.issuer = config.get("issuer");
  settings.audience = config.get("audience");
  settings.push = config.get("delivery") == "push";
  settings.receiver_url = config.get("receiver_url");
  settings.token = secret_or_empty(config, "token");
  settings.push_token = secret_or_empty(config, "push_token");
  settings.on_compromise =
      config.get("on_compromise") == "revoke" ? CompromisePolicy::revoke : CompromisePolicy::report;
  settings.description = "keywarden " + config.name;
  return settings;
}

PushResponse plain(int status, std::string body) {
  PushResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

const SourceType& ssf_source_type() {
  static const SourceType type{
      {"ssf",
       {{"issuer", ValueKind::url, true, {}, {}, "the transmitter's issuer; its metadata gives jwks_uri and endpoints"},
        {"audience", ValueKind::text, true, {}, {}, "the aud every SET must name"},
        {"delivery", ValueKind::choice, true, {}, {"push", "poll"}, "push (RFC 8935) or poll (RFC 8936)"},
        {"receiver_url", ValueKind::url, false, {}, {}, "the public URL of /ssf/<source>, for push streams"},
        {"token", ValueKind::secret, false, {}, {}, "the bearer token keywarden presents to the transmitter"},
        {"push_token", ValueKind::secret, false, {}, {}, "the bearer token the transmitter presents on pushes"},
        {"on_compromise", ValueKind::choice, false, "report", {"report", "revoke"},
         "credential-compromise and session-revoked: report, or revoke with credential_compromise"},
        {"poll_interval", ValueKind::duration, false, "30s", {}, "how often a poll stream and the stream status are read"}},
       {},
       "an OpenID Shared Signals (SSF/CAEP/RISC) transmitter, pushed or polled"},
      "/ssf/", "ssf",
      [](const SourceConfig& config, net::any_io_executor executor) -> std::unique_ptr<Source> {
        return std::make_unique<SsfSource>(config, std::move(executor));
      },
  };
  return type;
}

SsfSource::SsfSource(SourceConfig config, net::any_io_executor executor)
    : Source(with_defaults(std::move(config), ssf_source_type().schema)),
      push_(this->config().get("delivery") == "push"),
      session_(std::move(executor), settings_of(this->config())) {}

std::optional<std::string> SsfSource::push_token() const {
  const std::lock_guard lock(push_token_mutex_);
  if (!push_token_) {
    const SecretRef ref = config().secret("push_token");
    if (ref.empty()) return std::nullopt;
    try {
      push_token_ = read_secret(ref);
    } catch (const std::exception&) {
      return std::nullopt;  // not kept: a file that appears later is picked up
    }
  }
  return push_token_;
}

std::optional<PushResponse> SsfSource::authorize(const PushRequest& head) const {
  const std::optional<std::string> expected = push_token();
  const auto presented = head.headers.find("authorization");
  if (!expected || presented == head.headers.end() || !bearer_matches(presented->second, *expected)) {
    PushResponse r = plain(401, R"({"err":"authentication_failed","description":"missing or wrong bearer token"})");
    r.headers["WWW-Authenticate"] = "Bearer";
    return r;
  }
  return std::nullopt;
}

PushResponse SsfSource::handle_push(const PushRequest& request, const PushContext& context) {
  if (!push_) return plain(404, R"({"err":"invalid_request","description":"this source polls its transmitter"})");
  if (request.path != "" && request.path != "/") return plain(404, R"({"err":"invalid_request","description":"no such path"})");
  if (request.method != "POST") {
    PushResponse r = plain(405, R"({"err":"invalid_request","description":"SETs are POSTed"})");
    r.headers["Allow"] = "POST";
    return r;
  }
  const auto content_type = request.headers.find("content-type");
  const std::shared_ptr<const SigningKeys> keys = session_.keys().current();
  IntakeSettings intake{{session_.settings().issuer, session_.settings().audience, context.now},
                        session_.settings().on_compromise};
  PushAnswer answer = answer_push(content_type == request.headers.end() ? "" : content_type->second, request.body,
                                  keys.get(), intake,
                                  [&](const std::string& jti) { return context.known.event_seen(jti); });
  if (answer.outcome.refusal && answer.outcome.refusal->unknown_kid) session_.keys().want_refetch();

  tally_.count(counts_of(answer));

  PushResponse response;
  response.status = answer.status;
  response.body = std::move(answer.body);
  response.content_type = answer.content_type;
  if (answer.status != 202) return response;

  std::map<std::string, std::string> stored;
  for (const char* name : {ssf_state::kStreamId, ssf_state::kStreamStatus, ssf_state::kVerified,
                           ssf_state::kMissingEvents, ssf_state::kSetCounts}) {
    if (auto value = context.known.state(name)) stored[name] = *value;
  }
  std::map<std::string, std::string> cursors;
  if (!answer.outcome.duplicate) {
    SetFacts& facts = answer.outcome.facts;
    // A stream-updated event: read at once, which checks the stream's status
    // (see read_changes) rather than leaving the source as this 202 marks it.
    response.read_changes_now = facts.stream_status.has_value();
    response.changes.identities = std::move(facts.identities);
    response.changes.event_ids.push_back(answer.outcome.jti);
    response.changes.notes = std::move(facts.notes);
    if (facts.stream_status) cursors[ssf_state::kStreamStatus] = *facts.stream_status;
    if (facts.verification_state &&
        *facts.verification_state == context.known.state(ssf_state::kVerificationState).value_or("\x01")) {
      cursors[ssf_state::kVerified] = "true";
    }
  }
  with_totals(cursors, stored);
  response.changes.cursors = std::move(cursors);
  return response;
}

void SsfSource::with_totals(std::map<std::string, std::string>& cursors,
                            const std::map<std::string, std::string>& stored) {
  const auto counts = stored.find(ssf_state::kSetCounts);
  const SetCounts totals =
      tally_.totals(counts == stored.end() ? std::nullopt : std::optional<std::string>(counts->second));
  cursors[ssf_state::kSetCounts] = totals.to_json().dump();
  std::map<std::string, std::string> merged = stored;
  for (const auto& [name, value] : cursors) merged[name] = value;
  cursors[ssf_state::kStatusJson] = stream_status_json(merged);

  const auto value = [&](const char* name) {
    const auto it = merged.find(name);
    return it == merged.end() ? std::string() : it->second;
  };
  const json missing = json::parse(value(ssf_state::kMissingEvents), nullptr, false);
  const std::lock_guard lock(stream_mutex_);
  stream_status_ = value(ssf_state::kStreamStatus);
  verified_ = value(ssf_state::kVerified) == "true";
  missing_events_ = missing.is_array() ? static_cast<long>(missing.size()) : 0;
}

std::vector<SourceMetric> SsfSource::metrics() const {
  std::vector<SourceMetric> out;
  const SetCounts counts = tally_.since_start();
  const char* sets_help = "SETs taken in since the daemon started: received (past the bearer check), "
                          "applied, duplicate (acknowledged only), noted (events that changed nothing).";
  for (const auto& [result, n] : {std::pair<const char*, long>{"received", counts.received},
                                  {"applied", counts.applied},
                                  {"duplicate", counts.duplicate},
                                  {"noted", counts.noted}}) {
    out.push_back({"keywarden_ssf_sets_total", "counter", sets_help, {{"result", result}}, static_cast<double>(n)});
  }
  // Every err code of RFC 8935 from the start, so that a rate() over any of
  // them has a series before its first refusal.
  std::map<std::string, long> refused;
  for (SetErrorCode code : {SetErrorCode::invalid_request, SetErrorCode::invalid_key, SetErrorCode::invalid_issuer,
                             SetErrorCode::invalid_audience}) {
    refused[std::string(to_string(code))] = 0;
  }
  for (const auto& [err, n] : counts.refused) refused[err] = n;
  for (const auto& [err, n] : refused) {
    out.push_back({"keywarden_ssf_sets_refused_total", "counter",
                   "SETs refused since the daemon started, by the RFC 8935 err code sent back (push) or "
                   "reported in setErrs (poll).",
                   {{"err", err}},
                   static_cast<double>(n)});
  }

  const std::lock_guard lock(stream_mutex_);
  for (const char* status : {"enabled", "paused", "disabled", "unknown"}) {
    const bool current = stream_status_ == status || (stream_status_.empty() && std::string_view(status) == "unknown");
    out.push_back({"keywarden_ssf_stream_status", "gauge",
                   "1 for the stream's status as last read from the transmitter (unknown: not read yet).",
                   {{"status", status}},
                   current ? 1.0 : 0.0});
  }
  out.push_back({"keywarden_ssf_stream_verified", "gauge",
                 "1 once the transmitter delivered the verification event keywarden asked for.", {},
                 verified_ ? 1.0 : 0.0});
  out.push_back({"keywarden_ssf_stream_missing_events", "gauge",
                 "Event types keywarden needs that the stream's events_delivered lacks.", {},
                 static_cast<double>(missing_events_)});
  return out;
}

net::awaitable<ChangeSet> SsfSource::read_changes(std::map<std::string, std::string> state) {
  const Timestamp now = now_utc();
  ChangeSet changes;
  try {
    // A good incremental read makes the daemon mark the source healthy. While
    // the last upkeep (or a stream-updated event) says the stream is paused,
    // disabled or unusable, check again first and fail the read if it still
    // is: the source stays unhealthy until the stream is enabled, instead of
    // turning healthy at every read until the upkeep after it says otherwise.
    const std::string stored_status =
        state.count(ssf_state::kStreamStatus) ? state.at(ssf_state::kStreamStatus) : std::string();
    const auto reason = state.find(ssf_state::kUnhealthyReason);
    const bool was_unhealthy = (reason != state.end() && !reason->second.empty()) || stored_status == "paused" ||
                               stored_status == "disabled";
    // Poll delivery with no stream set up yet: set it up now, then poll.
    if (was_unhealthy || (!push_ && !state.count(ssf_state::kPollEndpoint))) {
      auto checking = session_.upkeep(state, {}, now);
      StreamUpkeep check = co_await std::move(checking);
      if (check.unhealthy) throw SourceReadError(*check.unhealthy);
      for (auto& [name, value] : check.state) state[name] = value;
      changes.cursors = std::move(check.state);
    }
    if (!push_) {
      auto polling = session_.poll(state, now);
      PollOutcome outcome = co_await std::move(polling);
      SetCounts counts;
      counts.received = outcome.received;
      counts.applied = static_cast<long>(outcome.event_ids.size());
      counts.duplicate = outcome.duplicates;
      counts.noted = static_cast<long>(outcome.notes.size());
      for (const auto& [err, n] : outcome.refused) counts.refused[err] = n;
      tally_.count(counts);
      changes.identities = std::move(outcome.identities);
      changes.event_ids = std::move(outcome.event_ids);
      changes.notes = std::move(outcome.notes);
      for (auto& [name, value] : outcome.state) changes.cursors[name] = std::move(value);
    }
    with_totals(changes.cursors, state);
  } catch (const TransmitterError& e) {
    throw SourceReadError(e.what());
  } catch (const boost::system::system_error& e) {
    throw SourceReadError("SSF transmitter " + session_.settings().issuer + ": " + e.code().message());
  }
  co_return changes;
}

net::awaitable<UpkeepResult> SsfSource::upkeep(const ReadContext& context) {
  UpkeepResult result;
  auto keeping_up = session_.upkeep(context.state, context.owner_emails, context.now);
  StreamUpkeep upkeep = co_await std::move(keeping_up);
  result.cursors = std::move(upkeep.state);
  with_totals(result.cursors, context.state);
  result.unhealthy = std::move(upkeep.unhealthy);
  co_return result;
}

}  // namespace keywarden

#include "connectors/ssf/transmitter_session.h"

#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/net/url.h"

namespace keywarden {

namespace {

using nlohmann::json;

std::string state_value(const std::map<std::string, std::string>& state, const char* name) {
  const auto it = state.find(name);
  return it == state.end() ? std::string() : it->second;
}

json state_json(const std::map<std::string, std::string>& state, const char* name, json fallback) {
  const auto it = state.find(name);
  if (it == state.end()) return fallback;
  json parsed = json::parse(it->second, nullptr, false);
  return parsed.type() == fallback.type() ? parsed : fallback;
}

std::string with_query(const std::string& url, const std::string& name, const std::string& value) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + name + "=" + url_encode(value);
}

std::string random_state() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw TransmitterError("no randomness for a verification state");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

void expect_status(const HttpResponse& response, std::initializer_list<int> accepted, const std::string& what) {
  if (std::find(accepted.begin(), accepted.end(), response.status) != accepted.end()) return;
  throw TransmitterError(what + " answered HTTP " + std::to_string(response.status) + ": " +
                         printable_snippet(response.body));
}

// The JSON bodies are built outside the coroutines below: GCC 12 cannot keep
// the string-literal arrays of a braced json initializer in a coroutine frame.
std::string verification_body(const std::string& stream_id, const std::string& state) {
  return json{{"stream_id", stream_id}, {"state", state}}.dump();
}

std::string add_subject_body(const std::string& stream_id, const std::string& email) {
  return json{{"stream_id", stream_id}, {"subject", {{"format", "email"}, {"email", email}}}, {"verified", true}}.dump();
}

json set_err_entry(const SetRefusal& refusal) {
  return json{{"err", to_string(refusal.err)}, {"description", refusal.description}};
}

// The setErrs the previous poll stored, as refusals to send again.
std::map<std::string, SetRefusal> stored_set_errs(const json& stored) {
  std::map<std::string, SetRefusal> out;
  for (const auto& [jti, error] : stored.items()) {
    if (!error.is_object()) continue;
    SetRefusal refusal{SetErrorCode::invalid_request, error.value("description", std::string())};
    const std::string err = error.value("err", std::string());
    for (SetErrorCode code : {SetErrorCode::invalid_key, SetErrorCode::invalid_issuer, SetErrorCode::invalid_audience}) {
      if (err == to_string(code)) refusal.err = code;
    }
    out[jti] = refusal;
  }
  return out;
}

}  // namespace

TransmitterSession::TransmitterSession(boost::asio::any_io_executor executor, TransmitterSettings settings)
    : executor_(std::move(executor)), settings_(std::move(settings)) {}

boost::asio::awaitable<HttpResponse> TransmitterSession::call(std::string method, std::string url, std::string body,
                                                              bool bearer) {
  const std::optional<Url> parsed = parse_url(url);
  if (!parsed) throw TransmitterError("the transmitter gave an unusable URL: " + url);
  HttpClient client(executor_, *parsed, settings_.tls, settings_.timeout, 4 * 1024 * 1024);
  HttpRequest request;
  request.method = method;
  request.target = parsed->target;
  request.headers["Accept"] = "application/json";
  if (!body.empty()) request.headers["Content-Type"] = "application/json";
  if (bearer && !settings_.token.empty()) request.headers["Authorization"] = "Bearer " + settings_.token;
  request.body = body;
  auto sent = client.send(std::move(request));
  HttpResponse response = co_await std::move(sent);
  co_return response;
}

boost::asio::awaitable<TransmitterMetadata> TransmitterSession::discover() {
  const std::vector<std::string> urls = metadata_urls(settings_.issuer);
  for (size_t i = 0; i < urls.size(); ++i) {
    auto fetching_metadata = call("GET", urls[i], "", false);
    const HttpResponse response = co_await std::move(fetching_metadata);
    if (response.status == 404 && i + 1 < urls.size()) continue;  // SSF first, the RISC name on 404
    expect_status(response, {200}, "the transmitter metadata at " + urls[i]);
    metadata_ = TransmitterMetadata::parse(response.body, settings_.issuer);
    co_return *metadata_;
  }
  throw TransmitterError("no transmitter metadata for " + settings_.issuer);
}

boost::asio::awaitable<bool> TransmitterSession::refresh_keys(Timestamp now) {
  if (!keys_.refetch_wanted() || !keys_.may_fetch(now)) co_return false;
  if (!metadata_) {
    auto discovery = discover();
    co_await std::move(discovery);
  }
  auto fetching_jwks = call("GET", metadata_->jwks_uri, "", false);
  const HttpResponse response = co_await std::move(fetching_jwks);
  expect_status(response, {200}, "the JWKS at " + metadata_->jwks_uri);
  try {
    keys_.replace(std::make_shared<const SigningKeys>(SigningKeys::parse(response.body)), now);
  } catch (const SigningKeysError& e) {
    throw TransmitterError("the JWKS at " + metadata_->jwks_uri + ": " + e.what());
  }
  co_return true;
}

boost::asio::awaitable<StreamUpkeep> TransmitterSession::upkeep(std::map<std::string, std::string> state,
                                                                std::vector<std::string> owner_emails, Timestamp now) {
  StreamUpkeep out;
  TransmitterMetadata metadata;
  try {
    auto discovery = discover();
    metadata = co_await std::move(discovery);
  } catch (const TransmitterError& e) {
    // An issuer mismatch or garbage: trust no key of it from now on.
    metadata_.reset();
    keys_.replace(nullptr, now);
    keys_.want_refetch();
    out.unhealthy = e.what();
    out.state[ssf_state::kUnhealthyReason] = *out.unhealthy;
    co_return out;
  }
  auto refresh = refresh_keys(now);
  co_await std::move(refresh);

  std::string stream_id = state_value(state, ssf_state::kStreamId);
  std::string status = state_value(state, ssf_state::kStreamStatus);
  if (!metadata.configuration_endpoint.empty()) {
    const std::string endpoint = metadata.configuration_endpoint;
    auto listing = call(
        "GET", stream_id.empty() ? endpoint : with_query(endpoint, "stream_id", stream_id), "", true);
    const HttpResponse listed = co_await std::move(listing);
    std::vector<StreamConfig> streams;
    if (listed.status == 200) {
      streams = parse_streams(listed.body);
    } else if (listed.status != 404) {
      expect_status(listed, {200, 404}, "the stream configuration at " + endpoint);
    }
    const auto ours = std::find_if(streams.begin(), streams.end(), [&](const StreamConfig& s) {
      return settings_.push ? is_push_delivery(s.delivery_method) && s.endpoint_url == settings_.receiver_url
                            : is_poll_delivery(s.delivery_method);
    });
    StreamConfig stream;
    bool created = false;
    if (ours != streams.end()) {
      stream = *ours;
    } else {
      auto creating = call(
          "POST", endpoint,
          stream_creation_body(settings_.push, settings_.receiver_url, settings_.push_token,
                               requested_event_types(), settings_.description),
          true);
      const HttpResponse made = co_await std::move(creating);
      expect_status(made, {200, 201}, "creating a stream at " + endpoint);
      const std::vector<StreamConfig> made_streams = parse_streams(made.body);
      if (made_streams.empty() || made_streams[0].stream_id.empty()) {
        throw TransmitterError("creating a stream at " + endpoint + " gave no stream_id");
      }
      stream = made_streams[0];
      created = true;
    }
    stream_id = stream.stream_id;
    out.state[ssf_state::kStreamId] = stream_id;
    if (!settings_.push) out.state[ssf_state::kPollEndpoint] = stream.endpoint_url;
    out.state[ssf_state::kMissingEvents] = json(missing_events(stream, requested_event_types())).dump();

    if (created && !metadata.verification_endpoint.empty()) {
      const std::string verification = random_state();
      auto asking_verification = call(
          "POST", metadata.verification_endpoint, verification_body(stream_id, verification), true);
      const HttpResponse asked = co_await std::move(asking_verification);
      expect_status(asked, {200, 202, 204}, "the verification request at " + metadata.verification_endpoint);
      out.state[ssf_state::kVerificationState] = verification;
      out.state[ssf_state::kVerified] = "false";
    }

    if (metadata.default_subjects == "NONE" && !metadata.add_subject_endpoint.empty()) {
      json added = state_json(state, ssf_state::kSubjectsAdded, json::array());
      std::set<std::string> known(added.begin(), added.end());
      size_t sent = 0;
      for (const std::string& email : owner_emails) {
        if (known.count(email) || sent >= kSubjectsPerUpkeep) continue;
        auto adding_subject = call(
            "POST", metadata.add_subject_endpoint,
            add_subject_body(stream_id, email), true);
        const HttpResponse response = co_await std::move(adding_subject);
        expect_status(response, {200, 204}, "adding a subject at " + metadata.add_subject_endpoint);
        added.push_back(email);
        known.insert(email);
        ++sent;
      }
      out.state[ssf_state::kSubjectsAdded] = added.dump();
    }
  }
  if (!metadata.status_endpoint.empty() && !stream_id.empty()) {
    auto reading_status = call("GET", with_query(metadata.status_endpoint, "stream_id", stream_id), "", true);
    const HttpResponse answer = co_await std::move(reading_status);
    expect_status(answer, {200}, "the stream status at " + metadata.status_endpoint);
    status = parse_stream_status(answer.body);
  }
  out.state[ssf_state::kStreamStatus] = status;
  if (status == "paused" || status == "disabled") {
    out.unhealthy = "the SSF stream " + stream_id + " is " + status + ": leavers may be going unheard";
  }
  out.state[ssf_state::kUnhealthyReason] = out.unhealthy.value_or("");
  std::map<std::string, std::string> merged = state;
  for (const auto& [name, value] : out.state) merged[name] = value;
  out.state[ssf_state::kStatusJson] = stream_status_json(merged);
  co_return out;
}

boost::asio::awaitable<PollOutcome> TransmitterSession::poll(std::map<std::string, std::string> state, Timestamp now) {
  const std::string endpoint = state_value(state, ssf_state::kPollEndpoint);
  if (endpoint.empty()) throw TransmitterError("no poll endpoint yet: the stream is not set up");
  auto refresh = refresh_keys(now);
  co_await std::move(refresh);
  std::shared_ptr<const SigningKeys> keys = keys_.current();
  if (!keys) throw TransmitterError("the transmitter's signing keys are not loaded");

  IntakeSettings intake{{settings_.issuer, settings_.audience, now}, settings_.on_compromise};
  json recent = state_json(state, ssf_state::kRecentJtis, json::array());
  std::set<std::string> seen(recent.begin(), recent.end());

  PollRequest request;
  for (const json& jti : state_json(state, ssf_state::kPendingAcks, json::array())) {
    if (jti.is_string()) request.ack.push_back(jti.get<std::string>());
  }
  request.set_errs = stored_set_errs(state_json(state, ssf_state::kPendingSetErrs, json::object()));
  request.max_events = kMaxEventsPerPoll;

  PollOutcome out;
  json acks = json::array();
  json errs = json::object();
  std::set<std::string> this_poll;
  bool refetched = false;
  for (int round = 0; round < kMaxPollRounds; ++round) {
    auto polling = call("POST", endpoint, request.to_json(), true);
    const HttpResponse response = co_await std::move(polling);
    expect_status(response, {200}, "polling " + endpoint);
    // The transmitter has the acknowledgements now; later rounds carry none,
    // because the SETs received below are not committed yet.
    request.ack.clear();
    request.set_errs.clear();
    const PollResponse answer = PollResponse::parse(response.body);
    bool anything_new = false;
    for (const auto& [jti, token] : answer.sets) {
      if (!this_poll.insert(jti).second) continue;
      anything_new = true;
      ++out.received;
      SetOutcome outcome = take_set(token, *keys, intake, [&](const std::string& id) { return seen.count(id) > 0; });
      if (outcome.refusal && outcome.refusal->unknown_kid && !refetched) {
        keys_.want_refetch();
        auto refresh_now = refresh_keys(now);
        refetched = co_await std::move(refresh_now);
        if (refetched && keys_.current()) {
          keys = keys_.current();
          outcome = take_set(token, *keys, intake,
                             [&](const std::string& id) { return seen.count(id) > 0; });
        }
      }
      if (outcome.refusal && outcome.refusal->unknown_kid) {
        continue;  // neither acknowledged nor refused: redelivered once the new key is fetched
      }
      if (outcome.refusal) {
        errs[jti] = set_err_entry(*outcome.refusal);
        ++out.refused[std::string(to_string(outcome.refusal->err))];
        continue;
      }
      acks.push_back(jti);
      if (outcome.duplicate) {
        ++out.duplicates;
        continue;
      }
      seen.insert(outcome.jti);
      recent.push_back(outcome.jti);
      out.event_ids.push_back(outcome.jti);
      for (auto& identity : outcome.facts.identities) out.identities.push_back(std::move(identity));
      for (auto& note : outcome.facts.notes) out.notes.push_back(std::move(note));
      if (outcome.facts.stream_status) out.state[ssf_state::kStreamStatus] = *outcome.facts.stream_status;
      if (outcome.facts.verification_state &&
          *outcome.facts.verification_state == state_value(state, ssf_state::kVerificationState)) {
        out.state[ssf_state::kVerified] = "true";
      }
    }
    if (!answer.more_available || !anything_new) break;
  }
  while (recent.size() > kRecentJtisKept) recent.erase(recent.begin());
  out.state[ssf_state::kPendingAcks] = acks.dump();
  out.state[ssf_state::kPendingSetErrs] = errs.dump();
  out.state[ssf_state::kRecentJtis] = recent.dump();
  co_return out;
}

std::string stream_status_json(const std::map<std::string, std::string>& state) {
  json stream = {{"id", state_value(state, ssf_state::kStreamId)},
                 {"status", state_value(state, ssf_state::kStreamStatus)},
                 {"verified", state_value(state, ssf_state::kVerified) == "true"},
                 {"missing_events", state_json(state, ssf_state::kMissingEvents, json::array())}};
  const auto counts = state.find(ssf_state::kSetCounts);
  return json{{"stream", stream},
              {"sets", SetCounts::from_json(counts == state.end() ? "" : counts->second).to_json()}}
      .dump();
}

}  // namespace keywarden

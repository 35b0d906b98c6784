#include "connectors/ssf/set_intake.h"

#include "connectors/secret_match.h"
#include "connectors/ssf/transmitter_wire.h"
#include "daemon/base/ascii.h"

namespace keywarden {

std::shared_ptr<const SigningKeys> TransmitterKeys::current() const {
  std::lock_guard lock(mutex_);
  return keys_;
}

void TransmitterKeys::replace(std::shared_ptr<const SigningKeys> keys, Timestamp fetched_at) {
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  fetched_at_ = fetched_at;
  refetch_wanted_ = false;
}

void TransmitterKeys::want_refetch() {
  std::lock_guard lock(mutex_);
  refetch_wanted_ = true;
}

bool TransmitterKeys::refetch_wanted() const {
  std::lock_guard lock(mutex_);
  return refetch_wanted_ || !keys_;
}

bool TransmitterKeys::may_fetch(Timestamp now) const {
  std::lock_guard lock(mutex_);
  return !fetched_at_ || now >= *fetched_at_ + kMinRefetchInterval;
}

SetOutcome take_set(std::string_view compact, const SigningKeys& keys, const IntakeSettings& settings,
                    const std::function<bool(const std::string&)>& seen) {
  SetOutcome out;
  SetVerification verification = verify_set(compact, keys, settings.expect);
  if (auto* refusal = std::get_if<SetRefusal>(&verification)) {
    out.refusal = std::move(*refusal);
    return out;
  }
  VerifiedSet& set = std::get<VerifiedSet>(verification);
  out.jti = set.jti;
  if (seen(set.jti)) {
    out.duplicate = true;
    return out;
  }
  out.facts = facts_from_events(read_set_events(set.claims), settings.on_compromise, set.jti);
  return out;
}

bool bearer_matches(std::string_view authorization, std::string_view expected) {
  if (expected.empty()) return false;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size() || ascii_lower(authorization.substr(0, kScheme.size())) != kScheme) {
    return false;
  }
  std::string_view presented = authorization.substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  return secret_matches(presented, expected);
}

namespace {

// RFC 8935 §2: "application/secevent+jwt"; parameters (charset) allowed.
bool is_set_media_type(std::string_view content_type) {
  const std::string type = ascii_lower(content_type.substr(0, content_type.find(';')));
  std::string_view trimmed = type;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  return trimmed == "application/secevent+jwt";
}

PushAnswer refused(SetRefusal refusal) {
  PushAnswer answer;
  answer.status = 400;
  answer.content_type = "application/json";
  answer.body = set_error_body(refusal);
  answer.outcome.refusal = std::move(refusal);
  return answer;
}

}  // namespace

PushAnswer answer_push(std::string_view content_type, std::string_view body, const SigningKeys* keys,
                       const IntakeSettings& settings, const std::function<bool(const std::string&)>& seen) {
  if (!is_set_media_type(content_type)) {
    return refused({SetErrorCode::invalid_request, "Content-Type must be application/secevent+jwt"});
  }
  if (keys == nullptr) {
    PushAnswer answer;
    answer.status = 503;
    answer.content_type = "application/json";
    answer.body = R"({"description":"the transmitter's signing keys are not loaded yet; retry later"})";
    return answer;
  }
  SetOutcome outcome = take_set(body, *keys, settings, seen);
  if (outcome.refusal) return refused(*outcome.refusal);
  PushAnswer answer;
  answer.status = 202;
  answer.outcome = std::move(outcome);
  return answer;
}

void SetCounts::add(const SetCounts& more) {
  received += more.received;
  applied += more.applied;
  duplicate += more.duplicate;
  noted += more.noted;
  for (const auto& [err, n] : more.refused) refused[err] += n;
}

nlohmann::json SetCounts::to_json() const {
  return nlohmann::json{{"received", received}, {"applied", applied}, {"duplicate", duplicate},
                        {"noted", noted}, {"refused", refused}};
}

SetCounts SetCounts::from_json(std::string_view text) {
  SetCounts counts;
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_object()) return counts;
  const auto number = [&](const char* name) {
    const auto it = parsed.find(name);
    return it != parsed.end() && it->is_number_integer() ? it->get<long>() : 0L;
  };
  counts.received = number("received");
  counts.applied = number("applied");
  counts.duplicate = number("duplicate");
  counts.noted = number("noted");
  const auto refused = parsed.find("refused");
  if (refused != parsed.end() && refused->is_object()) {
    for (const auto& [err, n] : refused->items()) {
      if (n.is_number_integer()) counts.refused[err] = n.get<long>();
    }
  }
  return counts;
}

SetCounts counts_of(const PushAnswer& answer) {
  SetCounts counts;
  if (answer.status != 202 && !answer.outcome.refusal) return counts;
  counts.received = 1;
  if (answer.outcome.refusal) {
    counts.refused[std::string(to_string(answer.outcome.refusal->err))] = 1;
  } else if (answer.outcome.duplicate) {
    counts.duplicate = 1;
  } else {
    counts.applied = 1;
    counts.noted = static_cast<long>(answer.outcome.facts.notes.size());
  }
  return counts;
}

void SetTally::count(const SetCounts& counts) {
  const std::lock_guard lock(mutex_);
  totals_.add(counts);
  since_start_.add(counts);
}

SetCounts SetTally::since_start() const {
  const std::lock_guard lock(mutex_);
  return since_start_;
}

SetCounts SetTally::totals(const std::optional<std::string>& stored) {
  const std::lock_guard lock(mutex_);
  if (!loaded_) {
    if (stored) totals_.add(SetCounts::from_json(*stored));
    loaded_ = true;  // from now on the stored totals are the ones written from here
  }
  return totals_;
}

}  // namespace keywarden

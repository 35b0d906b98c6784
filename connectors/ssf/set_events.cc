#include "connectors/ssf/set_events.h"

#include <array>
#include <utility>

#include "daemon/base/ascii.h"

namespace keywarden {

namespace {

using nlohmann::json;

struct KnownEvent {
  std::string_view prefix;
  std::string_view name;
  SetEventKind kind;
};

constexpr std::array<KnownEvent, 8> kKnownEvents{{
    {kRiscEventPrefix, "account-disabled", SetEventKind::account_disabled},
    {kRiscEventPrefix, "account-purged", SetEventKind::account_purged},
    {kRiscEventPrefix, "account-enabled", SetEventKind::account_enabled},
    {kRiscEventPrefix, "credential-compromise", SetEventKind::credential_compromise},
    {kCaepEventPrefix, "session-revoked", SetEventKind::session_revoked},
    // Deprecated by RISC in favour of CAEP session-revoked; Google still sends it.
    {kRiscEventPrefix, "sessions-revoked", SetEventKind::session_revoked},
    {kSsfEventPrefix, "verification", SetEventKind::verification},
    {kSsfEventPrefix, "stream-updated", SetEventKind::stream_updated},
}};

SetEventKind kind_of(std::string_view type) {
  for (const KnownEvent& known : kKnownEvents) {
    if (type.size() == known.prefix.size() + known.name.size() && type.substr(0, known.prefix.size()) == known.prefix &&
        type.substr(known.prefix.size()) == known.name) {
      return known.kind;
    }
  }
  return SetEventKind::other;
}

std::string string_member(const json& object, const char* name) {
  if (!object.is_object()) return {};
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// RFC 9493 "account": acct:local@host names the account alice@example.com.
std::string email_of_account_uri(const std::string& uri) {
  if (uri.size() <= 5 || ascii_lower(uri.substr(0, 5)) != "acct:") return {};
  const std::string address = uri.substr(5);
  return address.find('@') == std::string::npos ? std::string() : address;
}

std::optional<Timestamp> event_time(const json& event) {
  const auto it = event.find("event_timestamp");
  if (it == event.end() || !it->is_number()) return std::nullopt;
  double seconds = it->get<double>();
  // CAEP says seconds; Okta sends milliseconds (1615304991643). No SET is
  // from before 2001 or after 5138, so a value past 1e11 is milliseconds.
  if (seconds > 1e11) seconds /= 1000;
  if (seconds < 0 || seconds > 1e11) return std::nullopt;
  return Timestamp(Duration(static_cast<long long>(seconds)));
}

std::string reason_of(const json& event) {
  if (std::string reason = string_member(event, "reason"); !reason.empty()) return reason;
  // CAEP: reason_admin / reason_user are {"en": "…"} maps of languages.
  for (const char* name : {"reason_admin", "reason_user"}) {
    const auto it = event.find(name);
    if (it == event.end()) continue;
    if (it->is_string()) return it->get<std::string>();
    if (std::string en = string_member(*it, "en"); !en.empty()) return en;
  }
  return {};
}

std::string describe(const SetEvent& event) {
  std::string text(event.type.substr(event.type.rfind('/') + 1));
  if (!event.reason.empty()) text += " (" + event.reason + ")";
  if (event.event_time) text += " at " + format_rfc3339(*event.event_time);
  return text;
}

std::string describe_subject(const SetEvent& event) {
  if (!event.subject) return "no subject keywarden can join";
  return event.subject->format + " " + event.subject->value;
}

}  // namespace

std::vector<std::string> requested_event_types() {
  std::vector<std::string> out;
  for (const KnownEvent& known : kKnownEvents) {
    if (known.name == "sessions-revoked" || known.prefix == kSsfEventPrefix) continue;  // not requested: deprecated / always sent
    out.push_back(std::string(known.prefix) + std::string(known.name));
  }
  return out;
}

std::optional<SetSubject> read_subject_identifier(const json& id) {
  if (!id.is_object()) return std::nullopt;
  std::string format = string_member(id, "format");
  if (format.empty()) format = string_member(id, "subject_type");  // RISC's legacy spelling (Google)
  if (format.empty() || format == "complex") {
    // A complex subject (or an Okta SecurityEventSubject) names the account in `user`.
    const auto user = id.find("user");
    if (user != id.end()) return read_subject_identifier(*user);
    return std::nullopt;
  }
  SetSubject subject;
  subject.format = format;
  if (format == "email") {
    subject.join = SetSubject::Join::email;
    subject.value = normalize_email(string_member(id, "email"));
  } else if (format == "account") {
    subject.join = SetSubject::Join::email;
    subject.value = normalize_email(email_of_account_uri(string_member(id, "uri")));
  } else if (format == "iss_sub" || format == "iss-sub" || format == "id_token_claims") {
    subject.join = SetSubject::Join::subject_id;
    subject.value = string_member(id, "sub");
  } else if (format == "opaque") {
    subject.join = SetSubject::Join::subject_id;
    subject.value = string_member(id, "id");
  } else if (format == "aliases") {
    // Several names of one account: the first one we can join wins, an email first.
    const auto identifiers = id.find("identifiers");
    if (identifiers == id.end() || !identifiers->is_array()) return std::nullopt;
    std::optional<SetSubject> fallback;
    for (const json& alias : *identifiers) {
      std::optional<SetSubject> found = read_subject_identifier(alias);
      if (!found) continue;
      if (found->join == SetSubject::Join::email) return found;
      if (!fallback) fallback = std::move(found);
    }
    return fallback;
  } else {
    return std::nullopt;  // phone_number, did, uri, jwt_id, saml_assertion_id: no account to join
  }
  if (subject.value.empty()) return std::nullopt;
  return subject;
}

std::vector<SetEvent> read_set_events(const json& claims) {
  std::vector<SetEvent> out;
  const auto events = claims.find("events");
  if (events == claims.end() || !events->is_object()) return out;
  std::optional<SetSubject> top_subject;
  if (const auto sub_id = claims.find("sub_id"); sub_id != claims.end()) top_subject = read_subject_identifier(*sub_id);
  for (const auto& [type, payload] : events->items()) {
    SetEvent event;
    event.type = type;
    event.kind = kind_of(type);
    event.subject = top_subject;
    if (!event.subject && payload.contains("subject")) event.subject = read_subject_identifier(payload["subject"]);
    event.event_time = event_time(payload);
    event.reason = reason_of(payload);
    event.state = string_member(payload, "state");
    event.stream_status = string_member(payload, "status");
    out.push_back(std::move(event));
  }
  return out;
}

SetFacts facts_from_events(const std::vector<SetEvent>& events, CompromisePolicy policy, std::string_view jti) {
  SetFacts facts;
  const std::string from = " (SET " + std::string(jti) + ")";
  for (const SetEvent& event : events) {
    std::optional<IdentityStatus> status;
    switch (event.kind) {
      case SetEventKind::account_disabled: status = IdentityStatus::inactive; break;
      case SetEventKind::account_purged: status = IdentityStatus::deleted; break;
      case SetEventKind::account_enabled: status = IdentityStatus::active; break;
      case SetEventKind::credential_compromise:
      case SetEventKind::session_revoked:
        if (policy == CompromisePolicy::revoke) {
          status = IdentityStatus::compromised;
        } else {
          facts.notes.push_back(describe(event) + " for " + describe_subject(event) +
                                ": reported only (on_compromise = \"report\")" + from);
          continue;
        }
        break;
      case SetEventKind::verification:
        facts.verification_state = event.state;
        continue;
      case SetEventKind::stream_updated:
        facts.stream_status = event.stream_status;
        continue;
      case SetEventKind::other:
        facts.notes.push_back(describe(event) + " for " + describe_subject(event) + ": ignored" + from);
        continue;
    }
    if (!event.subject) {
      facts.notes.push_back(describe(event) + ": the SET names no subject keywarden can join" + from);
      continue;
    }
    Identity identity;
    if (event.subject->join == SetSubject::Join::email) {
      identity.subject_id = "email:" + event.subject->value;
      identity.email = event.subject->value;
    } else {
      identity.subject_id = subject_reference(event.subject->value);
    }
    identity.status = *status;
    identity.status_detail = describe(event) + from;
    facts.identities.push_back(std::move(identity));
  }
  return facts;
}

}  // namespace keywarden

#include "connectors/ssf/set_verifier.h"

#include <cjose/cjose.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>

#include "daemon/base/ascii.h"

namespace keywarden {

std::string_view to_string(SetErrorCode code) {
  switch (code) {
    case SetErrorCode::invalid_request: return "invalid_request";
    case SetErrorCode::invalid_key: return "invalid_key";
    case SetErrorCode::invalid_issuer: return "invalid_issuer";
    case SetErrorCode::invalid_audience: return "invalid_audience";
  }
  return "invalid_request";
}

namespace {

using nlohmann::json;

struct AllowedAlg {
  std::string_view name;
  KeyType key_type;
  std::string_view ec_curve;  // for ESn
};

// SPEC §8.1: the only algorithms a SET may use.
constexpr std::array<AllowedAlg, 9> kAllowedAlgs{{
    {"RS256", KeyType::rsa, ""}, {"RS384", KeyType::rsa, ""}, {"RS512", KeyType::rsa, ""},
    {"PS256", KeyType::rsa, ""}, {"PS384", KeyType::rsa, ""}, {"PS512", KeyType::rsa, ""},
    {"ES256", KeyType::ec, "P-256"}, {"ES384", KeyType::ec, "P-384"}, {"ES512", KeyType::ec, "P-521"},
}};

const AllowedAlg* allowed_alg(std::string_view name) {
  const auto it = std::find_if(kAllowedAlgs.begin(), kAllowedAlgs.end(),
                               [&](const AllowedAlg& a) { return a.name == name; });
  return it == kAllowedAlgs.end() ? nullptr : &*it;
}

SetRefusal refuse(SetErrorCode err, std::string description) {
  return SetRefusal{err, std::move(description), false};
}

struct JwsRelease {
  void operator()(cjose_jws_t* jws) const { cjose_jws_release(jws); }
};
using JwsPtr = std::unique_ptr<cjose_jws_t, JwsRelease>;

// cjose refuses to import a token whose alg it does not implement; decode the
// header ourselves to say whether that was the algorithm or plain garbage.
SetRefusal classify_unimportable(std::string_view compact) {
  const size_t dot = compact.find('.');
  if (dot != std::string_view::npos && std::count(compact.begin(), compact.end(), '.') == 2) {
    uint8_t* decoded = nullptr;
    size_t decoded_len = 0;
    cjose_err err{};
    if (cjose_base64url_decode(compact.data(), dot, &decoded, &decoded_len, &err)) {
      const json header = json::parse(decoded, decoded + decoded_len, nullptr, false);
      cjose_get_dealloc()(decoded);
      if (header.is_object() && header.contains("alg") &&
          !(header["alg"].is_string() && allowed_alg(header["alg"].get<std::string>()))) {
        return refuse(SetErrorCode::invalid_key, "the JWS algorithm is not one keywarden accepts");
      }
    }
  }
  return refuse(SetErrorCode::invalid_request, "not a JWS in compact serialization");
}

// A header member that must be a string when present: nullopt when absent,
// "" with `bad` set when present but not a string.
std::optional<std::string> header_string(cjose_header_t* header, const char* name, bool& bad) {
  cjose_err err{};
  if (const char* value = cjose_header_get(header, name, &err)) return std::string(value);
  char* raw = cjose_header_get_raw(header, name, &err);
  if (raw == nullptr) return std::nullopt;
  cjose_get_dealloc()(raw);
  bad = true;
  return std::string();
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool typ_is_secevent(std::string_view typ) {
  const std::string lower = ascii_lower(typ);
  return lower == "secevent+jwt" || lower == "application/secevent+jwt";
}

// Picks the key the token's header asks for, or says why none fits.
std::variant<const SigningKey*, SetRefusal> select_key(const SigningKeys& keys, const std::optional<std::string>& kid,
                                                       const AllowedAlg& alg) {
  const SigningKey* key = nullptr;
  if (kid) {
    key = keys.find(*kid);
    if (key == nullptr) {
      if (keys.is_unusable(*kid)) {
        return refuse(SetErrorCode::invalid_key, "the key the token names is not a signing key keywarden trusts");
      }
      SetRefusal unknown = refuse(SetErrorCode::invalid_key, "no key in the transmitter's JWKS has the token's kid");
      unknown.unknown_kid = true;
      return unknown;
    }
  } else {
    // No kid: acceptable only when exactly one key could have signed it.
    int fitting = 0;
    for (const SigningKey& candidate : keys.keys()) {
      if (candidate.type == alg.key_type && (candidate.alg.empty() || candidate.alg == alg.name) &&
          (alg.key_type != KeyType::ec || candidate.ec_curve == alg.ec_curve)) {
        key = &candidate;
        ++fitting;
      }
    }
    if (fitting != 1) {
      return refuse(SetErrorCode::invalid_key,
                    fitting == 0 ? "the token names no kid and no key fits its algorithm"
                                 : "the token names no kid and several keys fit its algorithm");
    }
  }
  if (!key->alg.empty() && key->alg != alg.name) {
    return refuse(SetErrorCode::invalid_key, "the token's alg " + std::string(alg.name) +
                                                 " differs from its key's alg " + key->alg);
  }
  if (key->type != alg.key_type) {
    return refuse(SetErrorCode::invalid_key,
                  "the token's alg " + std::string(alg.name) + " does not fit its key's type");
  }
  if (alg.key_type == KeyType::ec && key->ec_curve != alg.ec_curve) {
    return refuse(SetErrorCode::invalid_key,
                  "the token's alg " + std::string(alg.name) + " does not fit its key's curve " + key->ec_curve);
  }
  return key;
}

// NumericDate (RFC 7519 §2): a JSON number of seconds, possibly fractional.
std::optional<double> numeric_date(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::optional<SetRefusal> check_claims(const json& claims, const SetExpectations& expect) {
  const auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != expect.issuer) {
    return refuse(SetErrorCode::invalid_issuer, "iss is not the configured issuer");
  }
  const auto aud = claims.find("aud");
  bool audience_ok = false;
  if (aud != claims.end() && aud->is_string()) {
    audience_ok = aud->get<std::string>() == expect.audience;
  } else if (aud != claims.end() && aud->is_array()) {
    audience_ok = std::any_of(aud->begin(), aud->end(), [&](const json& entry) {
      return entry.is_string() && entry.get<std::string>() == expect.audience;
    });
  }
  if (!audience_ok) return refuse(SetErrorCode::invalid_audience, "aud does not name the configured audience");

  const double now = static_cast<double>(expect.now.time_since_epoch().count());
  const std::optional<double> iat = numeric_date(claims, "iat");
  if (!iat) return refuse(SetErrorCode::invalid_request, "iat is missing or not a number");
  if (*iat > now + static_cast<double>(kMaxIatAhead.count())) {
    return refuse(SetErrorCode::invalid_request, "iat is more than 5 minutes in the future");
  }
  if (claims.contains("exp")) {
    const std::optional<double> exp = numeric_date(claims, "exp");
    if (!exp) return refuse(SetErrorCode::invalid_request, "exp is not a number");
    if (*exp <= now) return refuse(SetErrorCode::invalid_request, "the token has expired (exp)");
  }
  const auto jti = claims.find("jti");
  if (jti == claims.end() || !jti->is_string() || jti->get<std::string>().empty()) {
    return refuse(SetErrorCode::invalid_request, "jti is missing or empty");
  }
  const auto events = claims.find("events");
  if (events == claims.end() || !events->is_object() || events->empty()) {
    return refuse(SetErrorCode::invalid_request, "events is missing or holds no event");
  }
  for (const auto& [type, payload] : events->items()) {
    if (!payload.is_object()) return refuse(SetErrorCode::invalid_request, "an event's payload is not an object");
  }
  return std::nullopt;
}

}  // namespace

SetVerification verify_set(std::string_view compact, const SigningKeys& keys, const SetExpectations& expect) {
  if (compact.size() > kMaxSetBytes) {
    return refuse(SetErrorCode::invalid_request, "the token is larger than " + std::to_string(kMaxSetBytes) + " bytes");
  }
  // Surrounding whitespace (a trailing newline from a shell) is not part of a JWS.
  while (!compact.empty() && is_blank(compact.back())) compact.remove_suffix(1);
  while (!compact.empty() && is_blank(compact.front())) compact.remove_prefix(1);
  if (compact.empty() || std::count(compact.begin(), compact.end(), '.') != 2) {
    return refuse(SetErrorCode::invalid_request, "not a JWS in compact serialization");
  }
  // Each part must be unpadded base64url (RFC 7515 §2) before cjose sees
  // it: cjose 0.6 asserts on a part whose length is 1 mod 4 and aborts the
  // process (found by set_fuzz).
  for (size_t start = 0; start <= compact.size();) {
    const size_t dot = std::min(compact.find('.', start), compact.size());
    const std::string_view part = compact.substr(start, dot - start);
    const bool alphabet = std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!alphabet || part.size() % 4 == 1) {
      return refuse(SetErrorCode::invalid_request, "a part of the JWS is not unpadded base64url");
    }
    start = dot + 1;
  }
  cjose_err err{};
  JwsPtr jws(cjose_jws_import(compact.data(), compact.size(), &err));
  if (!jws) return classify_unimportable(compact);
  cjose_header_t* header = cjose_jws_get_protected(jws.get());
  if (header == nullptr) return refuse(SetErrorCode::invalid_request, "the JWS has no protected header");

  bool bad_member = false;
  const std::optional<std::string> alg_name = header_string(header, CJOSE_HDR_ALG, bad_member);
  const std::optional<std::string> kid = header_string(header, CJOSE_HDR_KID, bad_member);
  const std::optional<std::string> typ = header_string(header, "typ", bad_member);
  bool bad_crit = false;
  const bool has_crit = header_string(header, "crit", bad_crit).has_value();
  if (has_crit) return refuse(SetErrorCode::invalid_request, "the JWS header has a crit extension keywarden does not understand");
  if (bad_member) return refuse(SetErrorCode::invalid_request, "alg, kid or typ in the JWS header is not a string");

  const AllowedAlg* alg = alg_name ? allowed_alg(*alg_name) : nullptr;
  if (alg == nullptr) return refuse(SetErrorCode::invalid_key, "the JWS algorithm is not one keywarden accepts");

  auto selected = select_key(keys, kid, *alg);
  if (auto* refusal = std::get_if<SetRefusal>(&selected)) return std::move(*refusal);
  const SigningKey& key = *std::get<const SigningKey*>(selected);

  if (!cjose_jws_verify(jws.get(), key.jwk.get(), &err)) {
    return refuse(SetErrorCode::invalid_key, "the signature does not verify with the transmitter's key");
  }

  if (!typ || !typ_is_secevent(*typ)) {
    return refuse(SetErrorCode::invalid_request, "typ is not secevent+jwt");
  }
  uint8_t* plaintext = nullptr;
  size_t plaintext_len = 0;
  if (!cjose_jws_get_plaintext(jws.get(), &plaintext, &plaintext_len, &err)) {
    return refuse(SetErrorCode::invalid_request, "the JWS payload cannot be read");
  }
  json claims = json::parse(plaintext, plaintext + plaintext_len, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return refuse(SetErrorCode::invalid_request, "the payload is not a JSON object");
  if (auto refusal = check_claims(claims, expect)) return std::move(*refusal);

  VerifiedSet out;
  out.jti = claims["jti"].get<std::string>();
  out.alg = std::string(alg->name);
  out.kid = kid.value_or("");
  out.claims = std::move(claims);
  return out;
}

}  // namespace keywarden

// Verification of one Security Event Token (RFC 8417) as SPEC §8.1 demands,
// with cjose for the JWS cryptography.
//
// cjose verifies whatever algorithm a token names and has no allow-list, no
// kid selection and no claim checks; all of those are here, and the
// algorithm is checked against our allow-list before cjose sees a key.
// Pure: no I/O and no clock (the time is an argument); thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "connectors/ssf/signing_keys.h"
#include "daemon/engine/time_point.h"

namespace keywarden {

// The error codes of RFC 8935 §2.3 (IANA "Security Event Token Error Codes")
// that a receiver's checks can produce.
enum class SetErrorCode { invalid_request, invalid_key, invalid_issuer, invalid_audience };
std::string_view to_string(SetErrorCode code);

// Why a SET does not count. `description` is for the transmitter (the 400
// body or setErrs) and the log; it quotes no token material.
struct SetRefusal {
  SetErrorCode err = SetErrorCode::invalid_request;
  std::string description;
  // The token names a kid that is not in the JWKS: the transmitter may have
  // rotated its keys, so the caller may fetch the JWKS again (at most once a
  // minute) and verify once more.
  bool unknown_kid = false;
};

// A SET that passed every check.
struct VerifiedSet {
  std::string jti;
  std::string alg;
  std::string kid;
  nlohmann::json claims;  // the payload: an object with iss, aud, iat, jti, events, ...
};

struct SetExpectations {
  std::string issuer;    // `iss` must equal it byte for byte
  std::string audience;  // `aud` must be it, or an array containing it
  Timestamp now{};
};

using SetVerification = std::variant<VerifiedSet, SetRefusal>;

// Bigger tokens are refused before any parsing (invalid_request).
inline constexpr size_t kMaxSetBytes = 64 * 1024;
// How far ahead of `now` an `iat` may be (clock skew between the parties).
inline constexpr Duration kMaxIatAhead{300};

// Checks, in this order, and refuses at the first failure:
// 1. a JWS compact serialization of at most kMaxSetBytes (invalid_request);
//    no `crit` header (we understand no extension; invalid_request);
// 2. `alg` is RS256/384/512, PS256/384/512 or ES256/384/512 (invalid_key;
//    "none", HS* and anything else are refused);
// 3. the key: the one whose kid the header names (unknown → invalid_key with
//    unknown_kid set; a JWKS entry that is no trusted signing key →
//    invalid_key); without a kid, the only key that fits the alg; the key's
//    own `alg`, when it names one, equals the header's; RS/PS need an RSA
//    key, ESn an EC key on its curve (invalid_key);
// 4. the signature verifies with that key (cjose_jws_verify; invalid_key);
// 5. `typ` is "secevent+jwt" or "application/secevent+jwt", any case
//    (invalid_request); the payload is a JSON object (invalid_request);
// 6. `iss` equals expectations.issuer (invalid_issuer);
// 7. `aud` is expectations.audience or an array holding it (invalid_audience);
// 8. `iat` is a number at most kMaxIatAhead after `now`; `exp`, if present,
//    is a number after `now`; `jti` is a non-empty string; `events` is a
//    non-empty object whose members are objects (all invalid_request).
SetVerification verify_set(std::string_view compact, const SigningKeys& keys, const SetExpectations& expect);

}  // namespace keywarden

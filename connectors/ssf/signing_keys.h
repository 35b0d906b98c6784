// A transmitter's signing keys, from the JWKS its metadata's jwks_uri serves.
//
// Only keys that can sign a SET we accept are kept (RSA of at least 2048
// bits, EC on P-256/384/521, `use` absent or "sig"); the rest are remembered
// by kid only, so that a SET naming one is refused as "not a signing key"
// rather than as an unknown kid (which would trigger a JWKS re-fetch).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct _cjose_jwk_int;

namespace keywarden {

// The JWKS document is not a JSON object with a "keys" array.
class SigningKeysError : public std::exception {
 public:
  explicit SigningKeysError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

enum class KeyType { rsa, ec };

// One public key usable for SET signatures.
struct SigningKey {
  std::string kid;        // may be empty
  std::string alg;        // the JWK's "alg"; empty: any algorithm that fits the key type
  KeyType type = KeyType::rsa;
  std::string ec_curve;   // "P-256" | "P-384" | "P-521" for EC keys
  std::shared_ptr<_cjose_jwk_int> jwk;  // cjose's key, released with the last copy
};

class SigningKeys {
 public:
  SigningKeys() = default;
  // Parses a JWKS ({"keys": [...]}). Entries that cannot be imported, are
  // symmetric, are for encryption or are too weak become `unusable_kids`.
  // Throws SigningKeysError when the document itself is malformed.
  static SigningKeys parse(std::string_view jwks_json);

  // The signing key with this kid, or nullptr.
  const SigningKey* find(std::string_view kid) const;
  // True when a JWKS entry had this kid but is no signing key we trust.
  bool is_unusable(std::string_view kid) const;
  const std::vector<SigningKey>& keys() const { return keys_; }

 private:
  std::vector<SigningKey> keys_;
  std::vector<std::string> unusable_kids_;
};

}  // namespace keywarden

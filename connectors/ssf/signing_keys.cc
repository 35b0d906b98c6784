#include "connectors/ssf/signing_keys.h"

#include <cjose/cjose.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace keywarden {

namespace {

using nlohmann::json;

std::string string_member(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The length in bits of a base64url value, without decoding it.
size_t base64url_bits(const std::string& value) {
  std::string trimmed = value;
  while (!trimmed.empty() && trimmed.back() == '=') trimmed.pop_back();
  return trimmed.size() * 6 / 8 * 8;
}

// RFC 7518 §3.3: RSA keys for RS*/PS* must be at least 2048 bits.
constexpr size_t kMinRsaBits = 2048;

std::optional<SigningKey> import_signing_key(const json& entry) {
  const std::string use = string_member(entry, "use");
  if (!use.empty() && use != "sig") return std::nullopt;
  const std::string kty = string_member(entry, "kty");
  SigningKey key;
  key.kid = string_member(entry, "kid");
  key.alg = string_member(entry, "alg");
  if (kty == "RSA") {
    key.type = KeyType::rsa;
    if (base64url_bits(string_member(entry, "n")) < kMinRsaBits) return std::nullopt;
  } else if (kty == "EC") {
    key.type = KeyType::ec;
    key.ec_curve = string_member(entry, "crv");
    if (key.ec_curve != "P-256" && key.ec_curve != "P-384" && key.ec_curve != "P-521") return std::nullopt;
  } else {
    return std::nullopt;  // "oct" and anything else: a SET is never verified with a shared secret
  }
  // cjose reads private members too; a JWKS is public, so pass on only the
  // public ones (a leaked "d" must never turn this into a signing key).
  json public_part = {{"kty", kty}};
  for (const char* name : {"n", "e", "crv", "x", "y"}) {
    if (entry.contains(name)) public_part[name] = entry[name];
  }
  const std::string text = public_part.dump();
  cjose_err err{};
  cjose_jwk_t* jwk = cjose_jwk_import(text.data(), text.size(), &err);
  if (jwk == nullptr) return std::nullopt;
  key.jwk.reset(jwk, [](cjose_jwk_t* k) { cjose_jwk_release(k); });
  const cjose_jwk_kty_t imported = cjose_jwk_get_kty(jwk, &err);
  if ((key.type == KeyType::rsa) != (imported == CJOSE_JWK_KTY_RSA)) return std::nullopt;
  return key;
}

}  // namespace

SigningKeys SigningKeys::parse(std::string_view jwks_json) {
  const json document = json::parse(jwks_json.begin(), jwks_json.end(), nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || !document.contains("keys") || !document["keys"].is_array()) {
    throw SigningKeysError("the JWKS is not a JSON object with a \"keys\" array");
  }
  SigningKeys out;
  for (const json& entry : document["keys"]) {
    if (!entry.is_object()) continue;
    if (auto key = import_signing_key(entry)) {
      out.keys_.push_back(std::move(*key));
    } else {
      out.unusable_kids_.push_back(string_member(entry, "kid"));
    }
  }
  return out;
}

const SigningKey* SigningKeys::find(std::string_view kid) const {
  const auto it = std::find_if(keys_.begin(), keys_.end(), [&](const SigningKey& k) { return k.kid == kid; });
  return it == keys_.end() ? nullptr : &*it;
}

bool SigningKeys::is_unusable(std::string_view kid) const {
  return std::find(unusable_kids_.begin(), unusable_kids_.end(), kid) != unusable_kids_.end();
}

}  // namespace keywarden

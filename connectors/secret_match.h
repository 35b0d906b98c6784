// How every push source compares a presented secret (a bearer token, a hook
// header, a clientState) with the configured one.
#pragma once

#include <string_view>

namespace keywarden {

// True when `presented` equals `expected`, in time that depends on neither's
// content nor length: both are hashed with SHA-256 and the digests compared
// with CRYPTO_memcmp, so a caller cannot find the secret byte by byte. An
// empty `expected` (a secret that could not be read) matches nothing.
bool secret_matches(std::string_view presented, std::string_view expected);

}  // namespace keywarden

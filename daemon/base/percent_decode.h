// Percent-decoding (RFC 3986 §2.1), the one implementation for URLs, query
// strings and SCIM request targets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keywarden {

// Lenient: a malformed escape ("%zz", a '%' near the end) is kept as it is.
// With `plus_is_space`, '+' becomes ' ' (query strings).
std::string percent_decode(std::string_view text, bool plus_is_space);

// Strict: nullopt when an escape is malformed.
std::optional<std::string> percent_decode_strict(std::string_view text, bool plus_is_space);

}  // namespace keywarden

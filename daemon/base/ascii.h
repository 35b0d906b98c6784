// ASCII case folding for protocol text (header names, URL schemes and hosts,
// SCIM attribute names, emails): only A-Z change, whatever the C locale says.
#pragma once

#include <string>
#include <string_view>

namespace keywarden {

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace keywarden

// The one parser of a listen address ("[daemon] listen", palette-sim's
// --listen): config checks with it, the server binds what it returns, so what
// check-config accepts is exactly what the daemon can listen on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keywarden {

struct ListenAddress {
  // An IPv4 literal, an IPv6 literal (without brackets, maybe with a
  // "%zone"), or a host name that the server resolves once when it starts.
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks a free port
};

// Accepts "HOST:PORT" and "[IPV6]:PORT", PORT a decimal from 0 to 65535.
// HOST is a dotted-quad IPv4 address (four decimal octets 0-255, no leading
// zeros: "010" would be octal to inet_aton) or an RFC 1123 host name; a host
// made only of digits and dots must be a valid IPv4 address. IPv6 needs the
// brackets. An empty host (":9750") is refused: listening on every interface
// must be asked for by name ("0.0.0.0:9750" or "[::]:9750"), never by
// leaving the host out. Returns nullopt for anything else.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace keywarden

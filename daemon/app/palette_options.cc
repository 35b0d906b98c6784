#include "daemon/app/palette_options.h"

#include "daemon/app/log.h"

namespace keywarden {

PaletteClientOptions palette_client_options(const PaletteConfig& palette) {
  PaletteClientOptions options;
  options.endpoint = palette.endpoint;
  options.api_key = read_secret(palette.api_key);
  logger().add_secret(options.api_key);
  options.ca_file = palette.ca_file.string();
  options.requests_per_second = palette.requests_per_second;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(palette.timeout);
  return options;
}

}  // namespace keywarden

// The Palette client's options as the config gives them, for the CLI and
// the daemon alike.
#pragma once

#include "config/config.h"
#include "daemon/palette/palette_client.h"

namespace keywarden {

// Reads the API key (throws std::runtime_error naming its file or variable,
// never its value, when it cannot) and registers it with the logger for
// redaction.
PaletteClientOptions palette_client_options(const PaletteConfig& palette);

}  // namespace keywarden

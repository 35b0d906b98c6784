// Bounds on a config file's text, checked before toml++ sees it.
//
// toml++ recurses once per dotted-key segment and per table-header segment,
// with no limit of its own there: a key 100,000 segments deep crashes the
// process (check-config, or the daemon on SIGHUP). This scanner reads just
// enough TOML (comments, basic, literal and multi-line strings, quoted keys,
// arrays and inline tables) to measure how deep a file nests without being
// fooled by a dot or a bracket inside a string. It does not validate: on
// text that is not TOML it stops and leaves the error to toml++, which stops
// there too.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace keywarden {

struct TomlBounds {
  // Far above any real config (the SPEC example is about 4 KiB); the loader
  // reads at most one byte more than this.
  std::size_t max_bytes = 1024 * 1024;
  // How many levels a value may sit below the root: each segment of a table
  // header or of a key, and each array, is one level. `[[source]]` with
  // `token_file = ...` is 2; the deepest key keywarden reads is 2.
  int max_depth = 32;
};

// The first bound the text breaks, as a FILE:LINE:COL error (LINE 0 for the
// size), labelled `file_label`; nullopt when the text is within bounds or is
// not TOML at the point where the scan stopped.
std::optional<ConfigError> check_toml_bounds(std::string_view text, const std::string& file_label,
                                             const TomlBounds& bounds = {});

}  // namespace keywarden

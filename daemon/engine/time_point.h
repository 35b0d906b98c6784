// Time as keywarden sees it: whole seconds since the Unix epoch, UTC.
//
// The engine never reads a clock; callers pass `now` in. Everything that is
// stored or printed uses RFC 3339 in UTC ("2026-11-26T10:00:00Z").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace keywarden {

using Timestamp = std::chrono::sys_seconds;
using Duration = std::chrono::seconds;

// The current wall-clock time, truncated to seconds. Only the edges of the
// program (CLI, daemon loop) call this.
Timestamp now_utc();

// "2026-11-26T10:00:00Z".
std::string format_rfc3339(Timestamp t);

// Accepts RFC 3339 with or without fractional seconds, with "Z" or a numeric
// offset ("+02:00"). Fractions are truncated. Returns nullopt on anything else.
std::optional<Timestamp> parse_rfc3339(std::string_view text);

// Palette writes the zero time "0001-01-01T00:00:00.000Z" for "unset".
bool is_zero_time(Timestamp t);

}  // namespace keywarden

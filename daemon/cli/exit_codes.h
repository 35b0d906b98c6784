// SPEC §2 exit codes.
#pragma once

namespace keywarden {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;      // Palette or store unreachable, ...
constexpr int kExitUsage = 2;        // usage or config error
constexpr int kExitQuarantine = 3;   // the safety gate held the plan back
constexpr int kExitChanges = 4;      // plan --detailed-exitcode found actions

// Thrown by commands for a usage or config problem (exit 2). The message is
// printed as is.
struct UsageError {
  std::string message;
};

}  // namespace keywarden

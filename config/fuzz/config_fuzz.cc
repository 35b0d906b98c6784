// libFuzzer target over the config file (scripts/fuzz.sh): each input is
// written to a file and loaded with load_config and the real source schemas
// (connectors/source_registry.h), as `keywarden check-config` and the daemon
// load it; a config that loads has its secrets listed (secrets_of), which
// reads no file. Seed corpus: ./corpus (the shipped example config and a
// small config per source type).
//
// toml++ is Debian's compiled library, so its own code is not instrumented:
// a crash inside it still fails the run, but the coverage that guides the
// fuzzer is our validation's.
//
// Beyond the sanitizers: load_config never throws; it gives a config or
// errors, never both nor neither; every error has a message and they are in
// file order.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <tuple>

#include "config/config.h"
#include "connectors/source_registry.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// One file per fuzzing process, rewritten for every input.
const std::filesystem::path& config_file() {
  static const std::filesystem::path file = [] {
    char pattern[] = "/tmp/keywarden-config-fuzz-XXXXXX";
    check(mkdtemp(pattern) != nullptr);
    return std::filesystem::path(pattern) / "keywarden.toml";
  }();
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path& file = config_file();
  FILE* out = std::fopen(file.c_str(), "wb");
  check(out != nullptr);
  check(std::fwrite(data, 1, size, out) == size);
  check(std::fclose(out) == 0);

  const keywarden::ConfigLoadResult result = keywarden::load_config(file, keywarden::source_schemas());
  check(result.config.has_value() == result.errors.empty());
  for (size_t i = 0; i < result.errors.size(); ++i) {
    check(!result.errors[i].message.empty());
    (void)result.errors[i].format();
    if (i > 0) {
      const auto& a = result.errors[i - 1];
      const auto& b = result.errors[i];
      check(std::tie(a.line, a.column) <= std::tie(b.line, b.column));
    }
  }
  if (result.config) (void)keywarden::secrets_of(*result.config);
  return 0;
}

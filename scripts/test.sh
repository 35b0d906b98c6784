#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: a bounded libFuzzer
# run over the SCIM parsers, then the unit tests beside the code and the
# integration tests that start the real binaries (ctest, whose summary is
# the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./scripts/fuzz.sh "${KEYWARDEN_FUZZ_SECONDS:-30}"
cd build
ctest --output-on-failure --timeout 900 -j2

#!/usr/bin/env bash
# Installs what is missing, builds, packages that build as a .deb, and runs
# every test: a bounded libFuzzer run over every parser (docs/fuzzing.md), then the unit
# tests beside the code, the integration tests that start the real binaries
# and the package's own checks (ctest, whose summary is the last thing
# printed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
# The Debian package from that same build (issue 15), so that its tests run.
./scripts/package.sh --reuse-build
./scripts/fuzz.sh "${KEYWARDEN_FUZZ_SECONDS_PER_TARGET:-6}"
cd build
ctest --output-on-failure --timeout 900 -j2

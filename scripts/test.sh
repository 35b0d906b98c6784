#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit tests beside
# the code and the integration tests that start the real binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j2

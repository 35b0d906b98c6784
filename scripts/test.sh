#!/usr/bin/env bash
# Installs what is missing, builds, packages that build as a .deb, and runs
# every test: a bounded libFuzzer run over every parser (docs/fuzzing.md), then
# the unit tests beside the code, the integration tests that start the real
# binaries and the package's own checks (ctest), then the same tests again
# under the sanitizers (scripts/sanitize.sh: AddressSanitizer with
# UndefinedBehaviorSanitizer, and ThreadSanitizer over the threaded ones).
#
# KEYWARDEN_SANITIZERS=0 leaves the sanitizer runs out (a quick local run);
# CI runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
./scripts/install-deps.sh
./scripts/build.sh
# The Debian package from that same build (issue 15), so that its tests run.
./scripts/package.sh --reuse-build
./scripts/fuzz.sh "${KEYWARDEN_FUZZ_SECONDS_PER_TARGET:-6}"
(cd build && ctest --output-on-failure --timeout 900 -j2)
echo "test: build, fuzzing and tests green in $((SECONDS - started)) s"
if [[ "${KEYWARDEN_SANITIZERS:-1}" != 0 ]]; then
  ./scripts/sanitize.sh all
fi
echo "test: everything green in $((SECONDS - started)) s"

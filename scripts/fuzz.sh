#!/usr/bin/env bash
# Fuzzes the SCIM service provider (connectors/scim/fuzz) with libFuzzer for
# a bounded time: ./scripts/fuzz.sh [SECONDS]   (default 30)
#
# Builds only the fuzz target with clang in ./build-fuzz (ASan + UBSan), and
# runs it on a copy of the seed corpus so the repository's corpus is never
# polluted. New inputs and any crash reproducer stay in build-fuzz/. Exits
# non-zero when the fuzzer finds a crash, a leak or a sanitizer error.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

build=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEYWARDEN_FUZZ=ON -DKEYWARDEN_TESTS=OFF -DKEYWARDEN_BENCH=OFF >/dev/null
cmake --build "$build" --target scim_request_fuzz

work="$build/fuzz-run"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp connectors/scim/fuzz/corpus/* "$work/corpus/"

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
"$build/connectors/scim/scim_request_fuzz" "$work/corpus" \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/"
echo "fuzz: no crash in ${seconds}s; corpus and stats in $work"

#!/usr/bin/env bash
# Fuzzes every parser keywarden has with libFuzzer, each for a bounded time:
#
#   ./scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 6 (nine targets: about 55 s of fuzzing);
# TARGET names some of the targets below (default: all of them).
#
# Builds the targets with clang in ./build-fuzz (ASan + UBSan, one cmake
# invocation), and runs each on a copy of its seed corpus so that the
# repository's corpora are never polluted: new inputs, logs and any crash
# reproducer stay in build-fuzz/fuzz-run/<target>/. Prints, per target, the
# executions run (libFuzzer's stat::number_of_executed_units). Every target
# runs even when one fails; the exit status is non-zero when any of them
# found a crash, a leak, a timeout or a sanitizer error.
#
# A reproducer (build-fuzz/fuzz-run/<target>/artifacts/crash-…) is replayed
# with `build-fuzz/<dir>/<target> FILE`; once the bug is fixed, it goes into
# the target's seed corpus as a regression input.
set -euo pipefail
cd "$(dirname "$0")/.."

# name | folder of its CMakeLists (the binary is build-fuzz/<folder>/<name>) | seed corpora
targets=(
  "scim_request_fuzz|connectors/scim|connectors/scim/fuzz/corpus"
  "okta_hook_fuzz|connectors/okta|connectors/okta/fuzz/corpus"
  "graph_fuzz|connectors/entra|connectors/entra/fuzz/corpus"
  "keycloak_fuzz|connectors/keycloak|connectors/keycloak/fuzz/corpus"
  "set_fuzz|connectors/ssf|connectors/ssf/fuzz/corpus"
  "saml_response_fuzz|connectors/saml|connectors/saml/testdata/responses connectors/saml/testdata/idp-metadata.xml connectors/saml/fuzz/corpus"
  "palette_json_fuzz|daemon/palette|daemon/palette/fuzz/corpus"
  "config_fuzz|config|config/fuzz/corpus"
  "http_head_fuzz|daemon/server|daemon/server/fuzz/corpus"
)

usage() {
  echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
  echo "targets: $(for t in "${targets[@]}"; do printf '%s ' "${t%%|*}"; done)" >&2
  exit 2
}

seconds=6
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  seconds="$1"
  shift
fi
[[ "$seconds" -gt 0 ]] || usage
selected=()
for name in "$@"; do
  found=""
  for t in "${targets[@]}"; do [[ "${t%%|*}" == "$name" ]] && found="$t"; done
  [[ -n "$found" ]] || usage
  selected+=("$found")
done
[[ ${#selected[@]} -gt 0 ]] || selected=("${targets[@]}")

names=()
for t in "${selected[@]}"; do names+=("${t%%|*}"); done

build=build-fuzz
# -O1 -g1, as scripts/sanitize.sh: the reports keep file:line stacks and the
# instrumented build takes far less time than -O2 -g. (The flags clang 14
# needs for Boost 1.74's coroutines are in the top-level CMakeLists.txt,
# under KEYWARDEN_FUZZ.)
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DKEYWARDEN_FUZZ=ON -DKEYWARDEN_TESTS=OFF -DKEYWARDEN_BENCH=OFF >/dev/null
build_start=$SECONDS
cmake --build "$build" --target "${names[@]}" ${KEYWARDEN_JOBS:+-j "$KEYWARDEN_JOBS"}
echo "fuzz: built ${#names[@]} targets in $((SECONDS - build_start))s"

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"

run="$build/fuzz-run"
failed=()
summary=()
total_execs=0
fuzz_start=$SECONDS
for t in "${selected[@]}"; do
  IFS='|' read -r name folder seeds <<<"$t"
  work="$run/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  for seed in $seeds; do
    if [[ -d "$seed" ]]; then
      find "$seed" -maxdepth 1 -type f -exec cp {} "$work/corpus/" \;
    elif [[ -f "$seed" ]]; then
      cp "$seed" "$work/corpus/"
    fi
  done
  status=0
  "$build/$folder/$name" "$work/corpus" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
  execs=${execs:-0}
  total_execs=$((total_execs + execs))
  if [[ $status -ne 0 ]]; then
    failed+=("$name")
    summary+=("$(printf '%-20s %10s execs  FAILED (exit %d; log %s)' "$name" "$execs" "$status" "$work/log")")
    echo "fuzz: $name FAILED; the end of its log:" >&2
    tail -n 40 "$work/log" >&2
    ls -l "$work/artifacts" >&2
  else
    summary+=("$(printf '%-20s %10s execs  in %ss' "$name" "$execs" "$seconds")")
  fi
done

echo "fuzz: executions per target (stat::number_of_executed_units):"
printf '  %s\n' "${summary[@]}"
echo "fuzz: ${#selected[@]} targets, $total_execs executions in $((SECONDS - fuzz_start))s; corpora and logs in $run"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $run/<target>/artifacts)" >&2
  exit 1
fi

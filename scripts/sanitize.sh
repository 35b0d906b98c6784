#!/usr/bin/env bash
# Runs the tests again with the code built under sanitizers (issue 14):
#
#   address  AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan:
#            every unit test, and every integration test that starts the
#            real daemon except the two whose point is scale
#            (test_scim_large_group, test_keycloak's directory): they run the
#            same code paths as the others, for minutes under ASan.
#   thread   ThreadSanitizer, in build-tsan: the tests of what runs on more
#            than one thread (the store worker and its steps, also on a
#            failing disk through the fault VFS, the store, the
#            HTTP server and its threads), and the daemon itself taking
#            SIGHUPs while full plans run on the blocking pool
#            (integration.test_reload_under_load).
#
#   ./scripts/sanitize.sh [address|thread|all]   (default all)
#
# Any sanitizer report fails the test that caused it, and this script with
# it. ccache keeps the rebuilds cheap once the sanitized objects are cached.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-all}"
case "$mode" in
  address|thread|all) ;;
  *) echo "usage: $0 [address|thread|all]" >&2; exit 2 ;;
esac

here="$(pwd)"
jobs="${KEYWARDEN_JOBS:-2}"

# -g1: the sanitizers' reports keep their file:line stacks. AddressSanitizer
# with UndefinedBehaviorSanitizer builds at -O0: at -O1, GCC spent 2.3 times
# as long on each instrumented file (111 s against 48 s for one connector's
# tests; the optimizer chewing through UBSan's checks), which was the largest
# part of CI. ThreadSanitizer stays at -O1 (its runs are timing-sensitive and
# it builds few targets).
configure() {  # DIR SANITIZERS OPTIMIZATION
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$3 -g1" \
    -DKEYWARDEN_SANITIZE="$2" -DKEYWARDEN_BENCH=OFF -DKEYWARDEN_FUZZ=OFF >/dev/null
}

if [[ "$mode" == address || "$mode" == all ]]; then
  started=$SECONDS
  configure build-asan address,undefined -O0
  cmake --build build-asan -j "$jobs"
  # Tests that measure the process's memory or race a short grace read it.
  export KEYWARDEN_SANITIZED=address
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0"
  export LSAN_OPTIONS="suppressions=$here/tests/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  (cd build-asan && ctest --output-on-failure --timeout 1200 -j "$jobs" -L 'unit|integration' \
     -E 'integration\.(test_scim_large_group|test_keycloak|test_contrib_metrics)$')
  echo "sanitize: AddressSanitizer + UndefinedBehaviorSanitizer green in $((SECONDS - started)) s"
fi

if [[ "$mode" == thread || "$mode" == all ]]; then
  started=$SECONDS
  configure build-tsan thread -O1
  cmake --build build-tsan -j "$jobs" --target store_worker_test store_worker_fault_test store_test checkpointer_test http_server_test keywarden palette-sim
  export KEYWARDEN_SANITIZED=thread
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$here/tests/sanitizers/tsan.supp"
  (cd build-tsan && ctest --output-on-failure --timeout 1200 -j "$jobs" \
     -R '^(StoreWorkerTest|StoreWorkerUrgencyTest|StoreWorkerFaultTest|StoreTest|WalCheckpointerTest|HttpServerTest|HttpServerThreadsTest)\.|^integration\.test_reload_under_load$')
  echo "sanitize: ThreadSanitizer green in $((SECONDS - started)) s"
fi

#!/usr/bin/env bash
# Checks a systemd service unit offline, without a running systemd (CI runs in
# a container where PID 1 is not systemd):
#   1. `systemd-analyze verify` finds no error or warning in the file;
#   2. `systemd-analyze security --offline=true` rates its exposure at 2.0 or
#      less (MAX_EXPOSURE overrides the limit).
#
# Usage: check_unit_security.sh UNIT_FILE
#        check_unit_security.sh --self-test UNIT_FILE
# The second form proves that the check fails when it should: it weakens
# copies of UNIT_FILE (hardening removed; one directive misspelt) and exits 0
# only if the check rejects each of them for the expected reason.
#
# Exit status: 0 pass; 1 exposure above the limit; 2 verify found a problem;
# 3 cannot run (usage, missing tool, unparsable output).
#
# Needs systemd-analyze from systemd 250 or later (--offline, --threshold);
# scripts/install-deps.sh installs it with the Debian package `systemd`. The
# figure depends on the checks that systemd version knows: newer systemd
# versions may add checks and so rate the same file differently.
set -uo pipefail

readonly EXIT_EXPOSURE=1 EXIT_VERIFY=2 EXIT_TOOLING=3
max_exposure="${MAX_EXPOSURE:-2.0}"
work_dir=""  # temporary files, removed on exit

die() {
  echo "check_unit_security: $*" >&2
  exit "$EXIT_TOOLING"
}

require_tooling() {
  command -v systemd-analyze >/dev/null 2>&1 ||
    die "systemd-analyze not found; install the Debian package 'systemd' (scripts/install-deps.sh does)"
  local help
  help="$(systemd-analyze --help 2>&1)"
  grep -q -- '--offline' <<<"$help" && grep -q -- '--threshold' <<<"$help" ||
    die "this systemd-analyze ($(systemd-analyze --version | head -n1)) lacks --offline/--threshold; need systemd 250 or later"
  [[ "$max_exposure" =~ ^[0-9]+(\.[0-9])?$ ]] || die "MAX_EXPOSURE must look like 2.0, got '$max_exposure'"
}

# Runs `systemd-analyze verify` on a copy of the unit in which every Exec*=
# command missing from this machine is replaced by a stub script. verify
# rejects a unit whose command does not exist ("Command ... is not
# executable"), and the build machine has no /usr/bin/keywarden (nor, in a
# slim container, /bin/kill from procps). --root= is no way out: verify then
# also looks for sysinit.target and every other standard unit inside that
# root. Only those paths change; every other byte is checked as written.
# verify exits 0 after "Unknown key ..." and "Failed to parse ..., ignoring",
# so any diagnostic that names the unit counts as a failure.
verify_unit() {
  local unit="$1" work="$2"
  local name copy stub line key rest prefix command output status=0
  local -a stubbed=()
  name="$(basename "$unit")"
  mkdir -p "$work/verify"
  copy="$work/verify/$name"
  stub="$work/verify/stub"
  printf '#!/bin/sh\nexit 0\n' >"$stub"
  chmod 0755 "$stub"
  : >"$copy"
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ ^(Exec[A-Za-z]+)=([-@:+!]*)(/[^[:space:]]+)(.*)$ ]]; then
      key="${BASH_REMATCH[1]}" prefix="${BASH_REMATCH[2]}" command="${BASH_REMATCH[3]}" rest="${BASH_REMATCH[4]}"
      if [[ ! -x "$command" ]]; then
        line="$key=$prefix$stub$rest"
        stubbed+=("$command")
      fi
    fi
    printf '%s\n' "$line" >>"$copy"
  done <"$unit"

  output="$(LC_ALL=C SYSTEMD_COLORS=0 systemd-analyze verify --man=no "$copy" 2>&1)" || status=$?
  output="${output//"$copy"/"$unit"}"  # name the real file, not the copy
  if ((status != 0)) || grep -q -e "$name" -e "$unit" <<<"$output"; then
    echo "FAIL verify: systemd-analyze verify reports problems in $unit:" >&2
    sed 's/^/  /' <<<"$output" >&2
    return "$EXIT_VERIFY"
  fi
  [[ -z "$output" ]] || sed 's/^/  verify (not about this unit): /' <<<"$output"
  echo "ok verify: $unit${stubbed[*]:+ (stubbed, absent here: ${stubbed[*]})}"
}

# Rates the unit with the offline security review and compares the overall
# exposure with the limit ourselves: --threshold (exposure x 10) is passed too,
# but the parsed figure is what the message and the decision rest on.
check_exposure() {
  local unit="$1"
  local threshold output status=0 exposure
  threshold="$(awk -v m="$max_exposure" 'BEGIN { printf "%d", m * 10 + 0.5 }')"
  output="$(LC_ALL=C SYSTEMD_COLORS=0 systemd-analyze security --offline=true \
    --threshold="$threshold" --no-pager "$unit" 2>&1)" || status=$?
  exposure="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$output" | tail -n1)"
  if [[ -z "$exposure" ]]; then
    echo "$output" >&2
    die "no 'Overall exposure level' line from systemd-analyze security for $unit (exit $status)"
  fi
  if awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
    echo "FAIL exposure: $unit rates $exposure, above the limit of $max_exposure." >&2
    echo "  What still counts against it (systemd-analyze security --offline=true $unit):" >&2
    # In the C locale a failed check starts with "- " (a passed one with "+ ").
    grep -E '^(- |✗ )' <<<"$output" | sed 's/^/  /' >&2
    return "$EXIT_EXPOSURE"
  fi
  if ((status != 0)); then
    echo "$output" >&2
    die "systemd-analyze security exited $status although $unit rates $exposure"
  fi
  echo "ok exposure: $unit rates $exposure (limit $max_exposure)"
}

# Runs both checks (so one report shows every problem); the exit status is
# the first failure's.
check_unit() {
  local unit="$1" work="$2" verify_rc=0 exposure_rc=0
  verify_unit "$unit" "$work" || verify_rc=$?
  check_exposure "$unit" || exposure_rc=$?
  ((verify_rc != 0)) && return "$verify_rc"
  return "$exposure_rc"
}

# Expects `check_unit` on a weakened copy to fail with `want`.
expect_rejected() {
  local what="$1" unit="$2" want="$3" work="$4" got=0
  echo "--- self-test: $what"
  (check_unit "$unit" "$work") || got=$?
  if ((got != want)); then
    echo "SELF-TEST FAIL: $what: the check exited $got, expected $want" >&2
    return 1
  fi
  echo "self-test ok: $what was rejected (exit $got)"
}

self_test() {
  local unit="$1" work="$2" name failures=0
  name="$(basename "$unit")"

  # The unit with every hardening directive removed: only what makes it run.
  mkdir -p "$work/stripped"
  grep -E '^(\[|#|$|(Description|Documentation|Wants|After|StartLimit[A-Za-z]*|Type|NotifyAccess|ExecStart|ExecReload|Restart[A-Za-z]*|WatchdogSec|Timeout[A-Za-z]*|LoadCredential[A-Za-z]*|WantedBy)=)' \
    "$unit" >"$work/stripped/$name"
  expect_rejected "$name without its hardening" "$work/stripped/$name" "$EXIT_EXPOSURE" "$work/s1" || failures=$((failures + 1))

  # A misspelt directive: systemd ignores it with a warning, so the unit would
  # silently lose that protection.
  mkdir -p "$work/misspelt"
  sed 's/^ProtectSystem=/ProtectSytem=/' "$unit" >"$work/misspelt/$name"
  if cmp -s "$unit" "$work/misspelt/$name"; then
    echo "SELF-TEST FAIL: $unit has no ProtectSystem= line to misspell" >&2
    failures=$((failures + 1))
  else
    expect_rejected "$name with ProtectSystem= misspelt" "$work/misspelt/$name" "$EXIT_VERIFY" "$work/s2" ||
      failures=$((failures + 1))
  fi

  ((failures == 0)) || { echo "self-test: $failures case(s) not detected" >&2; return 1; }
  echo "self-test: every weakened unit was rejected"
}

main() {
  local mode=check
  if [[ "${1:-}" == "--self-test" ]]; then
    mode=self-test
    shift
  fi
  (($# == 1)) || die "usage: $0 [--self-test] UNIT_FILE"
  local unit="$1"
  [[ -f "$unit" && -r "$unit" ]] || die "no readable unit file at $unit"
  [[ "$unit" == *.service ]] || die "$unit: expected a .service file"
  unit="$(realpath "$unit")" || die "cannot resolve $1"
  require_tooling

  work_dir="$(mktemp -d "${TMPDIR:-/tmp}/check_unit_security.XXXXXX")" || die "mktemp failed"
  trap 'rm -rf "$work_dir"' EXIT
  local work="$work_dir"

  if [[ "$mode" == self-test ]]; then
    self_test "$unit" "$work"
  else
    check_unit "$unit" "$work"
  fi
}

main "$@"

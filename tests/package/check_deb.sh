#!/usr/bin/env bash
# Checks a built keywarden .deb without installing it on this machine:
#   - `dpkg --contents` lists every file the package must ship;
#   - `dpkg -x` into a scratch root: the binary runs and prints its version,
#     the conffile is the packaged config, the unit passes `systemd-analyze
#     verify` and the hardening limit (tests/systemd/check_unit_security.sh),
#     the sysusers.d file declares the user, the man pages format;
#   - the control data: /etc/keywarden/keywarden.toml is a conffile, and the
#     maintainer scripts enable the unit and create the user.
# Usage: check_deb.sh [--if-built] DEB_OR_FOLDER
# With --if-built, exits 77 (ctest: skipped) when no .deb has been built yet.
set -uo pipefail
if_built=0
[[ "${1:-}" == --if-built ]] && { if_built=1; shift; }
target="${1:?usage: check_deb.sh [--if-built] DEB_OR_FOLDER}"
here="$(cd "$(dirname "$0")" && pwd)"

deb="$target"
if [[ -d "$target" ]]; then
  deb="$(ls -t "$target"/keywarden_*.deb 2>/dev/null | head -n1)"
fi
if [[ -z "$deb" || ! -f "$deb" ]]; then
  if ((if_built)); then
    echo "SKIP: no keywarden_*.deb in $target; scripts/package.sh builds one" >&2
    exit 77
  fi
  echo "FAIL: no keywarden .deb at $target" >&2
  exit 1
fi
command -v dpkg-deb >/dev/null || { echo "FAIL: dpkg-deb not found" >&2; exit 1; }

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

contents="$(dpkg --contents "$deb" | awk '{print $NF}' | sed 's|^\./|/|')"
unit_path=""
for unit in /lib/systemd/system/keywarden.service /usr/lib/systemd/system/keywarden.service; do
  grep -qxF "$unit" <<<"$contents" && unit_path="$unit"
done
[[ -n "$unit_path" ]] || fail "no keywarden.service under /lib/systemd/system or /usr/lib/systemd/system"
sysusers_path=""
for conf in /usr/lib/sysusers.d/keywarden.conf /lib/sysusers.d/keywarden.conf; do
  grep -qxF "$conf" <<<"$contents" && sysusers_path="$conf"
done
[[ -n "$sysusers_path" ]] || fail "no sysusers.d/keywarden.conf"
for path in /usr/bin/keywarden /etc/keywarden/keywarden.toml \
  /usr/share/man/man8/keywarden.8.gz /usr/share/man/man5/keywarden.toml.5.gz \
  /usr/share/bash-completion/completions/keywarden \
  /usr/share/doc/keywarden/copyright /usr/share/doc/keywarden/README.md \
  /usr/share/doc/keywarden/operations.md /usr/share/doc/keywarden/architecture.md \
  /usr/share/doc/keywarden/systemd.md \
  /usr/share/doc/keywarden/examples/keywarden.example.toml \
  /usr/share/doc/keywarden/examples/keywarden.rules.yml \
  /usr/share/doc/keywarden/examples/keywarden.json; do
  grep -qxF "$path" <<<"$contents" || fail "the package does not ship $path"
done
grep -q '^/etc/credstore' <<<"$contents" && fail "/etc/credstore is the admin's, the package must not ship it"

dpkg -x "$deb" "$root" || { echo "FAIL: dpkg -x $deb" >&2; exit 1; }

version="$(dpkg-deb -f "$deb" Version)"
printed="$("$root/usr/bin/keywarden" version 2>&1 | sed -n 1p)"
[[ "$printed" == "keywarden ${version%%-*}" ]] || fail "the packaged binary says '$printed', the package is $version"

if [[ -n "$unit_path" ]]; then
  # The installed unit's ExecStart names /usr/bin/keywarden: verify sees the
  # packaged binary when it is on that path, else check_unit_security stubs it.
  bash "$here/../systemd/check_unit_security.sh" "$root$unit_path" || fail "the installed unit fails verify or the hardening limit"
fi
[[ -n "$sysusers_path" ]] && { grep -qE '^u[[:space:]]+keywarden[[:space:]]' "$root$sysusers_path" || fail "$sysusers_path does not declare user keywarden"; }
grep -q '^#! \[\[source\]\]' "$root/etc/keywarden/keywarden.toml" || fail "the packaged config does not have its sources disabled"
grep -q '^\[\[source\]\]' "$root/etc/keywarden/keywarden.toml" && fail "the packaged config enables a source"

control="$root/DEBIAN"
mkdir -p "$control"
dpkg-deb -e "$deb" "$control"
grep -qxF /etc/keywarden/keywarden.toml "$control/conffiles" 2>/dev/null || fail "/etc/keywarden/keywarden.toml is not a conffile"
grep -q 'deb-systemd-helper.*enable.*keywarden.service\|deb-systemd-helper update-state.*keywarden.service' "$control/postinst" 2>/dev/null ||
  fail "postinst does not enable keywarden.service"
grep -q 'systemd-sysusers.*keywarden' "$control/postinst" 2>/dev/null || fail "postinst does not create the user (systemd-sysusers)"

if command -v groff >/dev/null; then
  for page in man8/keywarden.8.gz man5/keywarden.toml.5.gz; do
    warnings="$(zcat "$root/usr/share/man/$page" | LC_ALL=C groff -man -ww -z -Tutf8 2>&1)"
    [[ -z "$warnings" ]] || fail "$page: $warnings"
  done
fi

if ((failures)); then
  echo "$failures package check(s) failed for $deb" >&2
  exit 1
fi
echo "package $deb: files, conffile, unit (verify + hardening), user, man pages all in place"

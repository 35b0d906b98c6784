#!/usr/bin/env bash
# The config the package installs (config/disable_sources.py's output):
#   - it is the example with its sources disabled, nothing else lost
#     (enabling them again gives the example back, byte for byte);
#   - keywarden refuses it cleanly, exit 2 (which the unit never restarts),
#     for the one reason that it names no source.
# Usage: check_packaged_config.sh SOURCE_DIR PACKAGED_CONFIG KEYWARDEN_BIN
set -uo pipefail
source_dir="$1" packaged="$2" keywarden="$3"
example="$source_dir/config/keywarden.example.toml"
[[ -f "$packaged" ]] || { echo "FAIL: $packaged not built (target keywarden-dist-files)" >&2; exit 1; }

enabled="$(sed -e '1,/^#$/d' -e 's/^#! //' "$packaged")"
if [[ "$enabled" != "$(cat "$example")" ]]; then
  echo "FAIL: $packaged with its sources enabled again differs from $example:" >&2
  diff <(echo "$enabled") "$example" >&2
  exit 1
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cp "$packaged" "$dir/keywarden.toml"
output="$("$keywarden" -c "$dir/keywarden.toml" check-config 2>&1)"
status=$?
if ((status != 2)); then
  echo "FAIL: check-config of the packaged config exited $status, expected 2:" >&2
  echo "$output" >&2
  exit 1
fi
if [[ "$(grep -c . <<<"$output")" != 1 ]] || ! grep -q 'no \[\[source\]\]' <<<"$output"; then
  echo "FAIL: the packaged config should fail for one reason, no [[source]]; keywarden says:" >&2
  echo "$output" >&2
  exit 1
fi
# `run` refuses it the same way, before touching anything.
output="$(timeout 20 "$keywarden" -c "$dir/keywarden.toml" run 2>&1)"
status=$?
if ((status != 2)); then
  echo "FAIL: run with the packaged config exited $status, expected 2: $output" >&2
  exit 1
fi
echo "packaged config: the example with every source disabled; keywarden refuses it with exit 2 (no [[source]])"

#!/usr/bin/env bash
# The version has one home, project(VERSION) in CMakeLists.txt. This fails
# when debian/changelog's newest entry or `keywarden version` says otherwise.
# Usage: check_version.sh SOURCE_DIR KEYWARDEN_BIN
set -euo pipefail
source_dir="$1" keywarden="$2"

cmake_version="$(sed -nE 's/^project\(keywarden VERSION ([0-9][0-9.]*)[ )].*/\1/p' "$source_dir/CMakeLists.txt")"
[[ -n "$cmake_version" ]] || { echo "FAIL: no project(keywarden VERSION x.y.z) in CMakeLists.txt" >&2; exit 1; }

# "keywarden (0.1.0) unstable; urgency=medium": the upstream part, before any Debian revision.
changelog_version="$(sed -nE '1s/^keywarden \(([^)]+)\).*/\1/p' "$source_dir/debian/changelog")"
changelog_upstream="${changelog_version%%-*}"
if [[ "$changelog_upstream" != "$cmake_version" ]]; then
  echo "FAIL: debian/changelog is at '$changelog_version' but CMakeLists.txt project(VERSION) is '$cmake_version';" >&2
  echo "      add a debian/changelog entry (dch -v $cmake_version) or fix project(VERSION)" >&2
  exit 1
fi

binary_version="$("$keywarden" version | sed -n 1p)"
if [[ "$binary_version" != "keywarden $cmake_version" ]]; then
  echo "FAIL: 'keywarden version' prints '$binary_version', expected 'keywarden $cmake_version'" >&2
  exit 1
fi
echo "version $cmake_version: CMakeLists.txt, debian/changelog and the binary agree"

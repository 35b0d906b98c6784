#!/usr/bin/env bash
# promtool check rules + promtool test rules on contrib/prometheus/.
# Exits 77 (ctest: skipped) only when promtool is missing; scripts/install-deps.sh
# installs it (Debian package `prometheus`).
set -euo pipefail
dir="$(cd "$(dirname "$0")/../../contrib/prometheus" && pwd)"
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not found; install the Debian package 'prometheus' (scripts/install-deps.sh does)" >&2
  exit 77
fi
cd "$dir"
promtool check rules keywarden.rules.yml
promtool test rules keywarden.rules.test.yml

#!/usr/bin/env bash
# Regenerates set_fixtures.json with the npm `jose` package (installed into a
# scratch folder, never into the repository). Needs node >= 18 and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund jose@5 >/dev/null)
cp "$here/make_set_fixtures.mjs" "$work/"
(cd "$work" && node make_set_fixtures.mjs)
cp "$work/set_fixtures.json" "$here/set_fixtures.json"

#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts the bundled Palette
# simulator and shows keywarden revoking the keys of leavers, then deleting
# them once delete_after has passed. State lives in ./demo-state (SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

kw=./build/daemon/keywarden
sim=./build/palette-sim/palette-sim
rm -rf demo-state && mkdir -p demo-state
export PALETTE_API_KEY=demo-palette-admin-key-0123456789

"$sim" --seed demo/palette-seed.json --listen 127.0.0.1:9751 --port-file demo-state/sim.port \
  2>demo-state/palette-sim.log &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s demo-state/sim.port ]] && break; sleep 0.05; done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
keys_in_palette() {
  curl -s http://127.0.0.1:9751/__sim/state | python3 -c '
import json, sys
for k in json.load(sys.stdin)["keys"]:
    state = "deleted" if k.get("deleted") else ("active" if k["isActive"] else "REVOKED")
    print("  %-16s %s" % (k["name"], state))'
}

step "Palette's keys before keywarden"
keys_in_palette
step "keywarden check-config"
$kw -c demo/keywarden.toml check-config
step "keywarden plan (bob is DEPROVISIONED, carol SUSPENDED; dave was never in palette-users)"
$kw -c demo/keywarden.toml plan
step "keywarden sync --yes: revoke the leavers' keys"
$kw -c demo/keywarden.toml sync --yes
step "Palette's keys now"
keys_in_palette
step "waiting for delete_after (15s in this demo) to pass"
sleep 16
step "keywarden sync --yes: delete the keys revoked 15s ago"
$kw -c demo/keywarden.toml sync --yes
step "Palette's keys now"
keys_in_palette
step "keywarden audit"
$kw -c demo/keywarden.toml audit

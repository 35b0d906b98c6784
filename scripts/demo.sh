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
cp demo/identities.json demo-state/identities.json
export PALETTE_API_KEY=demo-palette-admin-key-0123456789
export SCIM_TOKEN=demo-scim-bearer-token-0123456789

"$sim" --seed demo/palette-seed.json --listen 127.0.0.1:9751 --port-file demo-state/sim.port \
  2>demo-state/palette-sim.log &
sim_pid=$!
daemon_pid=
trap 'kill $sim_pid $daemon_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s demo-state/sim.port ]] && break; sleep 0.05; done
if [[ ! -s demo-state/sim.port ]]; then
  echo "demo: palette-sim did not start (is port 9751 taken?):" >&2
  cat demo-state/palette-sim.log >&2
  exit 1
fi

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

step "Erin moves from palette-admins to engineering in the IdP; Palette keeps her in its palette-admins team until she logs in"
python3 - demo-state/identities.json <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    doc = json.load(f)
for user in doc["users"]:
    if user["id"] == "00u5erin":
        user["groups"] = ["palette-users", "engineering"]
with open(path, "w") as f:
    json.dump(doc, f)
PY
step "keywarden plan: erin's admin team membership is stale (stale_teams = \"report\": listed, nothing revoked)"
$kw -c demo/keywarden.toml plan
$kw -c demo/keywarden.toml sync --yes
step "keywarden status lists it too"
$kw -c demo/keywarden.toml status

step "keywarden run: the daemon, with a SCIM endpoint that Entra ID or Okta pushes to"
KEYWARDEN_PORT_FILE=demo-state/daemon.port $kw -c demo/keywarden.toml run 2>demo-state/daemon.log &
daemon_pid=$!
for _ in $(seq 100); do [[ -s demo-state/daemon.port ]] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat demo-state/daemon.port)"
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -s "$base/readyz"; echo
scim() { curl -s -H "Authorization: Bearer $SCIM_TOKEN" -H "Content-Type: application/scim+json" "$@"; }
echo "Entra provisions frank (POST /Users):"
frank=$(scim -X POST "$base/scim/v2/corp-entra/Users" -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName":"frank@acme.example","active":true,"emails":[{"primary":true,"type":"work","value":"frank@acme.example"}]}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "  SCIM id $frank"
step "Frank leaves: Entra sends PATCH {\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}"
scim -o /dev/null -w "  keywarden acknowledged (committed to SQLite) in %{time_total}s with HTTP %{http_code}\n" \
  -X PATCH "$base/scim/v2/corp-entra/Users/$frank" \
  -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}'
for _ in $(seq 50); do
  curl -s "$base/metrics" | grep -q '^keywarden_push_to_action_seconds_count [1-9]' && break; sleep 0.1
done
curl -s "$base/metrics" | python3 -c '
import sys
vals = dict(l.rsplit(" ", 1) for l in sys.stdin if l.startswith("keywarden_push_to_action_seconds_"))
count, total = float(vals.get("keywarden_push_to_action_seconds_count", 0)), float(vals.get("keywarden_push_to_action_seconds_sum", 0))
print("  push to Palette revoke: %.1f ms (keywarden_push_to_action_seconds)" % (1000 * total / count) if count else "  no revocation yet")'
step "Palette's keys now"
keys_in_palette
kill $daemon_pid; wait $daemon_pid 2>/dev/null || true
daemon_pid=
step "keywarden audit"
$kw -c demo/keywarden.toml audit

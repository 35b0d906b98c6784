"""Drives the palette-sim binary from Python tests. Standard library only.

    sim = PaletteSim(make_tenant(120, 40))        # starts it, waits for its port
    sim.url                                       # "http://127.0.0.1:PORT"
    status, headers, body = sim.request("GET", "/v1/users?limit=50")
    sim.calls(); sim.state(); sim.set_faults(drop_rate=0.5, seed=1); sim.stop()

The binary comes from $PALETTE_SIM_BIN (default: build/palette-sim/palette-sim
under the repository root). palette-sim/README.md documents the seed format,
the faults and the control endpoints.
"""

import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PALETTE_SIM_BIN = os.environ.get("PALETTE_SIM_BIN", os.path.join(ROOT, "build", "palette-sim", "palette-sim"))

DEFAULT_API_KEY = "sim-admin-key-0123456789abcdef"


class PaletteSimError(RuntimeError):
    pass


class PaletteSim:
    """A running palette-sim process serving `seed` (a dict, see make_tenant).

    rate/burst: the rate limit (defaults: Palette's documented 10/s, burst 50).
    api_key: overrides the seed's "apiKey" (passed through --api-key-file).
    Use as a context manager, or call stop(); stop() is idempotent.
    """

    def __init__(self, seed, rate=None, burst=None, api_key=None, binary=None, extra_args=(),
                 startup_timeout=15.0, quiet=False):
        self.seed = seed
        self.api_key = api_key if api_key is not None else seed.get("apiKey", "")
        self.dir = tempfile.mkdtemp(prefix="palette-sim-")
        self.seed_path = os.path.join(self.dir, "seed.json")
        self.port_path = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "palette-sim.log")
        with open(self.seed_path, "w") as f:
            json.dump(seed, f)
        cmd = [binary or PALETTE_SIM_BIN, "--seed", self.seed_path, "--listen", "127.0.0.1:0",
               "--port-file", self.port_path]
        if rate is not None:
            cmd += ["--rate", str(rate)]
        if burst is not None:
            cmd += ["--burst", str(burst)]
        if api_key is not None:
            key_path = os.path.join(self.dir, "api-key")
            with open(key_path, "w") as f:
                f.write(api_key + "\n")
            cmd += ["--api-key-file", key_path]
        if quiet:
            cmd.append("--quiet")
        cmd += list(extra_args)
        # stderr goes to a file: a pipe nobody reads would block the simulator.
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        self.port = self._wait_for_port(startup_timeout)
        self.url = f"http://127.0.0.1:{self.port}"

    def _wait_for_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()
                raise PaletteSimError(f"palette-sim exited with {self.proc.returncode}:\n{log}")
            try:
                with open(self.port_path) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        log = self.log()
        self.stop()
        raise PaletteSimError(f"palette-sim did not write its port within {timeout}s:\n{log}")

    # --- lifecycle ---------------------------------------------------------

    def stop(self):
        """Stops the process (SIGTERM, then SIGKILL after 5 s) and removes its files."""
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()
        if getattr(self, "dir", None) and os.path.isdir(self.dir):
            self._last_log = self.log()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        """What the simulator printed so far (one line per request)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return getattr(self, "_last_log", "")

    # --- raw HTTP ----------------------------------------------------------

    def request(self, method, path, body=None, headers=None, api_key=True, timeout=10.0):
        """One request on a fresh connection. Returns (status, headers, body).

        body: dict/list (sent as JSON), str or bytes. api_key: True sends the
        simulator's key, a str sends that value, None/False sends no ApiKey.
        headers: a dict, lower-cased names; body: parsed JSON when it is JSON,
        else the text. Connection errors (e.g. a drop fault) raise OSError or
        http.client.HTTPException.
        """
        h = {"Accept": "application/json"}
        if api_key is True:
            h["ApiKey"] = self.api_key
        elif api_key:
            h["ApiKey"] = api_key
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            raw = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            text = raw.decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return resp.status, rh, parsed
        finally:
            conn.close()

    def _control(self, method, path, body=None):
        status, _, parsed = self.request(method, path, body=body, api_key=None)
        if status >= 300:
            raise PaletteSimError(f"{method} {path} -> {status}: {parsed}")
        return parsed

    # --- control endpoints -------------------------------------------------

    def state(self):
        """{"self": {...}, "users": [{uid, email, firstName, lastName, isActive, deleted}],
        "keys": [{uid, name, ownerUid, isActive, deleted, createdAt, lastModified, expiry}]}"""
        return self._control("GET", "/__sim/state")

    def calls(self):
        """Every API request received since start or reset_calls(), in order:
        [{method, path, query, status (0 = dropped), time_ms, body, headers}]."""
        return self._control("GET", "/__sim/calls")["calls"]

    def reset_calls(self):
        self._control("POST", "/__sim/reset-calls")

    def reset_rate_limits(self):
        self._control("POST", "/__sim/reset-rate-limits")

    def set_faults(self, **faults):
        """Replaces the faults: five_xx_rate, storm_429 (seconds), retry_after,
        latency_ms, drop_rate, seed. No arguments clears them all."""
        return self._control("POST", "/__sim/faults", body=faults)

    def faults(self):
        return self._control("GET", "/__sim/faults")

    def add_users(self, users):
        """Adds users, or replaces those with the same uid (seed format)."""
        self._control("POST", "/__sim/users", body=list(users))

    def delete_user(self, uid):
        """The user disappears from Palette; their keys stay."""
        self._control("DELETE", "/__sim/users/" + urllib.parse.quote(uid, safe=""))

    def add_keys(self, keys):
        """Adds keys, or replaces those with the same uid (seed format)."""
        self._control("POST", "/__sim/keys", body=list(keys))

    def add_teams(self, teams):
        """Adds teams, or replaces those with the same uid, members included (seed format:
        {"uid", "name", "users": [user uids], "roles": [role uids]})."""
        self._control("POST", "/__sim/teams", body=list(teams))

    def delete_team(self, uid):
        self._control("DELETE", "/__sim/teams/" + urllib.parse.quote(uid, safe=""))

    # --- API conveniences --------------------------------------------------

    def list_all_users(self):
        """Pages through GET /v1/users like a well-behaved client; returns the items."""
        items, token = [], ""
        while True:
            path = "/v1/users?limit=50" + ("&continue=" + urllib.parse.quote(token, safe="") if token else "")
            status, _, body = self.request("GET", path)
            if status != 200:
                raise PaletteSimError(f"GET {path} -> {status}: {body}")
            items += body["items"]
            token = body["listmeta"].get("continue", "")
            if not token:
                return items


# --- seeds -----------------------------------------------------------------

FIRST_NAMES = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
               "John", "Katherine", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Robin", "Shafi", "Tim",
               "Vint", "Whitfield", "Xiao", "Yukihiro", "Zhang"]
LAST_NAMES = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Lamarr",
              "Sutherland", "McCarthy", "Johnson", "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Milner",
              "Goldwasser", "Berners-Lee", "Cerf", "Diffie", "Wang", "Matsumoto", "Wei"]
KEY_PURPOSES = ["ci-deploy", "terraform", "backup", "monitoring", "gitops", "cli", "edge-provision", "audit-export"]


def _fmt(t):
    """Epoch seconds -> "2024-09-16T14:46:28.677Z"."""
    whole = int(t)
    ms = int(round((t - whole) * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%03dZ" % ms


def make_tenant(n_users, n_keys, seed=1, api_key=DEFAULT_API_KEY, inactive_users=0, expired_keys=0,
                revoked_keys=0, orphan_keys=0, now=None, org_name="acme"):
    """A realistic seed for palette-sim, deterministic for a given `seed`.

    n_users counts every user: the first is the daemon's own tenant admin
    ("self"), the others are named from FIRST_NAMES/LAST_NAMES with emails first.last@example.com
    (a number is appended when a name repeats). Uids are 24-hex ObjectIds.
    Keys go to random users (self included) and are 1-90 days old with a
    7/30/60/90-day expiry, except: the first `expired_keys` expired yesterday,
    the next `revoked_keys` are inactive, and the last `orphan_keys` belong to
    uids that no user has. The first `inactive_users` users (after self) have
    isActive false.
    """
    rng = random.Random(seed)
    now = time.time() if now is None else now
    used = set()

    def new_uid():
        while True:
            u = "%024x" % rng.getrandbits(96)
            if u not in used:
                used.add(u)
                return u

    admin = {"uid": new_uid(), "email": "keywarden-admin@example.com", "firstName": "Keywarden",
             "lastName": "Admin", "isActive": True, "createdAt": _fmt(now - 400 * 86400)}
    users = [admin]
    emails = {admin["email"]}
    for i in range(max(n_users - 1, 0)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        base = f"{first}.{last}".lower()
        email, n = f"{base}@example.com", 2
        while email in emails:
            email, n = f"{base}{n}@example.com", n + 1
        emails.add(email)
        users.append({"uid": new_uid(), "email": email, "firstName": first, "lastName": last,
                      "isActive": i >= inactive_users, "createdAt": _fmt(now - rng.randint(30, 700) * 86400)})

    keys = []
    for i in range(n_keys):
        orphan = i >= n_keys - orphan_keys
        owner_uid = new_uid() if orphan else rng.choice(users)["uid"]
        created = now - rng.randint(1, 90) * 86400 - rng.random() * 86400
        expiry = created + rng.choice([7, 30, 60, 90]) * 86400
        if i < expired_keys:
            expiry = now - 86400
        elif expiry <= now:
            expiry = now + rng.randint(1, 30) * 86400
        keys.append({"uid": new_uid(), "name": f"{rng.choice(KEY_PURPOSES)}-{i}", "ownerUid": owner_uid,
                     "isActive": not (expired_keys <= i < expired_keys + revoked_keys),
                     "createdAt": _fmt(created), "expiry": _fmt(expiry)})

    return {"apiKey": api_key,
            "self": {"userUid": admin["uid"], "tenantUid": "%024x" % rng.getrandbits(96), "orgName": org_name},
            "users": users,
            "keys": keys}

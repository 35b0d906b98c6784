"""Test harness for keywarden's integration tests: a workspace with a config
file, an identities file and a state directory, and a runner for the real
`keywarden` binary. Python 3 standard library only."""

import json
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEYWARDEN_BIN = os.environ.get("KEYWARDEN_BIN", os.path.join(ROOT, "build", "daemon", "keywarden"))

API_KEY = "kw-test-4f1d9c7e2b8a4c6d9e0f1a2b3c4d5e6f"  # the daemon's Palette key in every test


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


class Workspace:
    """A folder holding keywarden.toml, identities.json and the state dir."""

    def __init__(self, palette_url, **overrides):
        self.dir = tempfile.mkdtemp(prefix="kw-it-")
        self.config_path = os.path.join(self.dir, "keywarden.toml")
        self.identities_path = os.path.join(self.dir, "identities.json")
        self.key_path = os.path.join(self.dir, "palette-api-key")
        with open(self.key_path, "w") as f:
            f.write(API_KEY + "\n")
        self.outputs = []  # every stdout/stderr keywarden printed, for secret scans
        self.sections = {
            "daemon": {"state_dir": "state", "listen": "127.0.0.1:0", "reconcile_interval": "5m",
                       "log_level": "debug"},
            "palette": {"endpoint": palette_url, "api_key_file": "palette-api-key",
                        "requests_per_second": 40, "timeout": "10s"},
            "policy": {"entitled_groups": ["palette-users"], "revoke_after": "0s", "delete_after": "7d",
                       "reactivate_on_return": True, "owner_missing": "revoke", "unknown_owner": "report",
                       "never_entitled": "report", "max_key_age": "off", "exempt_users": [],
                       "exempt_keys": []},
            "safety": {"max_revocations": 1000, "max_revocations_percent": 100, "max_shrink_percent": 20},
        }
        self.sources = [{"name": "hr-export", "type": "file", "path": "identities.json"}]
        for section, values in overrides.items():
            self.sections[section].update(values)
        self.write_config()

    def write_config(self):
        lines = []
        for section, values in self.sections.items():
            lines.append(f"[{section}]")
            for k, v in values.items():
                lines.append(f"{k} = {toml_value(v)}")
            lines.append("")
        for s in self.sources:
            lines.append("[[source]]")
            for k, v in s.items():
                lines.append(f"{k} = {toml_value(v)}")
            lines.append("")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))

    def set(self, section, **values):
        self.sections[section].update(values)
        self.write_config()

    def write_identities(self, users):
        with open(self.identities_path, "w") as f:
            json.dump({"users": users}, f)

    def run(self, *args, check=None, timeout=300, env=None):
        """Runs keywarden with -c CONFIG; returns the CompletedProcess."""
        cmd = [KEYWARDEN_BIN, "-c", self.config_path, *args]
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        if env:
            e.update(env)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=e)
        self.outputs.append(p.stdout + p.stderr)
        if check is not None and p.returncode != check:
            raise AssertionError(f"{' '.join(args)} exited {p.returncode}, wanted {check}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def spawn(self, *args):
        cmd = [KEYWARDEN_BIN, "-c", self.config_path, *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True)

    def plan_json(self):
        return json.loads(self.run("plan", "--json", check=0).stdout)

    def audit(self):
        out = self.run("audit", "--json", check=0).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def db_bytes(self):
        data = b""
        state = os.path.join(self.dir, "state")
        for name in os.listdir(state) if os.path.isdir(state) else []:
            with open(os.path.join(state, name), "rb") as f:
                data += f.read()
        return data

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def mutating_calls(calls):
    """The calls that change Palette: PUT/PATCH state and DELETE of keys."""
    return [c for c in calls if c["method"] in ("PUT", "PATCH", "DELETE") and c["path"].startswith("/v1/apiKeys")]


def key_of(call):
    parts = call["path"].split("/")
    return parts[3] if len(parts) > 3 else ""


def wait_until(predicate, timeout=30.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class DaemonProcess:
    """`keywarden run` in the background, listening on an ephemeral port."""

    def __init__(self, ws, env=None):
        self.ws = ws
        self.port_file = os.path.join(ws.dir, "daemon.port")
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.log_path = os.path.join(ws.dir, "daemon.log")
        self.log = open(self.log_path, "a")
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        e.pop("NOTIFY_SOCKET", None)
        e["KEYWARDEN_PORT_FILE"] = self.port_file
        if env:
            e.update(env)
        self.proc = subprocess.Popen([KEYWARDEN_BIN, "-c", ws.config_path, "run"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=e)
        if not wait_until(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None, timeout=30):
            raise AssertionError("keywarden run did not start listening")
        if self.proc.poll() is not None:
            raise AssertionError("keywarden run exited at once:\n" + self.output())
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.url = f"http://127.0.0.1:{self.port}"

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=10):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), payload

    def wait_ready(self, timeout=30):
        def ready():
            try:
                return self.request("GET", "/readyz")[0] == 200
            except OSError:  # busy (a large first read), or not listening yet
                return False
        return wait_until(ready, timeout=timeout, interval=0.2)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
            self.ws.outputs.append(self.output())
        return self.proc.returncode

"""A large SCIM group change against the real daemon, measured as an outsider
sees it (issue 13): many users created, then added to one group in as few
PATCHes as the daemon's 1 MiB body limit allows, while /healthz is polled and
unrelated users are deactivated (Entra's `"op":"Replace","path":"active",
"value":"False"`). Used by tests/integration/test_scim_large_group.py (with
generous bounds) and bench/scim_large_group.py (which prints the figures).
Python 3 standard library only."""

import http.client
import json
import threading
import time

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BODY_LIMIT = 1024 * 1024  # the daemon's default (daemon/server/http_server.h)


class KeepAlive:
    """One persistent HTTP/1.1 connection to the daemon."""

    def __init__(self, port, token, timeout=60):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = None

    def request(self, method, path, body=None, auth=True):
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body, separators=(",", ":"))
        headers = {"Content-Type": "application/scim+json", "Accept": "application/scim+json"}
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, payload
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def create_users(port, token, source, count, threads=16, prefix="member", email_of=None, external_id_of=None):
    """POSTs `count` users (userName and work email PREFIX-NNNNNN@corp.example,
    or email_of(i); an externalId when external_id_of is given) from `threads`
    keep-alive connections; returns their SCIM ids in order."""
    ids = [None] * count
    failures = []
    if email_of is None:
        email_of = lambda i: f"{prefix}-{i:06d}@corp.example"  # noqa: E731

    def work(first):
        client = KeepAlive(port, token)
        try:
            for i in range(first, count, threads):
                email = email_of(i)
                user = {"schemas": [USER_SCHEMA], "userName": email, "active": True,
                        "emails": [{"value": email, "type": "work", "primary": True}]}
                if external_id_of is not None:
                    user["externalId"] = external_id_of(i)
                status, payload = client.request("POST", f"/scim/v2/{source}/Users", user)
                if status != 201:
                    failures.append((status, payload[:200]))
                    return
                ids[i] = json.loads(payload)["id"]
        finally:
            client.close()

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise AssertionError(f"creating users failed: {failures[:3]}")
    return ids


def member_patches(member_ids):
    """PATCH bodies adding `member_ids` as Entra does ({"value": id} each),
    as few as fit under the body limit, each as bytes."""
    bodies, chunk = [], []

    def body_of(values):
        return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": v} for v in values]}]},
            separators=(",", ":")).encode()

    per_member = len(json.dumps({"value": member_ids[0]}, separators=(",", ":"))) + 1
    per_patch = (BODY_LIMIT - 200) // per_member
    for first in range(0, len(member_ids), per_patch):
        chunk = member_ids[first:first + per_patch]
        body = body_of(chunk)
        assert len(body) <= BODY_LIMIT, len(body)
        bodies.append(body)
    return bodies


class Poller(threading.Thread):
    """GET /healthz every `interval` seconds until stopped; keeps the latencies."""

    def __init__(self, port, interval=0.005):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.latencies = []
        self.failures = []
        self.stopping = threading.Event()

    def run(self):
        client = KeepAlive(self.port, "", timeout=30)
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                status, _ = client.request("GET", "/healthz", auth=False)
                if status != 200:
                    self.failures.append(status)
            except OSError as e:
                self.failures.append(repr(e))
            self.latencies.append(time.monotonic() - started)
            self.stopping.wait(self.interval)
        client.close()

    def stop(self):
        self.stopping.set()
        self.join()


def add_members_under_load(port, token, source, group_id, member_ids, leaver_ids, settle=1.0):
    """Sends the member PATCHes one after another (as an IdP does) while
    /healthz is polled and, during each PATCH, one of `leaver_ids` is
    deactivated. Returns a dict of figures (seconds):
    patches (each PATCH's round trip), patch_total, healthz_max, healthz_count,
    pushes (each deactivation's round trip), statuses; and, as time.monotonic()
    values, patch_answered_at, push_sent_at and push_answered_at, to tell which
    deactivation was answered while which PATCH was still running."""
    bodies = member_patches(member_ids)
    poller = Poller(port)
    poller.start()
    pushes, push_statuses = [], []
    push_sent_at, push_answered_at = [], []
    in_flight = threading.Event()
    done = threading.Event()

    def deactivate_during_patches():
        client = KeepAlive(port, token)
        for leaver in leaver_ids:
            if not in_flight.wait(timeout=60) or done.is_set():
                break
            time.sleep(0.02)  # well inside the PATCH
            started = time.monotonic()
            status, _ = client.request("PATCH", f"/scim/v2/{source}/Users/{leaver}", {
                "schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
            answered = time.monotonic()
            pushes.append(answered - started)
            push_sent_at.append(started)
            push_answered_at.append(answered)
            push_statuses.append(status)
            in_flight.clear()
        client.close()

    pusher = threading.Thread(target=deactivate_during_patches, daemon=True)
    pusher.start()
    client = KeepAlive(port, token, timeout=600)
    patches, statuses, patch_answered_at = [], [], []
    started_all = time.monotonic()
    for body in bodies:
        in_flight.set()
        started = time.monotonic()
        status, payload = client.request("PATCH", f"/scim/v2/{source}/Groups/{group_id}", body)
        patch_answered_at.append(time.monotonic())
        patches.append(patch_answered_at[-1] - started)
        statuses.append(status)
        if status != 204:
            raise AssertionError(f"group PATCH answered {status}: {payload[:300]!r}")
    patch_total = time.monotonic() - started_all
    done.set()
    in_flight.set()
    time.sleep(settle)  # the targeted reconciles that follow the PATCHes
    pusher.join(timeout=60)
    poller.stop()
    client.close()
    return {"patches": patches, "patch_total": patch_total, "patch_bytes": [len(b) for b in bodies],
            "healthz_max": max(poller.latencies), "healthz_count": len(poller.latencies),
            "healthz_failures": poller.failures, "pushes": pushes, "push_statuses": push_statuses,
            "statuses": statuses, "patch_answered_at": patch_answered_at,
            "push_sent_at": push_sent_at, "push_answered_at": push_answered_at}

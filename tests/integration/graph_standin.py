"""A stand-in for Microsoft Graph and the Microsoft identity platform token
endpoint, for keywarden's `entra` source tests. Python 3 standard library only.

    g = GraphStandin(tenant_id="t1", client_id="app", client_secret="s")  # serves on 127.0.0.1:0
    g.url                        # use as both graph_url and login_url
    uid = g.add_user("alice@example.com")
    gid = g.add_group("palette-users", members=[uid])
    g.disable_user(uid); g.delete_user(uid, hard=False); g.remove_member(gid, uid)
    g.throttle(3, retry_after=1); g.expire_token(); g.expire_token_after(2)
    g.fail(status=404, match="$skiptoken"); g.expire_delta("410"); g.log(); g.stop()

It can also run alone (`python3 graph_standin.py --port 0 --port-file F`) and be
driven over HTTP through the control endpoints below.

What it serves, shaped as Microsoft documents it (microsoft-graph-docs-contrib:
concepts/auth-v2-service.md, delta-query-overview.md, delta-query-groups.md,
api-reference/v1.0/api/user-delta.md, group-delta.md, subscription-post-
subscriptions.md, subscription-update.md, subscription-reauthorize.md,
errors.md, throttling.md):

  POST /{tenant}/oauth2/v2.0/token   client credentials (form body: client_id,
       scope=<graph>/.default, client_secret, grant_type=client_credentials) ->
       {"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":…};
       a wrong secret is 401 {"error":"invalid_client","error_description":"AADSTS7000215: …"}.
  GET /v1.0/users/delta[?$select=…]  and  GET /v1.0/groups/delta[?$select=displayName,members]
       A round is a chain of pages of `page_size` items: each page has
       "@odata.context" and either "@odata.nextLink" (…?$skiptoken=…) or, on the
       last, "@odata.deltaLink" (…?$deltatoken=…). The initial round lists
       every user (soft-deleted ones excluded) and every group with its
       members in "members@delta" chunks of `member_chunk` entries
       ({"@odata.type":"#microsoft.graph.user","id":…}); a big group's chunks
       are spread over the round, so it reappears on later pages. A round
       from a deltaLink lists what changed since: users in full (or
       {"id","@removed":{"reason":"changed"|"deleted"}}), groups with the
       changed members (a removed one with "@removed":{"reason":"deleted"}),
       deleted groups as {"id","@removed":{"reason":"changed"}}.
       Expired delta tokens (see expire_delta): 410 Gone with a Location of the
       initial query and error code resyncRequired, or 400 syncStateNotFound.
  GET /v1.0/users/{id}, GET /v1.0/groups/{id}  ($select honoured); 404
       Request_ResourceNotFound for an unknown or deleted object.
  POST /v1.0/subscriptions -> 201 subscription; PATCH /v1.0/subscriptions/{id}
       -> 200; POST /v1.0/subscriptions/{id}/reauthorize -> 204;
       DELETE -> 204; an unknown id is 404. Lifetimes over 41,760 minutes are 400.
  Every Graph call needs "Authorization: Bearer <a token it issued and that
  has not expired>", else 401 {"error":{"code":"InvalidAuthenticationToken",…}}.
  Throttled calls get 429 {"error":{"code":"TooManyRequests",…}} with Retry-After
  (seconds).

Control endpoints (no auth; JSON in and out):
  POST /__standin/users                    {"userPrincipalName","mail","accountEnabled","displayName","id"?}
  POST /__standin/users/{id}/disable       accountEnabled false
  POST /__standin/users/{id}/enable        accountEnabled true
  POST /__standin/users/{id}/delete        {"hard": false} soft delete (reason changed) or hard (deleted);
                                           the user leaves every group
  POST /__standin/users/{id}/restore       back from a soft delete, with its groups
  POST /__standin/groups                   {"displayName","id"?}
  PUT|DELETE /__standin/groups/{gid}/members/{uid}    add / remove a member
  POST /__standin/token/expire             every issued token is expired now
  POST /__standin/token/expire_after       {"requests": N}: expire them after N more Graph calls
  POST /__standin/throttle                 {"count": N, "retry_after": 1, "status": 429}
  POST /__standin/fail                     {"count": N (-1: until cleared), "status": 500, "match": "substring",
                                            "body": optional raw body, e.g. a truncated page with status 200}
  DELETE /__standin/fail                   clears failures
  POST /__standin/delta/expire             {"mode": "410"|"syncStateNotFound"}: every delta token so far is dead
  GET /__standin/log, DELETE /__standin/log   the request log: method, path, query, status, authorized
  GET /__standin/state                     users, groups, subscriptions
"""

import argparse
import base64
import calendar
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER_FIELDS = ("id", "userPrincipalName", "mail", "accountEnabled", "displayName")
MAX_SUBSCRIPTION_MINUTES = 41760


def _token(payload):
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _untoken(text):
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except Exception:
        return None


def _rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".0000000Z"


def _parse_rfc3339(text):
    text = text.rstrip("Z")
    if "." in text:
        text = text.split(".")[0]
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


class Directory:
    """The tenant: users, groups, a change log and the standin's fault knobs."""

    def __init__(self, page_size, member_chunk):
        self.lock = threading.RLock()
        self.page_size = page_size
        self.member_chunk = member_chunk
        self.version = 0
        self.users = {}      # id -> dict (USER_FIELDS + "deleted": None|"changed"|"deleted", "version")
        self.groups = {}     # id -> {"id","displayName","members": set, "deleted": bool, "version"}
        self.member_log = []  # (version, group id, user id)
        self.saved_groups = {}  # user id -> group ids, for restore
        self.rounds = {}     # round id -> {"pages": [[item]], "end": version, "kind": "users"|"groups", "select": str}
        self.epoch = {"users": 0, "groups": 0}
        self.expired_mode = "410"
        self.tokens = {}     # access token -> expiry (time.time())
        self.tokens_issued = 0
        self.expire_after = None
        self.throttle = None  # {"count","retry_after","status"}
        self.failures = []    # [{"count","status","match"}]
        self.subscriptions = {}
        self.log = []

    def bump(self):
        self.version += 1
        return self.version


class GraphStandin:
    """Runs the stand-in in this process, on a daemon thread."""

    def __init__(self, tenant_id="contoso-tenant", client_id="keywarden-app", client_secret="entra-secret",
                 page_size=3, member_chunk=4, expires_in=3599, host="127.0.0.1", port=0):
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.dir = Directory(page_size, member_chunk)
        standin = self

        class Handler(_Handler):
            owner = standin

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- directory changes ------------------------------------------------
    def add_user(self, upn, mail="", enabled=True, display_name="", user_id=None):
        d = self.dir
        with d.lock:
            uid = user_id or str(uuid.uuid4())
            d.users[uid] = {"id": uid, "userPrincipalName": upn, "mail": mail if mail != "" else upn,
                            "accountEnabled": enabled, "displayName": display_name or upn.split("@")[0],
                            "deleted": None, "version": d.bump()}
            return uid

    def set_enabled(self, uid, enabled):
        d = self.dir
        with d.lock:
            d.users[uid]["accountEnabled"] = enabled
            d.users[uid]["version"] = d.bump()

    def disable_user(self, uid):
        self.set_enabled(uid, False)

    def enable_user(self, uid):
        self.set_enabled(uid, True)

    def delete_user(self, uid, hard=False):
        d = self.dir
        with d.lock:
            member_of = [gid for gid, g in d.groups.items() if uid in g["members"]]
            d.saved_groups[uid] = member_of
            for gid in member_of:
                self._set_member(gid, uid, False)
            d.users[uid]["deleted"] = "deleted" if hard else "changed"
            d.users[uid]["version"] = d.bump()

    def restore_user(self, uid):
        d = self.dir
        with d.lock:
            if d.users[uid]["deleted"] != "changed":
                raise ValueError("only a soft-deleted user can be restored")
            d.users[uid]["deleted"] = None
            d.users[uid]["version"] = d.bump()
            for gid in d.saved_groups.pop(uid, []):
                self._set_member(gid, uid, True)

    def add_group(self, display_name, members=(), group_id=None):
        d = self.dir
        with d.lock:
            gid = group_id or str(uuid.uuid4())
            d.groups[gid] = {"id": gid, "displayName": display_name, "members": set(), "deleted": False,
                             "version": d.bump()}
            for uid in members:
                self._set_member(gid, uid, True)
            return gid

    def _set_member(self, gid, uid, present):
        d = self.dir
        g = d.groups[gid]
        if present == (uid in g["members"]):
            return
        if present:
            g["members"].add(uid)
        else:
            g["members"].discard(uid)
        d.member_log.append((d.bump(), gid, uid))

    def add_member(self, gid, uid):
        with self.dir.lock:
            self._set_member(gid, uid, True)

    def remove_member(self, gid, uid):
        with self.dir.lock:
            self._set_member(gid, uid, False)

    # ---- faults -------------------------------------------------------------
    def expire_token(self):
        with self.dir.lock:
            for t in self.dir.tokens:
                self.dir.tokens[t] = 0

    def expire_token_after(self, requests):
        with self.dir.lock:
            self.dir.expire_after = requests

    def throttle(self, count, retry_after=1, status=429):
        with self.dir.lock:
            self.dir.throttle = {"count": count, "retry_after": retry_after, "status": status}

    def fail(self, status=500, match="", count=-1, body=None):
        """The next `count` Graph calls (-1: all until cleared) whose URL contains
        `match` answer `status`, with a Graph error body or with `body` verbatim."""
        with self.dir.lock:
            self.dir.failures.append({"count": count, "status": status, "match": match, "body": body})

    def clear_failures(self):
        with self.dir.lock:
            self.dir.failures = []

    def expire_delta(self, mode="410"):
        with self.dir.lock:
            self.dir.expired_mode = mode
            for k in self.dir.epoch:
                self.dir.epoch[k] += 1

    def log(self):
        with self.dir.lock:
            return list(self.dir.log)

    def reset_log(self):
        with self.dir.lock:
            self.dir.log = []

    def tokens_issued(self):
        with self.dir.lock:
            return self.dir.tokens_issued

    def state(self):
        d = self.dir
        with d.lock:
            return {"users": [{k: v for k, v in u.items() if k != "version"} for u in d.users.values()],
                    "groups": [{"id": g["id"], "displayName": g["displayName"], "deleted": g["deleted"],
                                "members": sorted(g["members"])} for g in d.groups.values()],
                    "subscriptions": list(d.subscriptions.values())}


class _Handler(BaseHTTPRequestHandler):
    owner = None  # GraphStandin, set by a subclass
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---- plumbing -------------------------------------------------------------
    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=None, headers=None, content_type="application/json"):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)
        return status

    def _error(self, status, code, message, headers=None):
        body = {"error": {"code": code, "message": message,
                          "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                         "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}}
        return self._send(status, body, headers)

    def _record(self, status, authorized):
        d = self.owner.dir
        parsed = urllib.parse.urlsplit(self.path)
        with d.lock:
            d.log.append({"time": time.time(), "method": self.command, "path": parsed.path, "query": parsed.query,
                          "status": status, "authorized": authorized})

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        body = self._body()
        if path.startswith("/__standin/"):
            try:
                self._control(path[len("/__standin/"):], body)
            except (KeyError, ValueError) as e:
                self._send(400, {"error": str(e)})
            return
        if path.endswith("/oauth2/v2.0/token") and self.command == "POST":
            status = self._token(path, body)
            self._record(status, False)
            return
        if path.startswith("/v1.0/"):
            authorized, status = self._graph(parsed, body)
            self._record(status, authorized)
            return
        self._send(404, {"error": {"code": "UnknownPath", "message": path}})

    # ---- token endpoint ---------------------------------------------------------
    def _token(self, path, body):
        o = self.owner
        tenant = path.split("/")[1]
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        get = lambda k: (form.get(k) or [""])[0]
        if tenant != o.tenant_id:
            return self._send(400, {"error": "invalid_request",
                                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found."})
        if get("grant_type") != "client_credentials":
            return self._send(400, {"error": "unsupported_grant_type",
                                    "error_description": "AADSTS70003: The app requested an unsupported grant type."})
        if not get("scope").endswith("/.default"):
            return self._send(400, {"error": "invalid_scope",
                                    "error_description": "AADSTS1002012: The provided value for scope is not valid."})
        if get("client_id") != o.client_id or get("client_secret") != o.client_secret:
            return self._send(401, {"error": "invalid_client",
                                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                                    "error_codes": [7000215]})
        d = o.dir
        with d.lock:
            token = "eyJ0eXAiOiJKV1Qi." + uuid.uuid4().hex
            d.tokens[token] = time.time() + o.expires_in
            d.tokens_issued += 1
        return self._send(200, {"token_type": "Bearer", "expires_in": o.expires_in, "ext_expires_in": o.expires_in,
                                "access_token": token})

    # ---- Graph --------------------------------------------------------------------
    def _graph(self, parsed, body):
        d = self.owner.dir
        auth = self.headers.get("Authorization", "")
        with d.lock:
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
            valid = token in d.tokens and d.tokens[token] > time.time()
            if valid and d.expire_after is not None:
                if d.expire_after <= 0:
                    for t in d.tokens:
                        d.tokens[t] = 0
                    d.expire_after = None
                    valid = False
                else:
                    d.expire_after -= 1
            if not valid:
                return False, self._error(401, "InvalidAuthenticationToken",
                                          "Access token has expired or is not yet valid.",
                                          {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
            if d.throttle and d.throttle["count"] > 0:
                d.throttle["count"] -= 1
                retry = str(d.throttle["retry_after"])
                status = d.throttle["status"]
                return True, self._error(status, "TooManyRequests" if status == 429 else "serviceNotAvailable",
                                         "Please retry again later.", {"Retry-After": retry})
            raw = self.path
            for f in d.failures:
                if f["count"] != 0 and f["match"] in urllib.parse.unquote(raw):
                    if f["count"] > 0:
                        f["count"] -= 1
                    if f.get("body") is not None:  # e.g. a truncated page with status 200
                        return True, self._send(f["status"], f["body"].encode())
                    code = "ResourceNotFound" if f["status"] == 404 else "generalException"
                    return True, self._error(f["status"], code, "Injected failure.")
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        parts = [p for p in parsed.path.split("/") if p][1:]  # after v1.0
        if parts in (["users", "delta"], ["groups", "delta"]) and self.command == "GET":
            return True, self._delta(parts[0], query)
        if len(parts) == 2 and parts[0] in ("users", "groups") and self.command == "GET":
            return True, self._get_object(parts[0], parts[1], query)
        if parts and parts[0] == "subscriptions":
            return True, self._subscriptions(parts[1:], body)
        return True, self._error(400, "BadRequest", f"Resource not found for the segment '{parts[-1] if parts else ''}'.")

    def _select(self, obj, select):
        fields = [f for f in select.split(",") if f] if select else list(USER_FIELDS)
        if "id" not in fields:
            fields.insert(0, "id")
        return {k: obj[k] for k in fields if k in obj}

    def _get_object(self, kind, oid, query):
        d = self.owner.dir
        with d.lock:
            if kind == "users":
                u = d.users.get(oid)
                if not u or u["deleted"]:
                    return self._error(404, "Request_ResourceNotFound",
                                       f"Resource '{oid}' does not exist or one of its queried reference-property "
                                       "objects are not present.")
                item = self._select(u, (query.get("$select") or [""])[0])
                item["@odata.context"] = f"{self.owner.url}/v1.0/$metadata#users/$entity"
                return self._send(200, item)
            g = d.groups.get(oid)
            if not g or g["deleted"]:
                return self._error(404, "Request_ResourceNotFound", f"Resource '{oid}' does not exist.")
            return self._send(200, {"@odata.context": f"{self.owner.url}/v1.0/$metadata#groups/$entity",
                                    "id": g["id"], "displayName": g["displayName"]})

    def _delta(self, kind, query):
        o = self.owner
        d = o.dir
        base = f"{o.url}/v1.0/{kind}/delta"
        context = f"{o.url}/v1.0/$metadata#{kind}"
        with d.lock:
            skip = (query.get("$skiptoken") or [None])[0]
            delta = (query.get("$deltatoken") or [None])[0]
            if skip is not None:
                ref = _untoken(skip)
                if not ref or ref.get("r") not in d.rounds or ref.get("p") is None:
                    return self._error(400, "BadRequest", "Invalid skip token.")
                rnd = d.rounds[ref["r"]]
                return self._page(rnd, ref["r"], ref["p"], base, context)
            since = None
            select = (query.get("$select") or [""])[0]
            if delta:  # a deltaLink
                ref = _untoken(delta)
                if not ref or ref.get("k") != kind:
                    return self._error(400, "BadRequest", "Invalid delta token.")
                if ref.get("e") != d.epoch[kind]:
                    if d.expired_mode == "syncStateNotFound":
                        return self._error(400, "syncStateNotFound", "The sync state generation is not found.")
                    return self._error(410, "resyncRequired", "Resync required. Replace any local cached data "
                                       "with the result of a new delta query.",
                                       {"Location": f"{base}?$deltatoken="})
                since = ref["v"]
                select = ref.get("s", "")
            items = self._users_since(since, select) if kind == "users" else self._groups_since(since)
            size = d.page_size
            pages = [items[i:i + size] for i in range(0, len(items), size)] or [[]]
            rid = uuid.uuid4().hex
            d.rounds[rid] = {"pages": pages, "end": d.version, "kind": kind, "select": select}
            return self._page(d.rounds[rid], rid, 0, base, context)

    def _page(self, rnd, rid, index, base, context):
        d = self.owner.dir
        if index >= len(rnd["pages"]):
            return self._error(400, "BadRequest", "Invalid skip token.")
        body = {"@odata.context": context, "value": rnd["pages"][index]}
        if index + 1 < len(rnd["pages"]):
            body["@odata.nextLink"] = f"{base}?$skiptoken={_token({'r': rid, 'p': index + 1})}"
        else:
            kind = rnd["kind"]
            body["@odata.deltaLink"] = (f"{base}?$deltatoken="
                                        f"{_token({'k': kind, 'e': d.epoch[kind], 'v': rnd['end'], 's': rnd['select']})}")
        return self._send(200, body)

    def _users_since(self, since, select):
        d = self.owner.dir
        items = []
        for u in d.users.values():
            if since is None:
                if not u["deleted"]:
                    items.append(self._select(u, select))
            elif u["version"] > since:
                if u["deleted"]:
                    items.append({"id": u["id"], "@removed": {"reason": u["deleted"]}})
                else:
                    items.append(self._select(u, select))
        return items

    def _groups_since(self, since):
        d = self.owner.dir
        user = "#microsoft.graph.user"
        chunks_by_group = []
        for g in d.groups.values():
            if since is None:
                if g["deleted"]:
                    continue
                members = [{"@odata.type": user, "id": m} for m in sorted(g["members"])]
            else:
                changed = sorted({uid for (v, gid, uid) in d.member_log if v > since and gid == g["id"]})
                if g["deleted"]:
                    if g["version"] > since:
                        chunks_by_group.append([{"id": g["id"], "@removed": {"reason": "changed"}}])
                    continue
                if not changed and g["version"] <= since:
                    continue
                members = []
                for m in changed:
                    entry = {"@odata.type": user, "id": m}
                    if m not in g["members"]:
                        entry["@removed"] = {"reason": "deleted"}
                    members.append(entry)
            head = {"id": g["id"], "displayName": g["displayName"]}
            if not members:
                chunks_by_group.append([head])
                continue
            n = d.member_chunk
            chunks_by_group.append([dict(head, **{"members@delta": members[i:i + n]})
                                    for i in range(0, len(members), n)])
        # Round-robin over the groups: a big group's chunks reappear on later pages.
        items = []
        while any(chunks_by_group):
            for chunks in chunks_by_group:
                if chunks:
                    items.append(chunks.pop(0))
        return items

    def _subscriptions(self, rest, body):
        o = self.owner
        d = o.dir
        try:
            doc = json.loads(body) if body else {}
        except ValueError:
            return self._error(400, "BadRequest", "Unable to read JSON request payload.")
        with d.lock:
            if not rest and self.command == "POST":
                for field in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
                    if not doc.get(field):
                        return self._error(400, "ExtensionError", f"{field} is required.")
                if doc["resource"] in ("users", "groups") and set(doc["changeType"].split(",")) - {"updated", "deleted"}:
                    return self._error(400, "ExtensionError", "Unsupported changeType for directory resources.")
                expiry = _parse_rfc3339(doc["expirationDateTime"])
                if expiry - time.time() > MAX_SUBSCRIPTION_MINUTES * 60:
                    return self._error(400, "ExtensionError",
                                       "Subscription expiration can only be 41760 minutes in the future.")
                sid = str(uuid.uuid4())
                sub = {"id": sid, "resource": doc["resource"], "applicationId": o.client_id,
                       "changeType": doc["changeType"], "clientState": doc.get("clientState"),
                       "notificationUrl": doc["notificationUrl"],
                       "lifecycleNotificationUrl": doc.get("lifecycleNotificationUrl"),
                       "expirationDateTime": _rfc3339(expiry), "creatorId": str(uuid.uuid4()),
                       "latestSupportedTlsVersion": "v1_2", "includeResourceData": False,
                       "notificationQueryOptions": None, "reauthorized": 0}
                d.subscriptions[sid] = sub
                out = dict(sub, **{"@odata.context": f"{o.url}/v1.0/$metadata#subscriptions/$entity"})
                return self._send(201, out)
            sid = rest[0] if rest else ""
            sub = d.subscriptions.get(sid)
            if not sub:
                return self._error(404, "ResourceNotFound", f"The object was not found: {sid}")
            if len(rest) == 2 and rest[1] == "reauthorize" and self.command == "POST":
                sub["reauthorized"] += 1
                return self._send(204)
            if len(rest) == 1 and self.command == "PATCH":
                expiry = _parse_rfc3339(doc.get("expirationDateTime", ""))
                if expiry - time.time() > MAX_SUBSCRIPTION_MINUTES * 60:
                    return self._error(400, "ExtensionError",
                                       "Subscription expiration can only be 41760 minutes in the future.")
                sub["expirationDateTime"] = _rfc3339(expiry)
                return self._send(200, dict(sub, **{"@odata.context": f"{o.url}/v1.0/$metadata#subscriptions/$entity"}))
            if len(rest) == 1 and self.command == "DELETE":
                del d.subscriptions[sid]
                return self._send(204)
            if len(rest) == 1 and self.command == "GET":
                return self._send(200, sub)
        return self._error(405, "MethodNotAllowed", "Method not allowed.")

    # ---- control ------------------------------------------------------------------
    def _control(self, rest, body):
        o = self.owner
        doc = json.loads(body) if body else {}
        parts = [p for p in rest.split("/") if p]
        c = self.command
        if parts == ["users"] and c == "POST":
            uid = o.add_user(doc["userPrincipalName"], doc.get("mail", ""), doc.get("accountEnabled", True),
                             doc.get("displayName", ""), doc.get("id"))
            return self._send(201, {"id": uid})
        if len(parts) == 3 and parts[0] == "users" and c == "POST":
            uid, verb = parts[1], parts[2]
            if uid not in o.dir.users:
                return self._send(404, {"error": "no such user"})
            if verb == "disable":
                o.disable_user(uid)
            elif verb == "enable":
                o.enable_user(uid)
            elif verb == "delete":
                o.delete_user(uid, hard=bool(doc.get("hard")))
            elif verb == "restore":
                o.restore_user(uid)
            else:
                return self._send(404, {"error": "unknown verb"})
            return self._send(204)
        if parts == ["groups"] and c == "POST":
            return self._send(201, {"id": o.add_group(doc["displayName"], doc.get("members", ()), doc.get("id"))})
        if len(parts) == 4 and parts[0] == "groups" and parts[2] == "members" and c in ("PUT", "DELETE"):
            if c == "PUT":
                o.add_member(parts[1], parts[3])
            else:
                o.remove_member(parts[1], parts[3])
            return self._send(204)
        if parts == ["token", "expire"] and c == "POST":
            o.expire_token()
            return self._send(204)
        if parts == ["token", "expire_after"] and c == "POST":
            o.expire_token_after(int(doc["requests"]))
            return self._send(204)
        if parts == ["throttle"] and c == "POST":
            o.throttle(int(doc.get("count", 1)), doc.get("retry_after", 1), int(doc.get("status", 429)))
            return self._send(204)
        if parts == ["fail"] and c == "POST":
            o.fail(int(doc.get("status", 500)), doc.get("match", ""), int(doc.get("count", -1)), doc.get("body"))
            return self._send(204)
        if parts == ["fail"] and c == "DELETE":
            o.clear_failures()
            return self._send(204)
        if parts == ["delta", "expire"] and c == "POST":
            o.expire_delta(doc.get("mode", "410"))
            return self._send(204)
        if parts == ["log"] and c == "GET":
            return self._send(200, o.log())
        if parts == ["log"] and c == "DELETE":
            o.reset_log()
            return self._send(204)
        if parts == ["state"] and c == "GET":
            return self._send(200, o.state())
        return self._send(404, {"error": "unknown control endpoint"})


def main():
    parser = argparse.ArgumentParser(description="Microsoft Graph stand-in for keywarden's tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--tenant-id", default="contoso-tenant")
    parser.add_argument("--client-id", default="keywarden-app")
    parser.add_argument("--client-secret-file")
    parser.add_argument("--page-size", type=int, default=3)
    args = parser.parse_args()
    secret = "entra-secret"
    if args.client_secret_file:
        with open(args.client_secret_file) as f:
            secret = f.read().strip()
    standin = GraphStandin(args.tenant_id, args.client_id, secret, page_size=args.page_size, port=args.port)
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(str(standin.port))
    print(standin.url, flush=True)
    try:
        standin.thread.join()
    except KeyboardInterrupt:
        standin.stop()


if __name__ == "__main__":
    main()

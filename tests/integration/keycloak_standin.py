"""A stand-in Keycloak realm for keywarden's integration tests. Python 3 standard library only.

It answers the part of Keycloak's Admin REST API that keywarden reads, in the shapes
Keycloak documents (keycloak.org/docs-api/<version>/rest-api, and the resources in
keycloak/keycloak services/src/main/java/org/keycloak/services/resources/admin/), and
lets a test script what happens in the realm: people disabled, deleted, moved between
groups, admin events switched off, and the API failing.

    kc = KeycloakStandin(realm="corp", client_id="keywarden", client_secret="…", version=26)
    ann = kc.add_user("ann", "ann@example.com")          # UserRepresentation (dict)
    eng = kc.add_group("engineering"); pal = kc.add_group("palette-users", parent=eng, members=[ann["id"]])
    kc.disable(ann["id"]); kc.set_member(ann["id"], pal, False); kc.delete_user(ann["id"])
    kc.fail("/users", page=2, status=500); kc.truncate("/users", page=1); kc.revoke_tokens(after=10)
    kc.requests(); kc.stop()

Versions: `version` is the major release, with `minor` (26.2 is version=26, minor=2):
  - before 23, GET /groups nests every subgroup in `subGroups` (GET …/children does not exist);
    from 23 it lists top-level groups with `subGroupCount` and empty `subGroups`, children being
    served by GET /groups/{id}/children?first&max (max defaults to 10);
  - before 26.2, admin-events takes dateFrom/dateTo only as yyyy-MM-dd (400 otherwise),
    ignores `direction` and lists newest first; events have no `id`. From 26.2 dateFrom also
    takes epoch milliseconds, `direction` is asc|desc (default desc) and events carry `id`.

API:
  POST /realms/{realm}/protocol/openid-connect/token   grant_type=client_credentials, the
       client authenticated by HTTP Basic (client_secret_basic) or client_id/client_secret in
       the form (client_secret_post). {"access_token", "expires_in", "token_type": "Bearer", …}.
       Tokens really expire after `token_lifetime` seconds (then every Admin call is 401).
  GET /admin/realms/{realm}/users?first&max&briefRepresentation   users (disabled included;
       the client's service-account user is never listed, as in Keycloak), by creation order
  GET …/users/count                  a bare integer
  GET …/users/{id}                   404 {"error":"User not found"} once deleted
  GET …/users/{id}/groups?first&max  the user's direct groups {id, name, path}
  GET …/groups?first&max, …/groups/{id}/children?first&max, …/groups/{id}/members?first&max
  GET …/events/config                RealmEventsConfigRepresentation (adminEventsEnabled, …)
  GET …/admin-events?operationTypes&resourceTypes&dateFrom&dateTo&first&max[&direction]
  Every listing defaults `first` to 0 and `max` to 100 (children: 10), as Keycloak does.
  Admin events are recorded (when switched on) for every change made through this class:
  USER CREATE/UPDATE/DELETE at users/{id}, GROUP_MEMBERSHIP CREATE/DELETE at
  users/{id}/groups/{group id}; `representation` only with details switched on, and for a
  disable only the changed field, as the admin console's partial updates do.
"""

import base64
import datetime
import http.server
import json
import threading
import time
import urllib.parse
import uuid


def _now_ms():
    return int(time.time() * 1000)


class KeycloakStandin:
    def __init__(self, realm="corp", client_id="keywarden", client_secret="secret", version=26, minor=2,
                 token_lifetime=300, admin_events=True, admin_events_details=True):
        self.realm = realm
        self.client_id = client_id
        self.client_secret = client_secret
        self.version = (version, minor)
        self.token_lifetime = token_lifetime
        self.admin_events_enabled = admin_events
        self.admin_events_details = admin_events_details
        self.lock = threading.RLock()
        self.users = []          # UserRepresentation dicts, creation order
        self.groups = []         # {"id", "name", "parent", "members": [user id]}
        # Indexes over users and groups, so that a realm of 100,000 users serves
        # each page in time proportional to the page (bench/keycloak_directory.py).
        self._users_by_id = {}   # user id -> the dict in self.users
        self._groups_by_id = {}  # group id -> the dict in self.groups
        self._children = {}      # parent group id (None: top level) -> [group], creation order
        self._groups_of = {}     # user id -> {id of each group the user is a direct member of}
        self.events = []         # AdminEventRepresentation dicts, insertion order
        self.tokens = {}         # token -> expiry (epoch seconds)
        self.faults = []         # {"path", "page", "status", "times", "kind"}
        self.revoke_after = None  # admin requests left before every token is revoked
        self.token_requests = 0
        self._requests = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- the realm, as an administrator changes it ------------------------------------

    def _event(self, operation, resource_type, path, representation=None):
        if not self.admin_events_enabled:
            return
        event = {"time": _now_ms(), "realmId": self.realm + "-id", "operationType": operation,
                 "resourceType": resource_type, "resourcePath": path,
                 "authDetails": {"realmId": "master", "clientId": "security-admin-console",
                                 "userId": "admin-0001", "ipAddress": "127.0.0.1"}}
        if self.version >= (26, 2):
            event["id"] = str(uuid.uuid4())
        if representation is not None and self.admin_events_details:
            event["representation"] = json.dumps(representation)
        self.events.append(event)

    def add_user(self, username, email=None, enabled=True, record=True):
        with self.lock:
            user = {"id": str(uuid.uuid4()), "username": username, "enabled": enabled, "emailVerified": True,
                    "createdTimestamp": _now_ms(), "firstName": username.split("@")[0], "lastName": "Example"}
            if email:
                user["email"] = email
            self.users.append(user)
            self._users_by_id[user["id"]] = user
            if record:
                self._event("CREATE", "USER", "users/" + user["id"], user)
            return dict(user)

    def _user(self, uid):
        return self._users_by_id.get(uid)

    def set_enabled(self, uid, enabled):
        with self.lock:
            self._user(uid)["enabled"] = enabled
            self._event("UPDATE", "USER", "users/" + uid, {"enabled": enabled})

    def disable(self, uid):
        self.set_enabled(uid, False)

    def enable(self, uid):
        self.set_enabled(uid, True)

    def delete_user(self, uid):
        with self.lock:
            self.users = [u for u in self.users if u["id"] != uid]
            self._users_by_id.pop(uid, None)
            for gid in self._groups_of.pop(uid, set()):
                self._group(gid)["members"].remove(uid)
            self._event("DELETE", "USER", "users/" + uid)

    def add_group(self, name, parent=None, members=()):
        with self.lock:
            group = {"id": str(uuid.uuid4()), "name": name, "parent": parent, "members": list(members)}
            self.groups.append(group)
            self._groups_by_id[group["id"]] = group
            self._children.setdefault(parent, []).append(group)
            for uid in group["members"]:
                self._groups_of.setdefault(uid, set()).add(group["id"])
            return group["id"]

    def _group(self, gid):
        return self._groups_by_id.get(gid)

    def path_of(self, gid):
        g = self._group(gid)
        return (self.path_of(g["parent"]) if g["parent"] else "") + "/" + g["name"]

    def set_member(self, uid, gid, member, record=True):
        with self.lock:
            g = self._group(gid)
            mine = self._groups_of.setdefault(uid, set())
            if member and gid not in mine:
                g["members"].append(uid)
                mine.add(gid)
                if record:
                    self._event("CREATE", "GROUP_MEMBERSHIP", "users/%s/groups/%s" % (uid, gid), self._group_rep(g))
            elif not member and gid in mine:
                g["members"].remove(uid)
                mine.discard(gid)
                if record:
                    self._event("DELETE", "GROUP_MEMBERSHIP", "users/%s/groups/%s" % (uid, gid), self._group_rep(g))

    # --- faults ------------------------------------------------------------------------

    def fail(self, path, page, status=500, times=None):
        """Page `page` (1-based; first = (page-1)*max) of the listing at `path` (below
        /admin/realms/{realm}) answers `status`, `times` times (None: until cleared)."""
        with self.lock:
            self.faults.append({"path": path, "page": page, "status": status, "times": times, "kind": "status"})

    def truncate(self, path, page, times=None):
        """That page answers 200 with its last item left out: a page shorter than `max`."""
        with self.lock:
            self.faults.append({"path": path, "page": page, "status": 200, "times": times, "kind": "truncate"})

    def cut(self, path, page, times=None):
        """That page's body is cut off mid-way and the connection closed."""
        with self.lock:
            self.faults.append({"path": path, "page": page, "status": 200, "times": times, "kind": "cut"})

    def revoke_tokens(self, after=0):
        """After `after` more Admin API requests, every token issued so far stops working."""
        with self.lock:
            self.revoke_after = after

    def clear_faults(self):
        with self.lock:
            self.faults = []
            self.revoke_after = None

    def requests(self):
        with self.lock:
            return list(self._requests)

    def reset_requests(self):
        with self.lock:
            self._requests = []

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # --- the API -----------------------------------------------------------------------

    def _group_rep(self, g, nest=None):
        rep = {"id": g["id"], "name": g["name"], "path": self.path_of(g["id"]), "attributes": {},
               "realmRoles": [], "clientRoles": {}}
        children = self._children.get(g["id"], [])
        if self.version >= (23, 0):
            rep["subGroupCount"] = len(children)
            rep["subGroups"] = []
            if g["parent"]:
                rep["parentId"] = g["parent"]
        elif nest:
            rep["subGroups"] = [self._group_rep(c, nest=True) for c in children]
        return rep

    def _token_ok(self, header):
        if not header.startswith("Bearer "):
            return False
        expiry = self.tokens.get(header[7:])
        return expiry is not None and time.time() < expiry

    def _client_ok(self, headers, form):
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                raw = base64.b64decode(auth[6:]).decode()
            except Exception:
                return False
            cid, _, secret = raw.partition(":")
            cid, secret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
        else:
            cid, secret = form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
        return cid == self.client_id and secret == self.client_secret

    @staticmethod
    def _parse_date(text, end=False):
        """yyyy-MM-dd at midnight UTC (the stand-in's time zone), or None."""
        try:
            d = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return None
        ms = int(d.timestamp() * 1000)
        return ms + 86400000 - 1 if end else ms

    def _admin_events(self, q):
        bounds = []
        for name, end in (("dateFrom", False), ("dateTo", True)):
            text = q.get(name, [None])[0]
            if text is None:
                bounds.append(None)
                continue
            ms = self._parse_date(text, end)
            if ms is None and self.version >= (26, 2) and text.isdigit():
                ms = int(text)
            if ms is None:
                label = "Date(From)" if name == "dateFrom" else "Date(To)"
                return 400, {"error": "Invalid value for '%s', expected format is yyyy-MM-dd" % label}
            bounds.append(ms)
        ops, types = set(q.get("operationTypes", [])), set(q.get("resourceTypes", []))
        chosen = [e for e in self.events
                  if (bounds[0] is None or e["time"] >= bounds[0]) and (bounds[1] is None or e["time"] <= bounds[1])
                  and (not ops or e["operationType"] in ops) and (not types or e["resourceType"] in types)]
        chosen.sort(key=lambda e: e["time"])
        ascending = self.version >= (26, 2) and q.get("direction", ["desc"])[0] == "asc"
        if not ascending:
            chosen.reverse()
        return 200, chosen

    def _handle(self, method, path, query, headers, body):
        """Returns (status, json document or raw bytes, page index or None)."""
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        token_path = "/realms/%s/protocol/openid-connect/token" % self.realm
        if path == token_path and method == "POST":
            self.token_requests += 1
            form = urllib.parse.parse_qs(body.decode())
            if form.get("grant_type", [""])[0] != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}, None
            if not self._client_ok(headers, form):
                return 401, {"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"}, None
            token = "kc-at-" + uuid.uuid4().hex
            self.tokens[token] = time.time() + self.token_lifetime
            return 200, {"access_token": token, "expires_in": self.token_lifetime, "refresh_expires_in": 0,
                         "token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"}, None
        base = "/admin/realms/%s" % self.realm
        if not path.startswith(base + "/") or method != "GET":
            return 404, {"error": "Not Found"}, None
        if self.revoke_after is not None:
            if self.revoke_after <= 0:
                self.tokens = {}
                self.revoke_after = None
            else:
                self.revoke_after -= 1
        if not self._token_ok(headers.get("Authorization", "")):
            return 401, {"error": "HTTP 401 Unauthorized"}, None
        sub = path[len(base):]
        first = int(q.get("first", ["0"])[0] or 0)
        default_max = 10 if sub.endswith("/children") else 100
        maxn = int(q.get("max", [str(default_max)])[0] or default_max)
        page = first // maxn + 1 if maxn > 0 else 1

        def listing(items, render=None):
            """The page of `items` asked for; `render` maps only that page's items."""
            chosen = items[first:first + maxn]
            return 200, [render(i) for i in chosen] if render else chosen, page

        parts = sub.strip("/").split("/")
        if sub == "/events/config":
            return 200, {"eventsEnabled": False, "eventsListeners": ["jboss-logging"], "enabledEventTypes": [],
                         "adminEventsEnabled": self.admin_events_enabled,
                         "adminEventsDetailsEnabled": self.admin_events_details}, None
        if sub == "/users/count":
            return 200, len(self.users), None
        if sub == "/users":
            return listing(self.users, dict)
        if sub == "/groups":
            return listing(self._children.get(None, []), lambda g: self._group_rep(g, nest=True))
        if sub == "/admin-events":
            status, doc = self._admin_events(q)
            if status != 200:
                return status, doc, None
            return listing(doc)
        if parts[0] == "users" and len(parts) >= 2:
            user = self._user(parts[1])
            if user is None:
                return 404, {"error": "User not found"}, None
            if len(parts) == 2:
                return 200, dict(user), None
            if parts[2:] == ["groups"]:
                mine = [g for g in self.groups if g["id"] in self._groups_of.get(parts[1], ())]
                return listing([{"id": g["id"], "name": g["name"], "path": self.path_of(g["id"])} for g in mine])
        if parts[0] == "groups" and len(parts) >= 2:
            g = self._group(parts[1])
            if g is None:
                return 404, {"error": "Could not find group by id"}, None
            if parts[2:] == ["children"]:
                if self.version < (23, 0):
                    return 405, {"error": "HTTP 405 Method Not Allowed"}, None
                return listing(self._children.get(g["id"], []), self._group_rep)
            if parts[2:] == ["members"]:
                # delete_user takes a user out of every group: each member exists.
                return listing(g["members"], lambda m: dict(self._user(m)))
        return 404, {"error": "Not Found"}, None

    def _handler_class(self):
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm the
            # second waits for the client's delayed ACK (40 ms a response).
            # Keycloak's server (Vert.x) sets TCP_NODELAY too.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _serve(self, method):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with standin.lock:
                    status, doc, page = standin._handle(method, url.path, url.query, self.headers, body)
                    sub = url.path[len("/admin/realms/%s" % standin.realm):]
                    fault = None
                    for f in standin.faults:
                        if f["path"] == sub and f["page"] == page and status == 200 and f["times"] != 0:
                            fault = f
                            if f["times"] is not None:
                                f["times"] -= 1
                            break
                    if fault and fault["kind"] == "status":
                        status, doc = fault["status"], {"error": "unknown_error"}
                    elif fault and fault["kind"] == "truncate" and isinstance(doc, list) and doc:
                        doc = doc[:-1]
                    standin._requests.append({"method": method, "path": url.path, "query": url.query,
                                              "status": status, "time": time.time(),
                                              "auth": self.headers.get("Authorization", "")[:6]})
                data = json.dumps(doc).encode()
                if fault and fault["kind"] == "cut":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler

"""A stand-in Okta org for keywarden's integration tests. Python 3 standard library only.

It answers the part of Okta's Management API that keywarden reads, in the shapes Okta
documents (developer.okta.com, okta/okta-management-openapi-spec), and lets a test script
what happens in the org: people suspended, deactivated, deleted, moved between groups,
and the API throttling or failing.

    org = OktaStandin(token="00abc…", page_limit=7)   # serves http://127.0.0.1:PORT in a thread
    ann = org.add_user("ann@example.com")             # {"id": "00u…", "status": "ACTIVE", "profile": {…}}
    org.add_group("palette-users", [ann["id"]])
    org.suspend(ann["id"]); org.set_member(ann["id"], "palette-users", False)
    org.throttle(count=3, reset_in=1, after=2); org.fail_page("/api/v1/users", 2)
    org.requests(); org.stop()

Or standalone: python3 okta_standin.py --token-file TOKEN [--seed seed.json]
[--listen 127.0.0.1:0] [--port-file FILE]; the seed is {"users": [...], "groups": [...]}
in the forms POST /__standin/users and /__standin/groups take.

API (every request needs "Authorization: SSWS <token>", else 401 E0000011):
  GET /api/v1/users?limit&after&filter   users ordered by id; without filter or search,
                                         DEPROVISIONED users are left out (as Okta does).
                                         filter: `field eq "value"` clauses on status, id,
                                         profile.login, profile.email, joined by " or " or
                                         " and "; anything else is 400 E0000031.
  GET /api/v1/users/{id|login}           one user; 404 E0000007 once deleted
  GET /api/v1/groups?limit&after         groups {id, type, profile{name, description}}
  GET /api/v1/groups/{id}/users?limit&after
  GET /api/v1/logs?since&until&after&limit&sortOrder
      LogEvents {uuid, published, eventType, version, severity, displayMessage, outcome,
      actor, client, target[], transaction}; `since` (default 7 days back) filters on the
      time an event was stored, so an event stored late with an old `published` is still
      found. The rel="next" link is always present, also on an empty page, and polling it
      later returns what arrived since.
  Paging: `limit` defaults to 200 (users), 10000 (groups), 1000 (members), 100 (logs),
  and is capped by Okta's maximum and by page_limit (to page small test orgs). Each page
  carries `Link: <…>; rel="self"` and, when more follow, `Link: <…after=CURSOR…>; rel="next"`.
  Cursors are opaque tokens; an unknown one is 400 E0000001.
  Rate limits: every answer carries X-Rate-Limit-Limit, -Remaining and -Reset (UTC epoch
  seconds) for a per-minute bucket (`rate_limit`, default 600); an empty bucket, or a
  scripted throttle, answers 429 with E0000047.

Control endpoints (no auth), under /__standin/:
  GET  state                             {"users": [...], "groups": [... with "members"], "events": N}
  POST users       [{id?, login, email?, firstName?, lastName?, status?}]  → the users made
  POST groups      [{id?, name, description?, members: [id|login]}]        → the groups made
  POST users/{id}/lifecycle/{suspend|unsuspend|deactivate|activate|reactivate}
                                         changes the status and logs user.lifecycle.<op>
  DELETE users/{id}                      deactivates first if needed (logging that), then
                                         deletes: logs user.lifecycle.delete.initiated and
                                         .delete.completed; the user leaves every group
  POST membership  {user, group, member} group by name or id; logs group.user_membership.add/remove
  GET  events                            {"events": [LogEvent, ...]} as stored (e.g. to replay
                                         them as Event Hook deliveries)
  POST events      [LogEvent, ...]       appended as given (e.g. out of order, FAILURE outcomes)
  POST throttle    {count, reset_in=1, after=0}  skip `after` API requests, then answer the
                                         next `count` with 429 E0000047, Reset = now + reset_in
  POST fail        {path, page, status=500, times=null, filter=null}  answer page `page`
                                         (1-based) of the listing at `path` with `status`,
                                         `times` times (null: until cleared); `filter` narrows
                                         it to requests with that filter ("" for none)
  POST drop        {path, page, filter=null}  page `page` of that listing is lost: the next
                                         link that leads to it answers 404 E0000007
  POST clear-faults
  POST rate-limit  {limit}               the per-minute bucket size
  POST page-limit  {max}                 the page size cap
  GET  requests                          {"requests": [{method, path, query, status, auth, page, time}]}
                                         for /api/ requests; auth is "ok", "missing" or "wrong"
  POST reset-requests
"""

import argparse
import http.client
import http.server
import json
import math
import os
import random
import string
import sys
import threading
import time
import urllib.parse
import uuid as uuidlib

ADMIN_ID = "00uadmin0000000000x1"
ADMIN_LOGIN = "okta-admin@example.com"


def okta_time(t):
    """Epoch seconds -> "2026-11-26T10:00:00.123Z"."""
    whole = int(t)
    ms = int((t - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%03dZ" % ms


def parse_time(text):
    """RFC 3339 (Z or offset, optional fraction) -> epoch seconds, or None."""
    try:
        from datetime import datetime
        t = text.strip()
        if t.endswith("Z") or t.endswith("z"):
            t = t[:-1] + "+00:00"
        return datetime.fromisoformat(t).timestamp()
    except (ValueError, AttributeError):
        return None


def new_id(prefix, rng):
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(17))


def error_body(code, summary, causes=()):
    return {"errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oae" + uuidlib.uuid4().hex[:19], "errorCauses": [{"errorSummary": c} for c in causes]}


class ApiError(Exception):
    def __init__(self, status, code, summary):
        super().__init__(summary)
        self.status, self.code, self.summary = status, code, summary


class Org:
    """The org's state and behaviour; every method runs under self.lock."""

    LIMITS = {"users": (200, 200), "groups": (10000, 10000), "members": (1000, 1000), "logs": (100, 1000)}

    def __init__(self, token, page_limit=200, rate_limit=600, seed=0):
        self.token = token
        self.page_limit = page_limit
        self.rate_limit = rate_limit
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.users = {}      # id -> user
        self.groups = {}     # id -> group
        self.members = {}    # group id -> set of user ids
        self.events = []     # LogEvents in the order they were stored; "_stored" is the store time
        self.cursors = {}    # opaque token -> {"kind", "key", "page", "dropped"}
        self.throttle = {"count": 0, "reset_in": 1, "after": 0}
        self.fails = []      # {"path", "page", "status", "times", "filter"}
        self.drops = []      # {"path", "page", "filter"}
        self.request_log = []
        self.window_start = time.time()
        self.window_used = 0

    # --- people and groups ---------------------------------------------------

    def add_user(self, spec, log=True):
        uid = spec.get("id") or new_id("00u", self.rng)
        now = okta_time(time.time())
        login = spec["login"]
        status = spec.get("status", "ACTIVE")
        user = {"id": uid, "status": status, "created": now, "activated": now if status == "ACTIVE" else None,
                "statusChanged": now, "lastLogin": None, "lastUpdated": now, "passwordChanged": None,
                "type": {"id": "oty1default0000000x1"},
                "profile": {"firstName": spec.get("firstName", login.split("@")[0].split(".")[0].title()),
                            "lastName": spec.get("lastName", "Example"), "mobilePhone": None,
                            "secondEmail": None, "login": login, "email": spec.get("email", login)},
                "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
                "_links": {}}
        if spec.get("transitioningToStatus"):
            user["transitioningToStatus"] = spec["transitioningToStatus"]
        self.users[uid] = user
        if log:
            self.log_event("user.lifecycle.create", "Create Okta user", [self.user_target(user)])
        return user

    def add_group(self, spec):
        gid = spec.get("id") or new_id("00g", self.rng)
        now = okta_time(time.time())
        group = {"id": gid, "created": now, "lastUpdated": now, "lastMembershipUpdated": now,
                 "objectClass": ["okta:user_group"], "type": spec.get("type", "OKTA_GROUP"),
                 "profile": {"name": spec["name"], "description": spec.get("description")}, "_links": {}}
        self.groups[gid] = group
        self.members[gid] = set()
        for m in spec.get("members", []):
            self.members[gid].add(self.find_user(m)["id"])
        return group

    def find_user(self, key):
        if key in self.users:
            return self.users[key]
        for u in self.users.values():
            if u["profile"]["login"].lower() == str(key).lower():
                return u
        raise ApiError(404, "E0000007", f"Not found: Resource not found: {key} (User)")

    def find_group(self, key):
        if key in self.groups:
            return self.groups[key]
        for g in self.groups.values():
            if g["profile"]["name"] == key:
                return g
        raise ApiError(404, "E0000007", f"Not found: Resource not found: {key} (UserGroup)")

    @staticmethod
    def user_target(user):
        p = user["profile"]
        return {"id": user["id"], "type": "User", "alternateId": p["login"],
                "displayName": f"{p['firstName']} {p['lastName']}", "detailEntry": None}

    @staticmethod
    def group_target(group):
        return {"id": group["id"], "type": "UserGroup", "alternateId": "unknown",
                "displayName": group["profile"]["name"], "detailEntry": None}

    def log_event(self, event_type, message, targets, result="SUCCESS", published=None):
        now = time.time()
        event = {"uuid": str(uuidlib.uuid4()), "published": published or okta_time(now), "eventType": event_type,
                 "version": "0", "severity": "INFO", "legacyEventType": None, "displayMessage": message,
                 "actor": {"id": ADMIN_ID, "type": "User", "alternateId": ADMIN_LOGIN,
                           "displayName": "Okta Admin", "detailEntry": None},
                 "client": {"userAgent": {"rawUserAgent": "okta-standin", "os": "Unknown", "browser": "UNKNOWN"},
                            "zone": "null", "device": "Unknown", "id": None, "ipAddress": "127.0.0.1",
                            "geographicalContext": None},
                 "outcome": {"result": result, "reason": None},
                 "target": targets,
                 "transaction": {"type": "WEB", "id": "W" + uuidlib.uuid4().hex[:20], "detail": {}},
                 "debugContext": {"debugData": {}},
                 "authenticationContext": {"authenticationStep": 0, "externalSessionId": "unknown"},
                 "securityContext": {}, "request": {"ipChain": []}, "_stored": now}
        self.events.append(event)
        return event

    def lifecycle(self, uid, op):
        user = self.find_user(uid)
        allowed = {"suspend": ({"ACTIVE"}, "SUSPENDED", "Suspend Okta user"),
                   "unsuspend": ({"SUSPENDED"}, "ACTIVE", "Unsuspend Okta user"),
                   "deactivate": (None, "DEPROVISIONED", "Deactivate Okta user"),
                   "activate": ({"STAGED", "PROVISIONED", "DEPROVISIONED"}, "ACTIVE", "Activate Okta user"),
                   "reactivate": ({"PROVISIONED", "RECOVERY", "DEPROVISIONED"}, "ACTIVE", "Reactivate Okta user")}
        if op not in allowed:
            raise ApiError(404, "E0000007", f"Not found: lifecycle operation {op}")
        sources, target, message = allowed[op]
        if sources is not None and user["status"] not in sources:
            raise ApiError(400, "E0000001", f"Api validation failed: cannot {op} a user in status {user['status']}")
        user["status"] = target
        user["statusChanged"] = user["lastUpdated"] = okta_time(time.time())
        user.pop("transitioningToStatus", None)
        self.log_event("user.lifecycle." + op, message, [self.user_target(user)])
        return user

    def delete_user(self, uid):
        user = self.find_user(uid)
        if user["status"] != "DEPROVISIONED":
            self.lifecycle(user["id"], "deactivate")
        target = self.user_target(user)
        self.log_event("user.lifecycle.delete.initiated", "Delete Okta user initiated", [target])
        del self.users[user["id"]]
        for members in self.members.values():
            members.discard(user["id"])
        self.log_event("user.lifecycle.delete.completed", "Delete Okta user completed", [target])

    def set_member(self, user_key, group_key, member):
        user, group = self.find_user(user_key), self.find_group(group_key)
        members = self.members[group["id"]]
        if member and user["id"] not in members:
            members.add(user["id"])
            self.log_event("group.user_membership.add", "Add user to group membership",
                           [self.user_target(user), self.group_target(group)])
        elif not member and user["id"] in members:
            members.discard(user["id"])
            self.log_event("group.user_membership.remove", "Remove user from group membership",
                           [self.user_target(user), self.group_target(group)])
        group["lastMembershipUpdated"] = okta_time(time.time())

    def state(self):
        return {"users": [self.public(u) for u in self.sorted_users()],
                "groups": [dict(self.public(g), members=sorted(self.members[g["id"]])) for g in self.sorted_groups()],
                "events": len(self.events)}

    def sorted_users(self):
        return [self.users[k] for k in sorted(self.users)]

    def sorted_groups(self):
        return [self.groups[k] for k in sorted(self.groups)]

    @staticmethod
    def public(obj):
        return {k: v for k, v in obj.items() if not k.startswith("_") or k == "_links"}

    # --- the API ---------------------------------------------------------------

    def api(self, method, path, query, base):
        """Returns (status, body, extra headers) for one authenticated API request."""
        if method != "GET":
            raise ApiError(405, "E0000022", "The endpoint does not support the provided HTTP method")
        parts = [p for p in path.split("/") if p]
        if parts[:3] == ["api", "v1", "users"] and len(parts) == 3:
            return self.list_users(path, query, base)
        if parts[:3] == ["api", "v1", "users"] and len(parts) == 4:
            return 200, self.public(self.find_user(urllib.parse.unquote(parts[3]))), []
        if parts[:3] == ["api", "v1", "groups"] and len(parts) == 3:
            return self.listing(path, query, base, "groups", self.sorted_groups(), lambda g: g["id"])
        if parts[:3] == ["api", "v1", "groups"] and len(parts) == 4:
            return 200, self.public(self.find_group(parts[3])), []
        if parts[:3] == ["api", "v1", "groups"] and len(parts) == 5 and parts[4] == "users":
            group = self.find_group(parts[3])
            users = [self.users[u] for u in sorted(self.members[group["id"]]) if u in self.users]
            return self.listing(path, query, base, "members", users, lambda u: u["id"])
        if parts == ["api", "v1", "logs"]:
            return self.list_logs(path, query, base)
        raise ApiError(404, "E0000007", f"Not found: Resource not found: {path}")

    def list_users(self, path, query, base):
        users = self.sorted_users()
        flt = query.get("filter")
        if flt is not None:
            users = [u for u in users if self.matches(u, flt)]
        elif query.get("search") is None:
            users = [u for u in users if u["status"] != "DEPROVISIONED"]
        return self.listing(path, query, base, "users", users, lambda u: u["id"])

    @staticmethod
    def matches(user, flt):
        joiner = " or " if " or " in flt else " and "
        results = []
        for clause in flt.split(joiner):
            bits = clause.strip().split(" ", 2)
            if len(bits) != 3 or bits[1] != "eq" or not (bits[2].startswith('"') and bits[2].endswith('"')):
                raise ApiError(400, "E0000031", "Invalid search criteria.")
            field, value = bits[0], bits[2][1:-1]
            if field == "status":
                actual = user["status"]
            elif field == "id":
                actual = user["id"]
            elif field in ("profile.login", "profile.email", "profile.firstName", "profile.lastName"):
                actual = user["profile"].get(field.split(".", 1)[1])
            else:
                raise ApiError(400, "E0000031", "Invalid search criteria.")
            results.append(actual == value)
        return any(results) if joiner == " or " else all(results)

    def page_size(self, kind, query):
        default, maximum = self.LIMITS[kind]
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                raise ApiError(400, "E0000001", "Api validation failed: limit")
            if limit < 0:
                raise ApiError(400, "E0000001", "Api validation failed: limit")
        else:
            limit = default
        return max(1, min(limit, maximum, self.page_limit))

    def cursor(self, kind, key, page, path, flt):
        token = "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(20))
        dropped = any(d["path"] == path and d["page"] == page and d.get("filter") in (None, flt or "")
                      for d in self.drops)
        self.cursors[token] = {"kind": kind, "key": key, "page": page, "path": path, "dropped": dropped}
        return token

    def resolve_cursor(self, token, kind, path):
        c = self.cursors.get(token)
        if c is None or c["kind"] != kind or c["path"] != path:
            raise ApiError(400, "E0000001", "Api validation failed: after")
        if c["dropped"]:
            raise ApiError(404, "E0000007", "Not found: Resource not found: page (after)")
        return c

    def check_fail(self, path, page, flt):
        for rule in self.fails:
            if rule["path"] == path and rule["page"] == page and rule.get("filter") in (None, flt or ""):
                if rule.get("times") is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                raise ApiError(rule.get("status", 500), "E0000009", "Internal Server Error")

    def links(self, base, path, query, next_token):
        self_q = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        links = [f"<{base}{path}{'?' + self_q if self_q else ''}>; rel=\"self\""]
        if next_token is not None:
            q = {"after": next_token}
            q.update({k: v for k, v in query.items() if k != "after"})
            links.append(f"<{base}{path}?{urllib.parse.urlencode(q, quote_via=urllib.parse.quote)}>; rel=\"next\"")
        return [("Link", l) for l in links]

    def listing(self, path, query, base, kind, items, key_of):
        limit = self.page_size(kind, query)
        flt = query.get("filter")
        page = 1
        if "after" in query:
            c = self.resolve_cursor(query["after"], kind, path)
            page = c["page"]
            items = [i for i in items if key_of(i) > c["key"]]
        self.check_fail(path, page, flt)
        chunk = items[:limit]
        next_token = None
        if len(items) > limit:
            next_token = self.cursor(kind, key_of(chunk[-1]), page + 1, path, flt)
        return 200, [self.public(i) for i in chunk], self.links(base, path, query, next_token), page

    def list_logs(self, path, query, base):
        limit = self.page_size("logs", query)
        if query.get("sortOrder", "ASCENDING") not in ("ASCENDING", "DESCENDING"):
            raise ApiError(400, "E0000001", "Api validation failed: sortOrder")
        page = 1
        if "after" in query:
            c = self.resolve_cursor(query["after"], "logs", path)
            start, page = c["key"], c["page"]
        else:
            since = parse_time(query["since"]) if "since" in query else time.time() - 7 * 86400
            if since is None:
                raise ApiError(400, "E0000001", "Api validation failed: since")
            if since < time.time() - 180 * 86400:
                raise ApiError(400, "E0000001", "Api validation failed: since: more than 180 days ago")
            start = next((i for i, e in enumerate(self.events) if e["_stored"] >= since), len(self.events))
        self.check_fail(path, page, None)
        until = parse_time(query["until"]) if "until" in query else None
        chunk = []
        pos = start
        while pos < len(self.events) and len(chunk) < limit:
            e = self.events[pos]
            if until is not None and e["_stored"] >= until:
                break
            chunk.append(e)
            pos += 1
        if query.get("sortOrder") == "DESCENDING":
            chunk = list(reversed(chunk))
        # The next link is always there: polled later, it returns what arrived since.
        next_token = self.cursor("logs", pos, page + 1, path, None)
        return 200, [self.public(e) for e in chunk], self.links(base, path, query, next_token), page

    # --- rate limits -------------------------------------------------------------

    def take_rate_limit(self):
        """Returns (headers, throttled?)."""
        now = time.time()
        if now - self.window_start >= 60:
            self.window_start, self.window_used = now, 0
        reset = int(math.ceil(self.window_start + 60))
        if self.throttle["after"] > 0:
            self.throttle["after"] -= 1
        elif self.throttle["count"] > 0:
            self.throttle["count"] -= 1
            reset = int(math.ceil(now + self.throttle["reset_in"]))
            return [("X-Rate-Limit-Limit", str(self.rate_limit)), ("X-Rate-Limit-Remaining", "0"),
                    ("X-Rate-Limit-Reset", str(reset))], True
        if self.window_used >= self.rate_limit:
            return [("X-Rate-Limit-Limit", str(self.rate_limit)), ("X-Rate-Limit-Remaining", "0"),
                    ("X-Rate-Limit-Reset", str(reset))], True
        self.window_used += 1
        return [("X-Rate-Limit-Limit", str(self.rate_limit)),
                ("X-Rate-Limit-Remaining", str(self.rate_limit - self.window_used)),
                ("X-Rate-Limit-Reset", str(reset))], False

    # --- control -----------------------------------------------------------------

    def control(self, method, parts, body):
        if method == "GET" and parts == ["state"]:
            return self.state()
        if method == "GET" and parts == ["requests"]:
            return {"requests": list(self.request_log)}
        if method == "POST" and parts == ["reset-requests"]:
            self.request_log.clear()
            return {}
        if method == "POST" and parts == ["users"]:
            return [self.public(self.add_user(spec)) for spec in body]
        if method == "POST" and parts == ["groups"]:
            return [self.public(self.add_group(spec)) for spec in body]
        if method == "POST" and len(parts) == 4 and parts[0] == "users" and parts[2] == "lifecycle":
            return self.public(self.lifecycle(urllib.parse.unquote(parts[1]), parts[3]))
        if method == "DELETE" and len(parts) == 2 and parts[0] == "users":
            self.delete_user(urllib.parse.unquote(parts[1]))
            return {}
        if method == "POST" and parts == ["membership"]:
            self.set_member(body["user"], body["group"], bool(body["member"]))
            return {}
        if method == "GET" and parts == ["events"]:
            return {"events": [self.public(e) for e in self.events]}
        if method == "POST" and parts == ["events"]:
            now = time.time()
            for e in body:
                self.events.append(dict(e, _stored=now))
            return {}
        if method == "POST" and parts == ["throttle"]:
            self.throttle = {"count": int(body.get("count", 1)), "reset_in": float(body.get("reset_in", 1)),
                             "after": int(body.get("after", 0))}
            return {}
        if method == "POST" and parts == ["fail"]:
            self.fails.append({"path": body["path"], "page": int(body.get("page", 1)),
                               "status": int(body.get("status", 500)), "times": body.get("times"),
                               "filter": body.get("filter")})
            return {}
        if method == "POST" and parts == ["drop"]:
            self.drops.append({"path": body["path"], "page": int(body["page"]), "filter": body.get("filter")})
            return {}
        if method == "POST" and parts == ["clear-faults"]:
            self.fails.clear()
            self.drops.clear()
            self.throttle = {"count": 0, "reset_in": 1, "after": 0}
            for c in self.cursors.values():
                c["dropped"] = False
            return {}
        if method == "POST" and parts == ["rate-limit"]:
            self.rate_limit = int(body["limit"])
            return {}
        if method == "POST" and parts == ["page-limit"]:
            self.page_limit = int(body["max"])
            return {}
        raise ApiError(404, "E0000007", "Not found: no such control endpoint")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Okta serves it
    server_version = "okta-standin"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; the request log is in /__standin/requests
        pass

    def send(self, status, body, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        org = self.server.org
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/__standin/"):
            try:
                body = json.loads(raw) if raw else None
                with org.lock:
                    result = org.control(method, [p for p in url.path.split("/") if p][1:], body)
                self.send(200, result)
            except ApiError as e:
                self.send(e.status, error_body(e.code, e.summary))
            except (ValueError, KeyError, TypeError) as e:
                self.send(400, {"error": str(e)})
            return
        base = "http://" + (self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}")
        with org.lock:
            entry = {"method": method, "path": url.path, "query": url.query, "time": time.time(), "page": None}
            org.request_log.append(entry)
            auth = self.headers.get("Authorization")
            entry["auth"] = "missing" if auth is None else "ok" if auth == "SSWS " + org.token else "wrong"
            rate_headers, throttled = org.take_rate_limit()
            if entry["auth"] != "ok":
                status, body, headers = 401, error_body("E0000011", "Invalid token provided"), []
            elif throttled:
                status, body, headers = 429, error_body(
                    "E0000047", "API call exceeded rate limit due to too many requests."), []
            else:
                try:
                    result = org.api(method, url.path, query, base)
                    status, body, headers = result[:3]
                    if len(result) > 3:
                        entry["page"] = result[3]
                except ApiError as e:
                    status, body, headers = e.status, error_body(e.code, e.summary), []
            entry["status"] = status
        self.send(status, body, list(headers) + rate_headers)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")


class OktaStandin:
    """A running stand-in org on 127.0.0.1 (a thread of this process). stop() is idempotent."""

    def __init__(self, token, page_limit=200, rate_limit=600, listen=("127.0.0.1", 0), seed=0):
        self.token = token
        self.org = Org(token, page_limit=page_limit, rate_limit=rate_limit, seed=seed)
        self.httpd = http.server.ThreadingHTTPServer(listen, Handler)
        self.httpd.daemon_threads = True
        self.httpd.org = self.org
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="okta-standin", daemon=True)
        self.thread.start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- the control endpoints, from Python ----------------------------------------

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, "/__standin/" + path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            text = resp.read().decode()
            parsed = json.loads(text) if text else None
            if resp.status >= 300:
                raise RuntimeError(f"{method} /__standin/{path} -> {resp.status}: {parsed}")
            return parsed
        finally:
            conn.close()

    def add_user(self, login, **fields):
        return self.control("POST", "users", [dict(fields, login=login)])[0]

    def add_group(self, name, members=(), **fields):
        return self.control("POST", "groups", [dict(fields, name=name, members=list(members))])[0]

    def suspend(self, uid):
        return self.control("POST", f"users/{uid}/lifecycle/suspend")

    def unsuspend(self, uid):
        return self.control("POST", f"users/{uid}/lifecycle/unsuspend")

    def deactivate(self, uid):
        return self.control("POST", f"users/{uid}/lifecycle/deactivate")

    def activate(self, uid):
        return self.control("POST", f"users/{uid}/lifecycle/activate")

    def delete(self, uid):
        return self.control("DELETE", f"users/{uid}")

    def set_member(self, uid, group, member):
        return self.control("POST", "membership", {"user": uid, "group": group, "member": member})

    def events(self):
        return self.control("GET", "events")["events"]

    def add_events(self, events):
        return self.control("POST", "events", list(events))

    def throttle(self, count, reset_in=1, after=0):
        return self.control("POST", "throttle", {"count": count, "reset_in": reset_in, "after": after})

    def fail_page(self, path, page, status=500, times=None, filter=None):
        return self.control("POST", "fail", {"path": path, "page": page, "status": status, "times": times,
                                             "filter": filter})

    def drop_page(self, path, page, filter=None):
        return self.control("POST", "drop", {"path": path, "page": page, "filter": filter})

    def clear_faults(self):
        return self.control("POST", "clear-faults")

    def state(self):
        return self.control("GET", "state")

    def requests(self):
        return self.control("GET", "requests")["requests"]

    def reset_requests(self):
        return self.control("POST", "reset-requests")


def main(argv=None):
    ap = argparse.ArgumentParser(description="A stand-in Okta org (see the module docstring).")
    ap.add_argument("--token-file", required=True, help="the SSWS API token clients must send")
    ap.add_argument("--seed", help='JSON {"users": [...], "groups": [...]}')
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file", help="write the bound port here")
    ap.add_argument("--page-limit", type=int, default=200)
    args = ap.parse_args(argv)
    with open(args.token_file) as f:
        token = f.read().strip()
    host, _, port = args.listen.rpartition(":")
    standin = OktaStandin(token, page_limit=args.page_limit, listen=(host or "127.0.0.1", int(port or 0)))
    if args.seed:
        with open(args.seed) as f:
            seed = json.load(f)
        with standin.org.lock:
            for u in seed.get("users", []):
                standin.org.add_user(u)
            for g in seed.get("groups", []):
                standin.org.add_group(g)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(standin.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"okta-standin on {standin.url}", file=sys.stderr, flush=True)
    try:
        standin.thread.join()
    except KeyboardInterrupt:
        standin.stop()


if __name__ == "__main__":
    main()

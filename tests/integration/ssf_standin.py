"""A stand-in OpenID Shared Signals transmitter for keywarden's integration tests.
Python 3 standard library only; SETs are signed RS256 with the `openssl` CLI.

It follows the specifications, not keywarden's code: SSF 1.0 (metadata at
/.well-known/ssf-configuration, streams at configuration_endpoint, status,
add_subject, verification), RFC 8417 SETs (typ secevent+jwt), RFC 8935 push
(POST application/secevent+jwt with the stream's authorization_header; 202 or
400 {"err","description"}) and RFC 8936 poll (POST {"ack","setErrs","maxEvents",
"returnImmediately"} → {"sets":{jti: SET},"moreAvailable"}).

    t = SsfStandin(audience="https://kw.example/ssf/corp", token="mgmt")  # http://127.0.0.1:PORT/
    t.issuer                                   # base URL + "/"
    jti = t.emit("account-disabled", email="ann@example.com")   # queued for poll, or pushed
    t.push_set(t.sign(claims), url, bearer)    # → (status, body)
    t.rotate_key()                             # new kid, old key kept in the JWKS
    t.rotate_key(retire_old=True)              # new kid, the old ones gone from the JWKS
    t.add_key(EcKey(t.folder, "ec-1"))         # ES256 (or RsaKey(..., alg="PS256"))
    t.hold_ack_polls()                         # polls carrying an ack hang, unprocessed
    t.release_held_polls()                     # ... and are dropped without an answer
    t.set_status("paused"); t.acked; t.set_errs; t.streams; t.stop()
"""

import base64
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

RISC = "https://schemas.openid.net/secevent/risc/event-type/"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RsaKey:
    """An RSA key pair made and used through the openssl CLI; alg RS256 or PS256."""

    def __init__(self, folder, kid, bits=2048, alg="RS256"):
        self.kid = kid
        self.alg = alg
        self.path = os.path.join(folder, kid + ".pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
                        "-out", self.path], check=True, capture_output=True)
        text = subprocess.run(["openssl", "rsa", "-in", self.path, "-noout", "-modulus"], check=True,
                              capture_output=True, text=True).stdout
        modulus = bytes.fromhex(text.strip().split("=", 1)[1])
        self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": alg,
                    "n": b64url(modulus), "e": b64url((65537).to_bytes(3, "big"))}

    def public_pem(self):
        return subprocess.run(["openssl", "pkey", "-in", self.path, "-pubout"], check=True,
                              capture_output=True).stdout

    def sign(self, data):
        # RFC 7518 §3.5: PS256 is RSASSA-PSS with SHA-256, MGF1 SHA-256 and a 32-byte salt.
        pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if self.alg == "PS256" else []
        return subprocess.run(["openssl", "dgst", "-sha256", *pss, "-sign", self.path], input=data, check=True,
                              capture_output=True).stdout


def der_length(data, i):
    """(length, index after it) of the DER length at data[i]."""
    first = data[i]
    if first < 0x80:
        return first, i + 1
    count = first & 0x7F
    return int.from_bytes(data[i + 1:i + 1 + count], "big"), i + 1 + count


class EcKey:
    """A P-256 key pair through the openssl CLI; ES256 signatures as RFC 7518 §3.4 says (R || S, 32 bytes
    each), converted from the DER ECDSA-Sig-Value openssl writes."""

    def __init__(self, folder, kid):
        self.kid = kid
        self.alg = "ES256"
        self.path = os.path.join(folder, kid + ".pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", self.path], check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", self.path, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        point = der[-65:]  # the SubjectPublicKeyInfo ends with the uncompressed point 04 || X || Y
        assert point[0] == 4
        self.jwk = {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                    "x": b64url(point[1:33]), "y": b64url(point[33:])}

    def sign(self, data):
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.path], input=data, check=True,
                             capture_output=True).stdout
        assert der[0] == 0x30
        _, i = der_length(der, 1)
        parts = []
        for _ in range(2):
            assert der[i] == 0x02
            length, i = der_length(der, i + 1)
            parts.append(int.from_bytes(der[i:i + length], "big").to_bytes(32, "big"))
            i += length
        return parts[0] + parts[1]


class SsfStandin:
    def __init__(self, audience, token="", push_endpoint_check=None, default_subjects="ALL"):
        self.audience = audience
        self.token = token
        self.default_subjects = default_subjects
        self.folder = tempfile.mkdtemp(prefix="ssf-standin-")
        self.keys = [RsaKey(self.folder, "key-1")]
        self.lock = threading.Lock()
        self.streams = {}          # stream_id → config
        self.status = "enabled"
        self.queue = []            # (jti, SET) waiting for a poll
        self.outstanding = {}      # jti → SET delivered by poll, not acknowledged
        self.acked = []
        self.delivered = {}        # jti → SET, everything ever emitted
        self.set_errs = {}
        self.subjects = []
        self.verifications = []
        self.push_results = []     # (status, body) of every push
        self.requests = []         # (method, path)
        self.holding_acks = False  # see hold_ack_polls()
        self.held_acks = []        # the ack lists of held polls, never processed
        self.release = threading.Event()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def authorized(self):
                return not standin.token or self.headers.get("Authorization") == "Bearer " + standin.token

            def do_GET(self):
                standin.requests.append(("GET", self.path))
                path = self.path.split("?")[0]
                if path == "/.well-known/ssf-configuration":
                    return self.reply(200, standin.metadata())
                if path == "/jwks":
                    return self.reply(200, {"keys": [k.jwk for k in standin.keys]})
                if not self.authorized():
                    return self.reply(401, {"err": "authentication_failed"})
                if path == "/streams":
                    with standin.lock:
                        return self.reply(200, list(standin.streams.values()))
                if path == "/status":
                    return self.reply(200, {"stream_id": next(iter(standin.streams), ""), "status": standin.status})
                return self.reply(404, {})

            def do_POST(self):
                standin.requests.append(("POST", self.path))
                path = self.path.split("?")[0]
                if not self.authorized():
                    return self.reply(401, {"err": "authentication_failed"})
                body = self.body()
                if path == "/streams":
                    return self.reply(201, standin.create_stream(body))
                if path == "/verify":
                    standin.verifications.append(body)
                    standin.emit_verification(body.get("state", ""))
                    return self.reply(204)
                if path == "/subjects:add":
                    standin.subjects.append(body.get("subject"))
                    return self.reply(204)
                if path == "/poll":
                    if standin.holding_acks and (body or {}).get("ack"):
                        standin.held_acks.append(list(body["ack"]))
                        standin.release.wait(60)
                        self.close_connection = True
                        return None  # dropped unanswered, as if the connection broke first
                    return self.reply(200, standin.poll(body))
                return self.reply(404, {})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.base + "/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ---- SSF 1.0 -----------------------------------------------------------
    def metadata(self):
        return {"spec_version": "1_0", "issuer": self.issuer, "jwks_uri": self.base + "/jwks",
                "delivery_methods_supported": ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"],
                "configuration_endpoint": self.base + "/streams", "status_endpoint": self.base + "/status",
                "add_subject_endpoint": self.base + "/subjects:add",
                "verification_endpoint": self.base + "/verify", "default_subjects": self.default_subjects}

    def create_stream(self, request):
        with self.lock:
            stream_id = "stream-" + str(len(self.streams) + 1)
            delivery = dict(request.get("delivery") or {"method": "urn:ietf:rfc:8936"})
            if delivery.get("method") == "urn:ietf:rfc:8936":
                delivery["endpoint_url"] = self.base + "/poll"
            stream = {"stream_id": stream_id, "iss": self.issuer, "aud": self.audience, "delivery": delivery,
                      "events_supported": request.get("events_requested", []),
                      "events_requested": request.get("events_requested", []),
                      "events_delivered": request.get("events_requested", [])}
            self.streams[stream_id] = stream
            return stream

    def set_status(self, status):
        self.status = status

    def rotate_key(self, retire_old=False):
        """A new signing key (kid key-N); with retire_old the JWKS holds only it from now on."""
        key = RsaKey(self.folder, f"key-{len(self.keys) + 1}")
        self.keys = [key] if retire_old else self.keys + [key]
        return key

    def add_key(self, key):
        self.keys.append(key)
        return key

    def hold_ack_polls(self):
        """From now on a poll that acknowledges anything hangs and is never processed (its acks are
        lost, its SETs stay outstanding), until release_held_polls()."""
        self.release.clear()
        self.holding_acks = True

    def release_held_polls(self):
        self.holding_acks = False
        self.release.set()

    # ---- SETs --------------------------------------------------------------
    def claims(self, event_uri, subject, event=None, **overrides):
        claims = {"iss": self.issuer, "aud": self.audience, "iat": int(time.time()), "jti": uuid.uuid4().hex,
                  "sub_id": subject, "events": {event_uri: event or {}}}
        claims.update(overrides)
        return claims

    def sign(self, claims, header=None, key=None):
        key = key or self.keys[-1]
        head = {"alg": key.alg, "typ": "secevent+jwt", "kid": key.kid}
        head.update(header or {})
        signing_input = (b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        return signing_input.decode() + "." + b64url(key.sign(signing_input))

    def emit(self, risc_event, email=None, subject=None, event=None):
        """Queues (poll) or pushes (push stream) one RISC/CAEP event; returns its jti."""
        uri = risc_event if risc_event.startswith("https://") else RISC + risc_event
        claims = self.claims(uri, subject or {"format": "email", "email": email}, event)
        self.deliver(claims["jti"], self.sign(claims))
        return claims["jti"]

    def redeliver(self, jti):
        """Queues an already acknowledged SET again, as a transmitter that lost the ack would."""
        with self.lock:
            self.queue.append((jti, self.delivered[jti]))

    def emit_verification(self, state):
        stream_id = next(iter(self.streams), "")
        claims = self.claims(SSF + "verification", {"format": "opaque", "id": stream_id}, {"state": state})
        threading.Thread(target=self.deliver_quietly, args=(claims["jti"], self.sign(claims)), daemon=True).start()

    def deliver_quietly(self, jti, token):
        """deliver() from a thread of its own: a receiver that cannot be reached is only recorded."""
        try:
            self.deliver(jti, token)
        except OSError as e:
            self.push_results.append((0, str(e)))

    def deliver(self, jti, token):
        with self.lock:
            self.delivered[jti] = token
            push = [s for s in self.streams.values() if s["delivery"].get("method") == "urn:ietf:rfc:8935"]
        if not push:
            with self.lock:
                self.queue.append((jti, token))
            return None
        delivery = push[0]["delivery"]
        return self.push_set(token, delivery["endpoint_url"], delivery.get("authorization_header", ""))

    def push_set(self, token, url, authorization, content_type="application/secevent+jwt"):
        request = urllib.request.Request(url, data=token.encode(), method="POST", headers={
            "Content-Type": content_type, "Accept": "application/json", "Authorization": authorization})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result = (response.status, response.read().decode())
        except urllib.error.HTTPError as e:
            result = (e.code, e.read().decode())
        self.push_results.append(result)
        return result

    # ---- RFC 8936 ------------------------------------------------------------
    def poll(self, request):
        with self.lock:
            for jti in request.get("ack", []):
                self.outstanding.pop(jti, None)
                self.acked.append(jti)
            for jti, error in (request.get("setErrs") or {}).items():
                self.outstanding.pop(jti, None)
                self.set_errs[jti] = error
            max_events = int(request.get("maxEvents", 10))
            # Unacknowledged SETs are delivered again, then new ones.
            pending = list(self.outstanding.items()) + self.queue
            batch, rest = pending[:max_events], pending[max_events:]
            for jti, token in batch:
                self.outstanding[jti] = token
            self.queue = [item for item in self.queue if item[0] not in self.outstanding]
            return {"sets": dict(batch), "moreAvailable": bool(rest)}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

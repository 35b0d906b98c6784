"""The push routes as the registry declares them, against the real binary:
a source name that is not one (invalid UTF-8 included) is a 404 like any
unknown source, never a 500; a push-only source is up while the daemon
serves it and shows its last accepted push; check-config lists the types
this build serves."""

import json
import os
import socket
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, wait_until
from palette_sim import PaletteSim
from tenant import Tenant

SCIM_TOKEN = "scim-bearer-3c9d0a6e5b1f4e72"


def raw_request(port, request_bytes, timeout=5):
    """Sends bytes as they are (http.client refuses non-ASCII targets)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request_bytes)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data


class SourceRoutesTest(unittest.TestCase):
    def setUp(self):
        self.t = Tenant(4, 8, api_key=API_KEY, seed=5)
        self.sim = PaletteSim(self.t.seed(), rate=100, burst=100)
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        with open(os.path.join(self.ws.dir, "scim.token"), "w") as f:
            f.write(SCIM_TOKEN + "\n")
        self.ws.sources = [{"name": "corp-scim", "type": "scim", "token_file": "scim.token"}]
        self.ws.write_config()

    def start(self):
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())

    def test_a_name_that_is_not_a_source_name_is_a_404_never_a_500(self):
        self.start()
        targets = [b"/hooks/okta/%FF", b"/hooks/okta/\xff", b"/scim/v2/\xff/Users", b"/scim/v2/%FF%FE/Users",
                   b"/hooks/entra/\xc3\x28", b"/ssf/\xff", b"/scim/v2/UPPER/Users"]
        for target in targets:
            status, data = raw_request(self.daemon.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                                       b"Authorization: Bearer " + SCIM_TOKEN.encode() + b"\r\n"
                                       b"Connection: close\r\n\r\n")
            self.assertEqual(status, 404, (target, data[:300]))
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)
        log = self.daemon.output()
        self.assertNotIn("request failed", log)
        self.assertNotIn('"level":"error"', log)

    def test_a_push_source_is_up_while_served_and_shows_its_last_accepted_push(self):
        self.start()
        _, _, metrics = self.daemon.request("GET", "/metrics")
        self.assertIn('keywarden_source_up{source="corp-scim"} 1', metrics.decode())
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        scim = [s for s in status["sources"] if s["name"] == "corp-scim"][0]
        self.assertTrue(scim["healthy"], scim)
        self.assertIsNone(scim["last_good_read"], "no push accepted yet")

        p = self.t.people[0]
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": p["email"], "active": True,
                "emails": [{"primary": True, "type": "work", "value": p["email"]}]}
        code, _, _ = self.daemon.request("POST", "/scim/v2/corp-scim/Users", body,
                                         {"Authorization": "Bearer " + SCIM_TOKEN,
                                          "Content-Type": "application/scim+json"})
        self.assertEqual(code, 201)
        status = json.loads(self.ws.run("status", "--json", check=0).stdout)
        scim = [s for s in status["sources"] if s["name"] == "corp-scim"][0]
        self.assertTrue(scim["healthy"])
        self.assertIsNotNone(scim["last_good_read"], "the last accepted push")

        # A refused push changes nothing.
        code, _, _ = self.daemon.request("POST", "/scim/v2/corp-scim/Users", body,
                                         {"Authorization": "Bearer wrong", "Content-Type": "application/scim+json"})
        self.assertEqual(code, 401)

    def test_check_config_names_the_types_this_build_serves(self):
        self.ws.sources = [{"name": "x", "type": "carrier-pigeon"}]
        self.ws.write_config()
        r = self.ws.run("check-config", check=2)
        self.assertIn("must be one of file | scim | okta | entra", r.stderr)


if __name__ == "__main__":
    unittest.main()

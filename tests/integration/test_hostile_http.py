"""The running daemon under hostile HTTP clients (issue 13, items 3 and 5):
request smuggling through Transfer-Encoding, one address holding over a
thousand idle or slowloris connections, and a burst of unauthenticated
1 MB bodies."""

import json
import os
import socket
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace
from hostile_client import IdleConnections, body_burst, raise_fd_limit, request_from, vm_kib
from palette_sim import PaletteSim
from tenant import Tenant

SCIM_TOKEN = "scim-bearer-hostile-5e0c2a7f91d84b36"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
MIB = 1024 * 1024


class HostileHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 1,100 client sockets here, and the daemon (which inherits this limit,
        # as it gets LimitNOFILE=65536 from its unit) must not run out of
        # descriptors before its own connection caps apply.
        if raise_fd_limit(8192) < 4096:
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit below 4096")

    def setUp(self):
        self.t = Tenant(8, 16, api_key=API_KEY, seed=13)
        self.sim = PaletteSim(self.t.seed(), rate=100, burst=100)
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url, policy={"entitled_groups": []},
                            daemon={"log_level": "warn"},
                            safety={"max_revocations": 100, "max_revocations_percent": 100})
        self.addCleanup(self.ws.cleanup)
        with open(os.path.join(self.ws.dir, "scim.token"), "w") as f:
            f.write(SCIM_TOKEN + "\n")
        self.ws.sources = [{"name": "corp-scim", "type": "scim", "token_file": "scim.token"}]
        self.ws.write_config()
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())

    def auth(self):
        return {"Authorization": "Bearer " + SCIM_TOKEN, "Content-Type": "application/scim+json"}

    def user_count(self):
        status, _, payload = self.daemon.request("GET", "/scim/v2/corp-scim/Users", headers=self.auth())
        self.assertEqual(status, 200)
        return json.loads(payload)["totalResults"]

    def new_user(self, i):
        p = self.t.people[i]
        return json.dumps({"schemas": [USER_SCHEMA], "userName": p["email"], "active": True,
                           "emails": [{"primary": True, "type": "work", "value": p["email"]}]})

    # (a) Item 5: one address cannot take every connection.
    def test_idle_connections_from_one_address_leave_room_for_a_push_from_another(self):
        attacker = IdleConnections(self.daemon.port, 1100, source="127.0.0.1", deadline_s=60)
        self.addCleanup(attacker.close)
        attacker.drip(rounds=3)
        attacker.keep(deadline_s=10)  # reconnect what the daemon cut off, as a real attacker does
        for i in range(3):
            status, _, seconds = request_from("127.0.0.2", self.daemon.port, "GET", "/healthz", timeout=5)
            self.assertEqual(status, 200)
            self.assertLess(seconds, 2.0)
            status, payload, seconds = request_from("127.0.0.2", self.daemon.port, "POST",
                                                    "/scim/v2/corp-scim/Users", self.new_user(i), self.auth(),
                                                    timeout=5)
            self.assertEqual(status, 201, payload)
            self.assertLess(seconds, 2.0)
            attacker.drip(rounds=1)
            attacker.keep(deadline_s=10)
        attacker.close()
        self.assertEqual(self.user_count(), 3)

    # (b) Item 5: unauthenticated bodies are not read, and memory comes back.
    @unittest.skipIf(os.environ.get("KEYWARDEN_SANITIZED") == "address",
                     "AddressSanitizer keeps freed memory in its quarantine: RSS measures the sanitizer here")
    def test_unauthenticated_megabyte_bodies_leave_memory_where_it_was(self):
        pid = self.daemon.proc.pid
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)
        start_kib = vm_kib(pid, "VmRSS")
        outcomes, _, seconds = body_burst(
            self.daemon.port, "/scim/v2/corp-scim/Users", {"Authorization": "Bearer wrong-token"}, count=1000,
            body_size=MIB, concurrency=200, deadline_s=180)
        self.assertEqual(dict(outcomes), {401: 1000}, f"after {seconds:.1f}s")
        # (The clients still get to send their bodies: the daemon answers on
        # the header, then discards what follows for up to linger_timeout
        # without buffering it, so that the 401 is read, not reset.)
        time.sleep(3)  # the daemon gives memory back once the burst is over
        end_kib = vm_kib(pid, "VmRSS")
        peak_kib = vm_kib(pid, "VmHWM")
        self.assertLess(end_kib - start_kib, 100 * 1024, f"RSS {start_kib} KiB -> {end_kib} KiB")
        self.assertLess(peak_kib - start_kib, 100 * 1024, f"RSS {start_kib} KiB, peak {peak_kib} KiB")
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.user_count(), 0)

    # (b') Item 5: memory read for a burst of large bodies is given back once
    # the burst is over. The bound is tighter than (b)'s: with the trim the
    # daemon ends within a few MB of its start; with malloc_trim made a no-op
    # (LD_PRELOAD) it kept 95-211 MB in 3 of 4 trials (glibc sometimes returns
    # the top of the heap by itself, so that control is not certain).
    @unittest.skipIf(os.environ.get("KEYWARDEN_SANITIZED") == "address",
                     "AddressSanitizer keeps freed memory in its quarantine: RSS measures the sanitizer here")
    def test_memory_of_a_burst_of_read_bodies_is_given_back(self):
        pid = self.daemon.proc.pid
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)
        start_kib = vm_kib(pid, "VmRSS")
        outcomes, _, seconds = body_burst(
            self.daemon.port, "/scim/v2/corp-scim/Users", {"Authorization": "Bearer " + SCIM_TOKEN}, count=1000,
            body_size=MIB, concurrency=200, deadline_s=180)
        self.assertEqual(dict(outcomes), {400: 1000}, f"after {seconds:.1f}s")  # read in full: not JSON
        end_kib = start_kib
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the trim follows the burst within seconds
            time.sleep(0.5)
            end_kib = vm_kib(pid, "VmRSS")
            if end_kib - start_kib < 50 * 1024:
                break
        self.assertLess(end_kib - start_kib, 50 * 1024,
                        f"RSS {start_kib} KiB -> {end_kib} KiB (peak {vm_kib(pid, 'VmHWM')} KiB)")
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)

    # (c) Item 3: a body of unknown length ends the connection; what follows
    # it is never served.
    def test_transfer_encoding_smuggling_is_refused_and_the_connection_closed(self):
        smuggled = self.new_user(1).encode()
        second = (b"POST /scim/v2/corp-scim/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  SCIM_TOKEN.encode() + b"\r\nContent-Type: application/scim+json\r\nContent-Length: " +
                  str(len(smuggled)).encode() + b"\r\n\r\n" + smuggled)
        for fields, body in ((b"Transfer-Encoding: gzip\r\n", b""),
                             (b"Transfer-Encoding: xchunked\r\n", b""),
                             (b"Transfer-Encoding: identity\r\n", b""),
                             (b"Transfer-Encoding: chunked, identity\r\n", b""),
                             (b"Transfer-Encoding: gzip\r\nContent-Length: 2\r\n", b"{}"),
                             (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n")):
            with self.subTest(fields=fields):
                first = (b"POST /scim/v2/corp-scim/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                         SCIM_TOKEN.encode() + b"\r\nContent-Type: application/scim+json\r\n" + fields + b"\r\n" +
                         body)
                s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=5)
                try:
                    s.sendall(first + second)
                    received = b""
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline:
                        try:
                            data = s.recv(65536)
                        except TimeoutError:  # still open: the assertions below say so
                            break
                        if not data:
                            break
                        received += data
                finally:
                    s.close()
                self.assertTrue(received.startswith(b"HTTP/1.1 400 "), received)
                self.assertEqual(received.count(b"HTTP/1.1 "), 1, received)  # closed after the 400
        self.assertEqual(self.user_count(), 0)  # the smuggled create never ran
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main()

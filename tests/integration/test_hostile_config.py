"""Hostile files the daemon is pointed at (issue 13, items 2, 6 and 7): a
config nested deep enough to crash toml++, secret files that are FIFOs or
endless devices, and the modes of the state folder and database under umask
022. The real binary against palette-sim; every wait is bounded."""

import os
import signal
import stat
import subprocess
import time
import unittest

from harness import API_KEY, DaemonProcess, Workspace, wait_until
from palette_sim import PaletteSim
from tenant import Tenant, identity

DEPTH_LIMIT = 32


def dotted(levels):
    return "a" + ".a" * (levels - 1)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class HostileConfigTest(unittest.TestCase):
    """A key or a table header thousands of levels deep: refused before
    toml++ recurses into it, as a FILE:LINE:COL error."""

    def setUp(self):
        self.ws = Workspace("http://127.0.0.1:9")
        self.addCleanup(self.ws.cleanup)
        with open(self.ws.config_path) as f:
            self.good = f.read()

    def write_with(self, tail):
        """The good config followed by `tail`; returns the line `tail` starts on."""
        text = self.good if self.good.endswith("\n") else self.good + "\n"
        with open(self.ws.config_path, "w") as f:
            f.write(text + tail)
        return text.count("\n") + 1

    def test_check_config_refuses_a_dotted_key_a_hundred_thousand_levels_deep(self):
        line = self.write_with(dotted(100000) + " = 1\n")  # 200 KB, as in the report
        started = time.monotonic()
        p = self.ws.run("check-config", timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr[:2000])  # was 139 (SIGSEGV)
        # The key sits under the last [[source]] (one level): segment 32 is level 33.
        column = 1 + 2 * (DEPTH_LIMIT - 1)
        self.assertIn(f"{self.ws.config_path}:{line}:{column}: nests deeper than {DEPTH_LIMIT} levels",
                      p.stderr)
        self.assertLess(time.monotonic() - started, 30)

    def test_check_config_refuses_a_table_header_fifty_thousand_levels_deep(self):
        line = self.write_with("[" + dotted(50000) + "]\nx = 1\n")
        p = self.ws.run("check-config", timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr[:2000])
        self.assertIn(f"{self.ws.config_path}:{line}:{2 + 2 * DEPTH_LIMIT}: nests deeper", p.stderr)

    def test_check_config_refuses_deep_arrays_and_inline_tables(self):
        for tail in ("x = " + "[" * 100000 + "]" * 100000 + "\n",
                     "x = " + "{a = " * 20000 + "1" + "}" * 20000 + "\n"):
            self.write_with(tail)
            p = self.ws.run("check-config", timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr[:2000])
            self.assertIn("nests deeper", p.stderr)

    def test_check_config_refuses_a_file_over_one_mebibyte(self):
        self.write_with("# " + "x" * (1024 * 1024) + "\n")
        p = self.ws.run("check-config", timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr[:2000])
        self.assertIn(f"{self.ws.config_path}: larger than 1048576 bytes", p.stderr)


class HostileReloadTest(unittest.TestCase):
    """SIGHUP with a hostile config: the reload is refused and logged, the
    daemon keeps serving on the config it had."""

    def setUp(self):
        self.t = Tenant(4, 4, api_key=API_KEY, seed=31)
        self.sim = PaletteSim(self.t.seed())
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        self.ws.write_identities([identity(p) for p in self.t.people])
        self.daemon = DaemonProcess(self.ws)
        self.addCleanup(self.daemon.stop)
        self.assertTrue(self.daemon.wait_ready(), self.daemon.output())
        with open(self.ws.config_path) as f:
            self.good = f.read()

    def reload_with(self, tail):
        with open(self.ws.config_path, "w") as f:
            f.write(self.good + "\n" + tail)
        refusals = self.daemon.output().count("reload refused")
        self.daemon.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.daemon.output().count("reload refused") > refusals
                                   or self.daemon.proc.poll() is not None, timeout=20),
                        self.daemon.output()[-3000:])
        self.assertIsNone(self.daemon.proc.poll(), "the daemon died on the reload:\n" + self.daemon.output()[-3000:])
        self.assertEqual(self.daemon.request("GET", "/healthz")[0], 200)

    def test_sighup_with_a_hostile_config_is_refused_logged_and_the_old_config_kept(self):
        self.reload_with(dotted(100000) + " = 1\n")
        self.assertIn("nests deeper than 32 levels", self.daemon.output())
        self.reload_with("[" + dotted(50000) + "]\n")
        self.assertEqual(self.daemon.request("GET", "/readyz")[0], 200)
        # The good file is taken again.
        with open(self.ws.config_path, "w") as f:
            f.write(self.good)
        self.daemon.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "config reloaded" in self.daemon.output(), timeout=20),
                        self.daemon.output()[-3000:])


class SecretFileTest(unittest.TestCase):
    """token_file pointing at a FIFO or at /dev/zero: check-config and run fail
    at once with a FILE:LINE:COL error at the token_file key."""

    def setUp(self):
        self.ws = Workspace("http://127.0.0.1:9")
        self.addCleanup(self.ws.cleanup)
        os.chmod(self.ws.key_path, 0o600)

    def use_token_file(self, path):
        self.ws.sources = [{"name": "corp-scim", "type": "scim", "token_file": path}]
        self.ws.write_config()
        with open(self.ws.config_path) as f:
            return f.read().splitlines().index(f"token_file = \"{path}\"") + 1

    def expect_refused(self, path, kind):
        line = self.use_token_file(path)
        for command in ("check-config", "run"):
            started = time.monotonic()
            try:
                p = self.ws.run(command, timeout=20)
            except subprocess.TimeoutExpired:
                self.fail(f"{command} hung on a token_file that is {kind}")
            self.assertEqual(p.returncode, 2, f"{command}: {p.stderr}")
            self.assertIn(f"{self.ws.config_path}:{line}:1: source \"corp-scim\" token: secret file", p.stderr)
            self.assertIn(f"is {kind}; it must be a regular file", p.stderr)
            self.assertLess(time.monotonic() - started, 10, command)

    def test_a_fifo_as_token_file_is_refused_without_hanging(self):
        fifo = os.path.join(self.ws.dir, "scim.token")
        os.mkfifo(fifo, 0o600)
        self.expect_refused(fifo, "a FIFO")

    def test_dev_zero_as_token_file_is_refused_unread(self):
        self.expect_refused("/dev/zero", "a character device")

    def test_a_token_file_others_can_read_is_a_warning_not_an_error(self):
        token = os.path.join(self.ws.dir, "scim.token")
        with open(token, "w") as f:
            f.write("scim-token-value-9f8e7d\n")
        line = self.use_token_file(token)
        os.chmod(token, 0o644)
        p = self.ws.run("check-config", check=0)
        self.assertIn(f"warning: {self.ws.config_path}:{line}:1: source \"corp-scim\" token: secret file "
                      f"{token} is readable by everyone (mode 0644)", p.stderr)
        self.assertNotIn("scim-token-value-9f8e7d", p.stdout + p.stderr)
        os.chmod(token, 0o600)
        p = self.ws.run("check-config", check=0)
        self.assertNotIn("warning", p.stderr)


class StateModesTest(unittest.TestCase):
    """Outside systemd, under umask 022: the state folder 0700, the database
    and its -wal and -shm 0600."""

    def setUp(self):
        self.old_umask = os.umask(0o022)
        self.addCleanup(os.umask, self.old_umask)
        self.t = Tenant(3, 3, api_key=API_KEY, seed=32)
        self.sim = PaletteSim(self.t.seed())
        self.addCleanup(self.sim.stop)
        self.ws = Workspace(self.sim.url)
        self.addCleanup(self.ws.cleanup)
        self.ws.write_identities([identity(p) for p in self.t.people])
        self.state = os.path.join(self.ws.dir, "state")

    def test_a_command_creates_the_state_folder_0700_and_the_database_0600(self):
        self.ws.run("status", check=0)
        self.assertEqual(oct(mode_of(self.state)), oct(0o700))
        self.assertEqual(oct(mode_of(os.path.join(self.state, "keywarden.db"))), oct(0o600))

    def run_daemon(self):
        """A running daemon that has written to its store (so the -wal exists)."""
        daemon = DaemonProcess(self.ws)
        self.addCleanup(daemon.stop)
        self.assertTrue(daemon.wait_ready(), daemon.output())
        wal = os.path.join(self.state, "keywarden.db-wal")
        self.assertTrue(wait_until(lambda: os.path.exists(wal), timeout=20), daemon.output())
        return daemon

    def test_the_daemon_keeps_its_database_wal_and_shm_0600(self):
        daemon = self.run_daemon()
        db = os.path.join(self.state, "keywarden.db")
        for name in (db, db + "-wal", db + "-shm"):
            self.assertTrue(os.path.exists(name), name)
            self.assertEqual(oct(mode_of(name)), oct(0o600), name)
        daemon.stop()

    def test_the_daemon_creates_the_state_folder_0700(self):
        daemon = self.run_daemon()
        self.assertEqual(oct(mode_of(self.state)), oct(0o700))
        daemon.stop()


if __name__ == "__main__":
    unittest.main()

"""Hostile HTTP clients for the daemon's overload tests and benchmark (issue 13
item 5): idle and slowloris connections from one loopback address, bursts of
unauthenticated large bodies, and a plain client bound to another loopback
address. Python 3 standard library only. Every loop is bounded in count and
in time."""

import collections
import http.client
import resource
import select
import socket
import threading
import time


def raise_fd_limit(want):
    """Raises this process's soft RLIMIT_NOFILE to at least `want` (within the
    hard limit). Children started afterwards (the daemon) inherit it, as the
    systemd unit gives the service LimitNOFILE=65536."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def vm_kib(pid, field):
    """A field of /proc/PID/status in KiB, e.g. "VmRSS" or "VmHWM"."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def request_from(source, port, method, path, body=None, headers=None, timeout=10):
    """One request from loopback address `source`; returns (status, payload,
    seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        payload = r.read()
        return r.status, payload, time.monotonic() - started
    finally:
        conn.close()


class IdleConnections:
    """`count` connections from `source` that send nothing (or, for every
    `slow_every`-th one, a header dribbled a line at a time that never ends).
    The server may close some of them at once (its per-address cap); keep()
    reconnects those, as an attacker would."""

    def __init__(self, port, count, source="127.0.0.1", slow_every=3, deadline_s=60):
        self.port, self.count, self.source, self.slow_every = port, count, source, slow_every
        self.sockets = []
        self.reconnects = 0
        deadline = time.monotonic() + deadline_s
        for _ in range(count):
            if time.monotonic() > deadline:
                raise TimeoutError(f"opened only {len(self.sockets)} connections in {deadline_s}s")
            self.sockets.append(self._connect())

    def _connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((self.source, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", self.port))
        s.setblocking(False)
        return s

    def drip(self, rounds=1):
        """Sends the next header line on every slow connection."""
        for r in range(rounds):
            for i in range(0, len(self.sockets), self.slow_every):
                try:
                    self.sockets[i].send(b"POST /scim/v2/x/Users HTTP/1.1\r\n" if r == 0 else b"X-Drip: 1\r\n")
                except OSError:
                    pass

    def keep(self, deadline_s=10):
        """Reconnects every connection the server closed; bounded in time."""
        deadline = time.monotonic() + deadline_s
        for i, s in enumerate(self.sockets):
            if time.monotonic() > deadline:
                break
            closed = False
            try:
                closed = s.recv(4096) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed = True
            if closed:
                s.close()
                try:
                    self.sockets[i] = self._connect()
                    self.reconnects += 1
                except OSError:
                    pass

    def close(self):
        for s in self.sockets:
            s.close()
        self.sockets = []


def _status_of(head):
    line = head.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else None


def _one_body(port, source, path, headers, body_size, timeout):
    """Sends a header announcing `body_size` bytes, then the body 64 KiB at a
    time, stopping as soon as an answer arrives (as curl does). Returns
    (outcome, body_bytes_sent): outcome is the status code or an error
    name."""
    deadline = time.monotonic() + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/scim+json\r\n"
                f"Content-Length: {body_size}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) +
                "\r\n").encode()
        s.sendall(head)
        chunk = b"x" * 65536
        sent, answer = 0, b""
        s.setblocking(False)
        while time.monotonic() < deadline:
            want_write = [s] if sent < body_size else []
            readable, writable, _ = select.select([s], want_write, [], max(0.0, deadline - time.monotonic()))
            if readable:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    break
                answer += data
                if b"\r\n" in answer:
                    break
            elif writable:
                try:
                    sent += s.send(chunk[:body_size - sent])
                except BlockingIOError:
                    pass
        status = _status_of(answer) if b"\r\n" in answer else None
        return (status if status is not None else ("timeout" if time.monotonic() >= deadline else "closed")), sent
    except OSError as e:
        return type(e).__name__, 0
    finally:
        s.close()


def body_burst(port, path, headers, count, body_size=1024 * 1024, concurrency=200,
               sources=("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"), deadline_s=120):
    """`count` requests announcing `body_size`-byte bodies, `concurrency` at a
    time, spread over `sources`. Returns (Counter of outcomes, body bytes the
    server let us send, seconds)."""
    outcomes = collections.Counter()
    sent_total = [0]
    lock = threading.Lock()
    next_index = [0]
    started = time.monotonic()
    deadline = started + deadline_s

    def worker(n):
        source = sources[n % len(sources)]
        while time.monotonic() < deadline:
            with lock:
                if next_index[0] >= count:
                    return
                next_index[0] += 1
            outcome, sent = _one_body(port, source, path, headers, body_size,
                                      timeout=max(1.0, min(30.0, deadline - time.monotonic())))
            with lock:
                outcomes[outcome] += 1
                sent_total[0] += sent

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 35)
    return outcomes, sent_total[0], time.monotonic() - started

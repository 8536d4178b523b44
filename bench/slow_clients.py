"""Slow clients against a server on 127.0.0.1, and what a normal client sees meanwhile.

Usage: python bench/slow_clients.py [--counts 4 200] [--probes N] [--candidates NAME ...]
Runs each candidate server command (the Procfile's web line with its worker flags swapped;
PRICE_SOURCE=sample, a new SQLite file, --preload as the Procfile has it) on a free loopback port.
For each count of slow connections it opens them (three in four send complete headers of a
POST /api/v1/forecast or POST /predict with a Content-Length, then the body a few bytes every
2 s; one in four sends its header lines one every 2 s), waits until they are in, then sends
--probes health checks (/api/v1/healthz) and as many forecasts (GET /api/v1/forecast/IBM) from
a normal client, each on a new connection, and prints a table: latency p50 and max, how many
answered 200 within 2 s, what became of the slow connections, and the server's memory (PSS).
Prints tables; never pass/fail. bench/bench_abuse.py imports SlowClients, probe and measure.
"""

from __future__ import annotations

import argparse
import re
import selectors
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadkit import gunicorn, print_table, processes, pss_mb, request  # noqa: E402
from tests.webapp.test_procfile import procfile_web_command  # noqa: E402

HOST = "127.0.0.1"         # never anything but loopback
MAX_CONNECTIONS = 1000     # a bound on what one SlowClients opens
MAX_SECONDS = 300.0        # and on how long it keeps them
ANSWER_WITHIN = 2.0        # the goal, seconds
HEALTH = "/api/v1/healthz"
FORECAST = "/api/v1/forecast/IBM?horizon=5"
BODIES = (  # (path, content type, body): what a body-trickler sends, padded to its length
    ("/api/v1/forecast", "application/json", b'{"ticker": "IBM", "horizon": 5}'),
    ("/predict", "application/x-www-form-urlencoded", b"ticker=IBM&horizon=5"),
)
WORKER_FLAGS = re.compile(r"\s+(--worker-class|-k|--threads|--worker-connections)(=|\s+)\S+")
HEADER = ("slow connections", "candidate", "health p50 ms", "health max ms", "forecast p50 ms",
          "forecast max ms", "answered within 2 s", "slow ones: answered/closed/open", "PSS MB")


class SlowClients:
    """``count`` connections that send a request a few bytes every ``every`` seconds.

    ``headers_share`` of them send their header lines one at a time and never finish; the rest
    send complete headers with a Content-Length of ``body_bytes``, then the body ``step`` bytes
    at a time. Bounded: at most MAX_CONNECTIONS, closed after ``seconds`` (at most MAX_SECONDS)
    or on leaving the ``with`` block. ``outcomes()`` says what became of them.
    """

    def __init__(self, port: int, count: int, headers_share: float = 0.25, every: float = 2.0,
                 step: int = 4, body_bytes: int = 400, seconds: float = 120.0):
        if not 0 <= count <= MAX_CONNECTIONS:
            raise ValueError(f"count must be 0 to {MAX_CONNECTIONS} connections, not {count}")
        self.port, self.count, self.every, self.step = port, count, every, step
        self.seconds = min(seconds, MAX_SECONDS)
        self.header_count = round(count * headers_share)
        self.body_bytes = body_bytes
        self.sockets: dict[socket.socket, list] = {}   # socket -> [bytes left to send, kind]
        self.results: Counter = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def _request(self, index: int) -> tuple[bytes, bytes, str]:
        """(what is sent at once, what is trickled after, kind) for connection ``index``."""
        if index < self.header_count:
            start = f"GET {HEALTH} HTTP/1.1\r\nHost: {HOST}\r\n".encode()
            lines = b"".join(b"X-Slow-%d: a\r\n" % n for n in range(10_000))  # never ends
            return start, lines, "headers"
        path, kind, body = BODIES[index % len(BODIES)]
        body = body.ljust(self.body_bytes) if kind == "application/json" else body + b"&" * (
            self.body_bytes - len(body))
        head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        return head + body[:self.step], body[self.step:], "body"

    def __enter__(self) -> SlowClients:
        for index in range(self.count):
            first, rest, kind = self._request(index)
            try:
                sock = socket.create_connection((HOST, self.port), timeout=3.0)
                sock.sendall(first)
                sock.setblocking(False)
            except OSError:
                self.results["refused"] += 1
                continue
            self.sockets[sock] = [rest, kind]
        self.deadline = time.monotonic() + self.seconds
        self.thread.start()
        return self

    def _trickle(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                selector.register(sock, selectors.EVENT_READ)
            next_send = time.monotonic() + self.every
            while not self.stop.is_set() and time.monotonic() < self.deadline and self.sockets:
                for key, _ in selector.select(timeout=max(0.0, next_send - time.monotonic())):
                    self._read(key.fileobj, selector)
                if time.monotonic() >= next_send:
                    next_send += self.every
                    for sock, state in list(self.sockets.items()):
                        piece, state[0] = state[0][:self.step], state[0][self.step:]
                        try:
                            if piece:
                                sock.send(piece)
                        except OSError:
                            self._done(sock, selector, "closed")

    def _read(self, sock: socket.socket, selector: selectors.BaseSelector) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        self._done(sock, selector, f"answered {match.group(1).decode()}" if match else "closed")

    def _done(self, sock: socket.socket, selector: selectors.BaseSelector, outcome: str) -> None:
        self.results[outcome] += 1
        selector.unregister(sock)
        self.sockets.pop(sock, None)
        sock.close()

    def outcomes(self) -> Counter:
        """How many were answered (by status), closed by the server, refused, or are still open."""
        return self.results + Counter({"open": len(self.sockets)})

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=self.every + 5)
        for sock in list(self.sockets):
            sock.close()


def probe(port: int, paths: list[str], timeout: float = 10.0,
          spacing: float = 0.3) -> list[tuple[str, int | str, float]]:
    """GET each of ``paths`` on a new connection, starting ``spacing`` s apart, all at once.

    Returns (path, status or the failure's name, seconds) in the order given.
    """
    def one(index: int) -> tuple[str, int | str, float]:
        time.sleep(index * spacing)
        status, seconds, _ = request(port, paths[index], None, timeout=timeout)
        return paths[index], status, seconds
    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(one, range(len(paths))))


@dataclass
class Measurement:
    """What a normal client saw while slow connections were open."""
    answers: list[tuple[str, int | str, float]]
    slow: Counter = field(default_factory=Counter)

    def latencies(self, path: str) -> list[float]:
        """Seconds of the answered probes of ``path`` (timeouts count as their timeout)."""
        return [seconds for p, _, seconds in self.answers if p == path]

    def within(self, limit: float = ANSWER_WITHIN) -> tuple[int, int]:
        """(probes answered 200 within ``limit`` s, probes)."""
        return sum(s == 200 and t <= limit for _, s, t in self.answers), len(self.answers)

    def summary(self, path: str) -> tuple[str, str]:
        """p50 and max of ``path``'s probes in ms."""
        values = self.latencies(path)
        if not values:
            return "-", "-"
        return f"{statistics.median(values) * 1000:.0f}", f"{max(values) * 1000:.0f}"


def measure(port: int, count: int, probes: int = 5, settle: float = 3.0,
            timeout: float = 10.0) -> Measurement:
    """Open ``count`` slow connections, wait ``settle`` s, probe health and a forecast."""
    with SlowClients(port, count) as slow:
        time.sleep(settle)  # every slow request's headers (or first header lines) are in
        answers = probe(port, [HEALTH, FORECAST] * probes, timeout=timeout)
        return Measurement(answers, slow.outcomes())


def base_command() -> str:
    """The Procfile's web line without its worker-type flags."""
    return WORKER_FLAGS.sub("", procfile_web_command())


def candidates() -> dict[str, str]:
    """Server commands to compare: today's sync workers, gthread, and the Procfile's line."""
    base = base_command()
    found = {"sync (before)": base}
    for threads in (4, 32, 128):
        found[f"gthread {threads} threads"] = f"{base} --worker-class gthread --threads {threads}"
    found["Procfile (asgi, buffered WSGI)"] = procfile_web_command()
    return found


def slow_table(names: list[str], counts: list[int], probes: int) -> list[tuple]:
    """Rows of the table, one per candidate and count of slow connections."""
    rows = []
    for name in names:
        command = candidates()[name]
        with gunicorn(command) as server:
            for count in counts:
                result = measure(server.port, count, probes)
                master, workers = processes(server.pid)
                mem = pss_mb([master, *workers])
                slow = result.slow
                answered = sum(v for k, v in slow.items() if k.startswith("answered"))
                k, n = result.within()
                rows.append((count, name, *result.summary(HEALTH), *result.summary(FORECAST),
                             f"{k} of {n}", f"{answered}/{slow['closed']}/{slow['open']}",
                             f"{mem:.0f}"))
                print_table(rows[-1:], HEADER)
                time.sleep(2.0)  # let the server close what was left
    return rows


def main() -> None:
    """Print the slow-client table for the chosen candidates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 200])
    parser.add_argument("--probes", type=int, default=5, help="health checks and forecasts each")
    parser.add_argument("--candidates", nargs="+", choices=list(candidates()),
                        default=list(candidates()))
    args = parser.parse_args()
    for name in args.candidates:
        print(f"{name}: {candidates()[name]}")
    rows = slow_table(args.candidates, args.counts, args.probes)
    print(f"\n## Slow clients: what a normal client saw "
          f"(answered: 200 within {ANSWER_WITHIN:.0f} s)")
    print_table(rows, HEADER)


if __name__ == "__main__":
    main()

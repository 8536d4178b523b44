"""Plumbing shared by the benchmarks: gunicorn, /proc readings, a closed-loop client, tables.

It imports neither Keras nor the app, so a load client stays a light process beside the servers
it measures.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import free_port, serve  # noqa: E402
from tests.webapp.test_procfile import children, procfile_web_command  # noqa: E402

APP_MODULE = "Flask_webapp.wsgi:app"
SEED_MODULE = "bench.seed_app:app"
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT", "FB")
# A load test floods from one address on purpose: the servers it starts run without rate
# limits unless a bench asks for them (env={"RATE_LIMITS": "1"}), and say which (limits_said).
NO_LIMITS = {"RATE_LIMITS": "0"}
limits_said: set[str] = set()
CLIENT_TIMEOUT = 30.0    # Heroku's router drops a request after 30 s
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def print_table(rows: list[tuple], header: tuple[str, ...]) -> None:
    """Print ``rows`` under ``header`` as a Markdown table, so it pastes into an issue as is."""
    table = [header] + [tuple(str(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    line = "| " + " | ".join("{:>%d}" % w for w in widths) + " |"
    print(line.format(*header))
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in table[1:]:
        print(line.format(*row))
    sys.stdout.flush()


def commands(app: str | None = None) -> dict[str, str]:
    """The Procfile's web command (or ``app``), and the same flags serving the seed-style app."""
    app = app or procfile_web_command()
    if APP_MODULE not in app:
        raise SystemExit(f"the Procfile's web command does not serve {APP_MODULE}: {app}")
    return {"app": app, "seed": app.replace(APP_MODULE, SEED_MODULE)}


@contextmanager
def gunicorn(command: str, env: dict | None = None, unset: tuple[str, ...] = (),
             log: str | None = None):
    """``command`` on a free loopback port; yields tests.servers' Client with ``port`` set.

    ``unset`` names variables the server must not inherit from this process's environment;
    ``log``, a file that gets a copy of the server's stderr (gunicorn's log, tracebacks).
    """
    if log:  # exec: the shell becomes gunicorn's master, and tee a child of it
        command = f"exec {command} 2> >(tee -a {shlex.quote(log)} >&2)"
    saved = {name: os.environ.pop(name) for name in unset if name in os.environ}
    port = free_port()
    full_env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                **NO_LIMITS, **(env or {})}
    try:
        with serve(command, port, env=full_env, timeout=180) as server:
            server.port = port
            say_limits(full_env["RATE_LIMITS"])
            _settle(server.pid)
            yield server
    finally:
        os.environ.update(saved)


def say_limits(value: str) -> None:
    """Print, once per setting, whether the servers measured run with rate limits."""
    if value not in limits_said:
        limits_said.add(value)
        print(f"(servers run with RATE_LIMITS={value}: rate limits "
              f"{'off, as one address floods them' if value == '0' else 'on'})", flush=True)


def _settle(pid: int, seconds: float = 15.0) -> None:
    # /healthz answers as soon as the first worker is up; wait until the worker count has held
    # still for a second, so the warm-up and the memory readings see every worker.
    deadline = time.monotonic() + seconds
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(processes(pid)[1])
        if now != count:
            count, since = now, time.monotonic()
        elif count and time.monotonic() - since >= 1.0:
            return
        time.sleep(0.1)


def report_logs(folder: str) -> None:
    """Print the lines of each gunicorn log in ``folder`` that report trouble, ten at most."""
    marks = ("[ERROR]", "[CRITICAL]", "[WARNING]", "TIMEOUT", "Traceback", "Error:")
    for log in sorted(Path(folder).glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        bad = [line for line in lines if any(mark in line for mark in marks)]
        print(f"{log}: {len(lines)} lines, {len(bad)} of errors, timeouts or tracebacks"
              + "".join(f"\n  {line}" for line in bad[:10]))


def processes(pid: int) -> tuple[int, list[int]]:
    """The gunicorn master at or under ``pid`` and its workers."""
    found = [p for p in [pid, *children(pid)] if _is_gunicorn(p)]
    if not found:
        return pid, []
    return found[0], [p for p in children(found[0]) if _is_gunicorn(p)]


def _is_gunicorn(pid: int) -> bool:
    try:
        return "gunicorn" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def status_kb(pid: int, field: str) -> int:
    """A numeric field of /proc/<pid>/status (VmRSS, VmHWM, Threads); 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_mb(pids: list[int]) -> float:
    """Proportional set size summed over ``pids``, in MB (shared pages counted once)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _stat_ticks(pid: int, first: int) -> int:
    # Two adjacent fields of stat(5) from field ``first`` (14: utime, stime; 16: cutime, cstime).
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[first - 3]) + int(fields[first - 2])
    except OSError:
        return 0


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of ``pids`` so far (/proc/<pid>/stat utime + stime)."""
    return sum(_stat_ticks(pid, 14) for pid in pids) / CLOCK_TICKS


def worker_cpu_seconds(pid: int) -> float:
    """CPU time of every worker the master at or under ``pid`` has run, live or replaced."""
    # A worker gunicorn replaced has left /proc; the master waited for it: its cutime, cstime.
    master, workers = processes(pid)
    return cpu_seconds(workers) + _stat_ticks(master, 16) / CLOCK_TICKS


class Peaks(threading.Thread):
    """Each worker's largest value of a /proc status field, sampled every ``interval`` s.

    Workers come and go (--max-requests): every one seen is kept, by pid.
    """

    def __init__(self, pid: int, field: str, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.field, self.interval = pid, field, interval
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()

    def stop(self) -> None:
        """Take a last sample and end the thread."""
        self.done.set()
        self.join()

    def run(self) -> None:
        """Sample every ``interval`` s until stopped, then once more."""
        self.sample()
        while not self.done.wait(self.interval):
            self.sample()
        self.sample()

    def sample(self) -> None:
        """Read the field of every current worker, keeping each one's largest."""
        for worker in processes(self.pid)[1]:
            self.peaks[worker] = max(self.peaks.get(worker, 0), status_kb(worker, self.field))


def request(port: int, path: str, body: bytes | None, content_type: str = "application/json",
            timeout: float = CLIENT_TIMEOUT, keep: int = 0) -> tuple[str | int, float, bytes]:
    """One request on a new connection (GET if no body): status, seconds, the answer's start."""
    # The status is the failure's name when there is no answer, "timeout" past ``timeout`` s in
    # all; the answer's start is its first ``keep`` bytes.
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    head = b""
    try:
        connection.request("POST" if body is not None else "GET", path, body,
                           {"Content-Type": content_type, "Connection": "close"})
        answer = connection.getresponse()
        head = answer.read()[:keep]
        status: str | int = answer.status
    except TimeoutError:
        status = "timeout"
    except (OSError, http.client.HTTPException) as exc:
        status = type(exc).__name__
    finally:
        connection.close()
    seconds = time.perf_counter() - start
    if seconds > timeout:
        status = "timeout"
    return status, seconds, head


def post(port: int, path: str, body: bytes | None, content_type: str = "application/json",
         timeout: float = CLIENT_TIMEOUT) -> tuple[str | int, float]:
    """One request on a new connection: (status, or the failure's name; seconds)."""
    return request(port, path, body, content_type, timeout)[:2]


def ok(status: str | int) -> bool:
    """A 2xx answer."""
    return isinstance(status, int) and 200 <= status < 300


def warm_up(server, workers: int) -> str:
    """Forecast every ticker a few times at once so each worker has loaded what it needs."""
    start = time.perf_counter()
    bodies = [json.dumps({"ticker": t, "horizon": 1}).encode()
              for t in TICKERS for _ in range(2 * max(1, workers))]
    with ThreadPoolExecutor(2 * max(1, workers)) as pool:
        statuses = Counter(s for s, _ in pool.map(
            lambda body: post(server.port, "/api/v1/forecast", body), bodies))
    return (f"warm-up: {len(bodies)} requests in {time.perf_counter() - start:.1f} s, "
            f"answers {dict(statuses)}")


@dataclass
class Run:
    """The outcome of one closed-loop run."""

    clients: int
    wall: float
    statuses: Counter
    latencies: list[float]   # seconds, answered (2xx) requests only
    client_cpu: float        # seconds of this process's CPU during the run
    load: float = 0.0        # the machine's 1-minute load average at the end

    def __post_init__(self) -> None:
        self.answered = len(self.latencies)          # requests answered 2xx
        self.sent = sum(self.statuses.values())      # whatever became of them
        self.rate = self.answered / self.wall if self.wall else 0.0   # 2xx answers a second

    def percentile_ms(self, q: float) -> float | None:
        """The q-th percentile of the 2xx latencies in ms; None if nothing was answered."""
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else None

    def errors(self) -> str:
        """Non-2xx outcomes, counted by status or failure: "0" when there are none."""
        bad = {str(k): n for k, n in self.statuses.items() if not ok(k)}
        if not bad:
            return "0"
        return f"{sum(bad.values())} (" + ", ".join(f"{k} {n}" for k, n in bad.items()) + ")"


def closed_loop(port: int, bodies: list[bytes], clients: int, seconds: float) -> Run:
    """``clients`` threads, each sending its next request when the last is answered.

    New requests stop after ``seconds`` or when ``bodies`` run out; the ones in flight then
    finish (30 s at most), and the wall time includes them.
    """
    lock = threading.Lock()
    queue = iter(bodies)
    statuses: Counter = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        mine = []
        while time.monotonic() < deadline:
            with lock:
                body = next(queue, None)
            if body is None:
                break
            mine.append(post(port, "/api/v1/forecast", body))
        with lock:
            statuses.update(status for status, _ in mine)
            latencies.extend(s for status, s in mine if ok(status))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    cpu = time.process_time()  # this process's user + system CPU
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(clients, time.perf_counter() - start, statuses, latencies,
               time.process_time() - cpu, os.getloadavg()[0])

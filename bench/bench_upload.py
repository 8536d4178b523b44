"""Large uploads: two concurrent 4.9 MB CSV forecasts against the Procfile's gunicorn command.

Usage: python bench/bench_upload.py [--bytes N] [--uploads N] [--interval S]
Starts the Procfile's `web:` command on a loopback port (PRICE_SOURCE=sample), then sends
--uploads concurrent POST /api/v1/forecast (multipart field "file", horizon 4) of one CSV in
Yahoo's export layout (Date,Open,High,Low,Close,Adj Close,Volume; ~100k daily rows, under the
server's 5,000,000-byte cap) while a third thread polls GET /api/v1/healthz every --interval
seconds. Prints the uploads' statuses and times, the health checks' latency during them, and each
worker's peak (VmHWM) and resident memory, then the gunicorn log's error lines. Prints tables;
never pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadkit import (CLIENT_TIMEOUT, Peaks, commands, gunicorn, ok, post,  # noqa: E402
                     print_table, processes, report_logs, request, status_kb, warm_up)

MAX_UPLOAD = 5_000_000   # the app's MAX_CONTENT_LENGTH, for the whole request body
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def yahoo_csv(max_bytes: int, seed: int = 0) -> tuple[bytes, int]:
    """A random-walk price history in Yahoo's export layout, at most ``max_bytes``; and its rows.

    Every calendar day, ending 2024-12-31: 100k weekdays would start before 1677, the first
    day pandas can hold. The oldest rows are dropped to fit the size.
    """
    rng = np.random.default_rng(seed)
    n = max_bytes // 40  # more rows than fit; the oldest are cut below
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n)))
    spread = np.abs(rng.normal(0.0, 0.006, n))
    high, low = close * (1 + spread), close * (1 - spread)
    open_ = low + (high - low) * rng.uniform(size=n)
    volume = rng.integers(100_000, 1_000_000, n)
    dates = pd.date_range(end="2024-12-31", periods=n, freq="D").strftime("%Y-%m-%d")
    lines = [f"{d},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{c:.2f},{v}\n"
             for d, o, h, lo, c, v in zip(dates, open_, high, low, close, volume)]
    budget = max_bytes - len(HEADER)
    sizes = np.cumsum([len(line) for line in reversed(lines)])
    keep = int(np.searchsorted(sizes, budget, side="right"))
    return (HEADER + "".join(lines[n - keep:])).encode(), keep


def multipart(data: bytes, horizon: int) -> tuple[bytes, str]:
    """A multipart/form-data body with the fields horizon and file, and its content type."""
    boundary = "bench" + uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="horizon"\r\n\r\n'
            f'{horizon}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="upload.csv"\r\nContent-Type: text/csv\r\n\r\n').encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Watcher(Peaks):
    """Polls the health check every ``interval`` s and the workers' peak memory, until stopped."""

    def __init__(self, server, interval: float):
        super().__init__(server.pid, "VmHWM", interval)   # peaks: worker pid -> VmHWM, kB
        self.port = server.port
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()

    def run(self) -> None:
        """Sample the memory, check the health, wait; until stopped, then sample once more."""
        while not self.done.is_set():
            self.sample()
            status, seconds = post(self.port, "/api/v1/healthz", None)
            self.statuses[status] += 1
            self.latencies.append(seconds)
            self.done.wait(self.interval)
        self.sample()


def main() -> None:
    """Run the uploads beside the health checks and print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=4_900_000, help="CSV size (under 5 MB)")
    parser.add_argument("--uploads", type=int, default=2, help="concurrent uploads")
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between checks")
    parser.add_argument("--timeout", type=float, default=CLIENT_TIMEOUT,
                        help="seconds an upload may take (default 30, Heroku's router)")
    args = parser.parse_args()
    data, rows = yahoo_csv(args.bytes)
    body, content_type = multipart(data, args.horizon)
    print(f"CSV: {len(data):,} bytes, {rows:,} daily rows; request body {len(body):,} bytes "
          f"(cap {MAX_UPLOAD:,})", flush=True)
    logs = tempfile.mkdtemp(prefix="bench_upload-")
    with gunicorn(commands()["app"], log=f"{logs}/app.log") as server:
        workers = processes(server.pid)[1]
        print(warm_up(server, len(workers)), flush=True)
        before = {pid: (status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")) for pid in workers}
        watcher = Watcher(server, args.interval)
        watcher.start()
        time.sleep(0.5)  # a few checks before the uploads, for comparison
        results: list[tuple] = [()] * args.uploads

        def send(i: int) -> None:
            status, seconds, answer = request(server.port, "/api/v1/forecast", body,
                                              content_type, args.timeout, keep=120)
            results[i] = status, seconds, answer.decode(errors="replace")

        threads = [threading.Thread(target=send, args=(i,)) for i in range(args.uploads)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        # Read right away: a worker gunicorn restarts (max-requests, timeout) loses its peak.
        after_workers = processes(server.pid)[1]
        after = {pid: (status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS"))
                 for pid in after_workers}
        watcher.stop()
        time.sleep(1.0)  # a worker gunicorn timed out answers 500 first, then exits
        final = set(processes(server.pid)[1])
        status, _ = post(server.port, "/api/v1/forecast", b'{"ticker": "IBM", "horizon": 4}')

    print(f"\n## {args.uploads} concurrent uploads (all done in {elapsed:.1f} s)")
    print_table([(i + 1, s, f"{sec:.2f}", " ".join(answer.replace("|", "/").split())[:70])
                 for i, (s, sec, answer) in enumerate(results)],
                ("upload", "status", "seconds", "answer starts"))
    checks = np.array(watcher.latencies) * 1000
    bad = sum(n for s, n in watcher.statuses.items() if not ok(s))
    print(f"\n## GET /api/v1/healthz every {args.interval} s, from 0.5 s before the uploads to "
          f"their end")
    print_table([(len(checks), f"{np.median(checks):.1f}", f"{checks.max():.0f}", bad)],
                ("checks", "p50 ms", "worst ms", "errors"))
    print("\n## Worker memory (MB)")
    rows_out = []
    for pid in sorted(set(before) | set(after) | set(watcher.peaks)):
        hwm0, rss0 = before.get(pid, (0, 0))
        hwm1, rss1 = after.get(pid, (0, 0))
        state = "alive" if pid in final else "exited, replaced"
        rows_out.append((pid, state, f"{rss0 / 1024:.0f}", f"{hwm0 / 1024:.0f}",
                         f"{max(hwm1, watcher.peaks.get(pid, 0)) / 1024:.0f}",
                         f"{rss1 / 1024:.0f}" if pid in after else "-"))
    print_table(rows_out, ("worker", "state 1 s later", "RSS before", "VmHWM before",
                           "VmHWM after uploads", "RSS after uploads"))
    print(f"\na forecast after the uploads answered {status}")
    print("\n## gunicorn log")
    report_logs(logs)


if __name__ == "__main__":
    main()

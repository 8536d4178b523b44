"""Serving under load: the Procfile's gunicorn command against the seed's way, closed loop.

Usage: python bench/bench_load.py [--seconds S] [--clients 8 50] [--requests N]
                                  [--cpu-requests N] [--table-runs N] [--blas] [--no-seed]
                                  [--databases sqlite postgresql none] [--quick]
                                  [--command "gunicorn Flask_webapp.wsgi:app ..."]
Starts the Procfile's `web:` command on a loopback port (PRICE_SOURCE=sample), then the same
gunicorn line serving bench/seed_app.py (the seed's way: load the Keras model and scaler for
every request, one model.predict per forecast day). Each gets the same shuffled list of distinct
forecast requests (sample tickers x horizons 1-30 x as_of days with 300 trading days of
history before them) from N client threads, each sending its next request once the last is
answered, for S seconds (and at most --requests). A request that takes over 30 s (Heroku's
router) or answers non-2xx is an error. Then: memory (PSS of master and workers), worker CPU
per uncached request, the time tables.build takes for IBM's 13 years, and with --blas the
Procfile command under three OpenBLAS thread settings, with PRELOAD_TABLES=0 so that each
worker builds the table blocks it reads (batched forward passes, where BLAS threads matter).
--databases runs the app once per database, each a new one: a SQLite file ("sqlite", the
default), a throwaway PostgreSQL server with fsync on ("postgresql", Debian's package, started as
the tests start it), or none ("none": DATABASE_URL names a closed port, so the app runs as it
does when its database is down: no price store, no ledger). Every request is a distinct forecast
of the bundled sample: a replay, which the ledger does not store (recomputed on demand), so after
each run the ledger is counted to show it stayed empty; bench_abuse.py measures live entries.
Prints tables and the gunicorn logs' error lines; never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from stockPredictor.data.sample import from_sample

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadkit import (TICKERS, Peaks, Run, closed_loop, commands, cpu_seconds,  # noqa: E402
                     gunicorn, ok, post, print_table, processes, pss_mb, report_logs, status_kb,
                     warm_up, worker_cpu_seconds)

MIN_HISTORY = 300        # trading days before an as_of, so each forecast has a full track record
MAX_HORIZON = 30
SHUFFLE_SEED = 20130301
LOAD_HEADER = ("server", "clients", "wall s", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
               "errors", "client CPU ms/req", "client CPU % of a core",
               "workers replaced", "load avg")


def build_requests(count: int, seed: int = SHUFFLE_SEED) -> tuple[list[bytes], list[str]]:
    """``count`` distinct forecast bodies, shuffled, and notes on tickers left out."""
    rng = random.Random(seed)
    days, notes = {}, []
    for ticker in TICKERS:
        index = from_sample(ticker).index
        if len(index) <= MIN_HISTORY:
            notes.append(f"{ticker} left out: {len(index)} trading days, fewer than the "
                         f"{MIN_HISTORY} needed before an as_of")
            continue
        days[ticker] = index[MIN_HISTORY:].strftime("%Y-%m-%d")
    share = -(-count // len(days))
    bodies = []
    for ticker, dates in days.items():
        # Distinct (as_of, horizon) pairs drawn uniformly: as_of days spread over the years.
        pairs = len(dates) * MAX_HORIZON
        for pick in rng.sample(range(pairs), min(share, pairs)):
            as_of, horizon = divmod(pick, MAX_HORIZON)
            bodies.append({"ticker": ticker, "horizon": horizon + 1, "as_of": dates[as_of]})
    rng.shuffle(bodies)
    return [json.dumps(body).encode() for body in bodies[:count]], notes


def run_row(name: str, run: Run, restarts: int) -> tuple:
    """A row of the load table."""
    def ms(value):
        return "-" if value is None else f"{value:.0f}"
    client_ms = 1000 * run.client_cpu / run.sent if run.sent else 0.0
    return (name, run.clients, f"{run.wall:.1f}", run.answered, f"{run.rate:.1f}",
            ms(run.percentile_ms(50)), ms(run.percentile_ms(95)), ms(run.percentile_ms(99)),
            run.errors(), f"{client_ms:.2f}", f"{100 * run.client_cpu / run.wall:.0f}",
            restarts, f"{run.load:.1f}")


def load_runs(name: str, server, bodies: list[bytes], clients: list[int],
              seconds: float) -> tuple[list[tuple], dict[int, Run]]:
    """Closed-loop runs at each client count against one server: rows and runs."""
    rows, runs = [], {}
    for count in clients:
        before = set(processes(server.pid)[1])
        run = closed_loop(server.port, bodies, count, seconds)
        after = set(processes(server.pid)[1])
        rows.append(run_row(name, run, len(before - after)))
        runs[count] = run
        print(f"  {name}, {count} clients: {run.answered} answered in {run.wall:.1f} s, "
              f"errors {run.errors()}", flush=True)
    return rows, runs


def cpu_per_request(name: str, server, bodies: list[bytes], seconds: float) -> tuple:
    """Worker CPU per request for distinct requests sent one at a time, after the warm-up."""
    workers = processes(server.pid)[1]
    cpu = cpu_seconds(workers)
    start = time.perf_counter()
    deadline = time.monotonic() + seconds
    statuses: Counter = Counter()
    for body in bodies:
        if time.monotonic() > deadline:
            break
        statuses[post(server.port, "/api/v1/forecast", body)[0]] += 1
    wall = time.perf_counter() - start
    used = cpu_seconds(workers) - cpu
    sent = sum(statuses.values())
    restarted = len(set(workers) - set(processes(server.pid)[1]))
    bad = sum(n for s, n in statuses.items() if not ok(s))
    return (name, sent, f"{1000 * used / sent:.1f}", f"{1000 * wall / sent:.1f}", bad,
            restarted)


def memory_row(name: str, server) -> tuple:
    """PSS of master and workers summed, and each worker's resident and peak memory."""
    master, workers = processes(server.pid)
    rss = ", ".join(f"{status_kb(p, 'VmRSS') / 1024:.0f}" for p in workers)
    hwm = ", ".join(f"{status_kb(p, 'VmHWM') / 1024:.0f}" for p in workers)
    return (name, 1 + len(workers), f"{pss_mb([master, *workers]):.0f}", rss, hwm)


def serve_and_load(args, name: str, command: str, bodies: list[bytes], cpu_bodies: list[bytes],
                   logs: str, env: dict | None = None):
    """Start one server, warm it, measure CPU per request, run the load, read its memory."""
    print(f"{name}: {command}", flush=True)
    with gunicorn(command, env=env, log=f"{logs}/{name}.log") as server:
        print("  " + warm_up(server, len(processes(server.pid)[1])), flush=True)
        cpu = cpu_per_request(name, server, cpu_bodies, args.seconds)
        rows, runs = load_runs(name, server, bodies, args.clients, args.seconds)
        memory = memory_row(name, server)
    return rows, runs, cpu, memory


DATABASES = ("sqlite", "postgresql", "none")


def database_url(kind: str, stack: ExitStack) -> str:
    """A new database of ``kind`` for one run; ``stack`` stops a PostgreSQL server after it."""
    from tests.postgres import postgres_server, unavailable
    from tests.servers import free_port

    if kind == "sqlite":
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-db-"))
        return f"sqlite:///{folder}/bench.db"
    if kind == "postgresql":
        reason = unavailable()
        if reason:
            raise SystemExit(f"--databases postgresql: {reason}")
        return stack.enter_context(postgres_server(durable=True))
    # Nothing listens there: the app starts with its database down, as without one.
    return f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1"


def ledger_row(name: str, url: str, answered: int) -> tuple:
    """What the ledger holds after a run: entries and rows (replays: none), the database's size."""
    from sqlalchemy import func, select
    from stockPredictor.store import engine_for
    from stockPredictor.store.models import ForecastRow, LedgerForecast

    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            entries = connection.execute(select(func.count()).select_from(
                LedgerForecast)).scalar()
            rows = connection.execute(select(func.count()).select_from(ForecastRow)).scalar()
        size = _size_mb(url, engine)
    finally:
        engine.dispose()
    return (name, answered, entries, rows, f"{size:.1f}")


def _size_mb(url: str, engine) -> float:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            "select pg_database_size(current_database())").scalar() / 1e6


def table_rows(runs: int) -> list[tuple]:
    """Seconds tables.build takes over IBM's bundled prices, per committed model, from cold."""
    from stockPredictor.forecast import tables
    from stockPredictor.lru import ByteBoundedLRU
    from stockPredictor.model.registry import Registry
    from threadpoolctl import threadpool_limits

    frame = from_sample("IBM")
    span = f"{frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d}"
    rows = []
    for name, artifact in Registry().load().artifacts.items():
        # Each call gets an empty cache of its own: the process-wide one would time a cache hit.
        def cold(artifact=artifact):
            return tables.build(frame, artifact, cache=ByteBoundedLRU(1 << 30))
        try:
            timings = []
            for limit in (1, None):  # one BLAS thread as in a worker, then the library default
                with threadpool_limits(limits=limit, user_api="blas"):
                    timings.append(_median_s(cold, runs))
            table = cold()
        except Exception as exc:
            rows.append((name, span, len(frame), f"failed: {type(exc).__name__}: {exc}"[:80],
                         "-", "-"))
            continue
        # table.built: blocks computed, not taken from a cache
        rows.append((name, span, len(frame), f"{timings[0]:.3f}", f"{timings[1]:.3f}",
                     table.built))
    return rows


def _median_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# Settings a variant must not inherit from this shell: OpenBLAS's and the app's.
BLAS_UNSET = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "BLAS_THREADS",
              "PRELOAD_TABLES", "TABLE_CACHE_MB")
BLAS_VARIANTS = (
    ("(a) as is: BLAS_THREADS unset (threadpoolctl in the app)", {}),
    ("(b) BLAS_THREADS=0, OPENBLAS_NUM_THREADS=1", {"BLAS_THREADS": "0",
                                                    "OPENBLAS_NUM_THREADS": "1"}),
    ("(c) BLAS_THREADS=0, no OPENBLAS_NUM_THREADS", {"BLAS_THREADS": "0"}),
)


def blas_rows(args, command: str, bodies: list[bytes], logs: str) -> list[tuple]:
    """The Procfile command under three OpenBLAS settings, its workers building their tables."""
    rows = []
    for i, (label, env) in enumerate(BLAS_VARIANTS):
        print(f"blas {label}", flush=True)
        # No preloaded tables and no warm-up: the run starts with every worker's cache empty.
        with gunicorn(command, env={**env, "PRELOAD_TABLES": "0"}, unset=BLAS_UNSET,
                      log=f"{logs}/blas-{'abc'[i]}.log") as server:
            first = set(processes(server.pid)[1])
            cpu = worker_cpu_seconds(server.pid)
            peaks = Peaks(server.pid, "Threads")
            peaks.start()
            run = closed_loop(server.port, bodies, args.blas_clients, args.seconds)
            peaks.stop()
            used = worker_cpu_seconds(server.pid) - cpu
            master, workers = processes(server.pid)
            threads = ", ".join(str(status_kb(p, "Threads")) for p in workers)
            in_master = status_kb(master, "Threads")
        p99 = run.percentile_ms(99)
        rows.append((label, run.clients, run.answered, f"{run.rate:.1f}",
                     "-" if p99 is None else f"{p99:.0f}", run.errors(),
                     len(first - set(workers)), in_master, threads,
                     f"{max(peaks.peaks.values(), default=0)} ({len(peaks.peaks)} workers seen)",
                     f"{used:.1f}", f"{1000 * used / max(1, run.sent):.1f}", f"{run.load:.1f}"))
    return rows


def parse_args() -> argparse.Namespace:
    """Command-line options; --quick shortens everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="length of each run (default 20; quick 5)")
    parser.add_argument("--clients", type=int, nargs="+", help="client counts (default 8 50)")
    parser.add_argument("--requests", type=int,
                        help="distinct requests, the cap on each run (default 4000; quick 1000)")
    parser.add_argument("--cpu-requests", type=int,
                        help="requests sent one at a time for CPU per request (default 500)")
    parser.add_argument("--table-runs", type=int, help="tables.build runs per model (default 5)")
    parser.add_argument("--blas", action="store_true", help="compare OpenBLAS thread settings")
    parser.add_argument("--blas-clients", type=int, default=8)
    parser.add_argument("--no-seed", action="store_true", help="skip the seed-style server")
    parser.add_argument("--databases", nargs="+", choices=DATABASES, default=["sqlite"],
                        help="run the app on each: a new SQLite file, a throwaway PostgreSQL "
                             "server, or none (the database down); default sqlite")
    parser.add_argument("--quick", action="store_true", help="short runs (5 s, fewer requests)")
    parser.add_argument("--command", help="serve this gunicorn line instead of the Procfile's "
                        "web command (bench/slow_clients.py compares worker types with it)")
    args = parser.parse_args()
    quick = {"seconds": 5.0, "clients": [8, 50], "requests": 1000, "cpu_requests": 100,
             "table_runs": 3}
    full = {"seconds": 20.0, "clients": [8, 50], "requests": 4000, "cpu_requests": 500,
            "table_runs": 5}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> None:
    """Run every section and print its table."""
    args = parse_args()
    bodies, notes = build_requests(args.requests + args.cpu_requests)
    load_bodies, cpu_bodies = bodies[:args.requests], bodies[args.requests:]
    servers = commands(args.command)
    print(f"{len(bodies)} distinct forecast requests ({len(load_bodies)} for the load runs, "
          f"{len(cpu_bodies)} for CPU per request); {os.cpu_count()} CPUs; "
          f"{args.seconds:.0f} s per run; load average before: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    for note in notes:
        print(note)
    logs = tempfile.mkdtemp(prefix="bench_load-")
    results, ledgers = {}, []
    for kind in args.databases:
        name = f"app ({kind})"
        with ExitStack() as stack:
            url = database_url(kind, stack)
            results[name] = serve_and_load(args, name, servers["app"], load_bodies, cpu_bodies,
                                           logs, env={"DATABASE_URL": url})
            # Stopped: each worker wrote what it still held at exit.
            if kind != "none":
                answered = sum(run.answered for run in results[name][1].values())
                ledgers.append(ledger_row(name, url, answered))
    if not args.no_seed:
        results["seed"] = serve_and_load(args, "seed", servers["seed"], load_bodies, cpu_bodies,
                                         logs)
    table_build = table_rows(args.table_runs)
    blas = blas_rows(args, servers["app"], load_bodies, logs) if args.blas else None

    print("\n## Closed-loop load (same request list for both; latencies of 2xx answers; "
          "req/s = 2xx answers / wall time, in-flight requests included; workers replaced: "
          "by gunicorn's --max-requests or timeouts; load avg: the machine's 1-minute load "
          "average after the run, other work included)")
    print_table([row for rows, *_ in results.values() for row in rows], LOAD_HEADER)
    low, high = min(args.clients), max(args.clients)
    print()
    for kind in args.databases:
        app_runs = results[f"app ({kind})"][1]
        if "seed" in results and results["seed"][1][low].rate:
            print(f"throughput app ({kind})/seed at {low} clients: "
                  f"{app_runs[low].rate / results['seed'][1][low].rate:.1f}x (goal: at least 50x)")
        p99 = app_runs[high].percentile_ms(99)
        print(f"app ({kind}) p99 at {high} clients: {'-' if p99 is None else f'{p99:.0f} ms'}, "
              f"errors {app_runs[high].errors()} (goal: at most 1000 ms with 0 errors)")
    if ledgers:
        print("\n## The ledger after each run (every load request a distinct replay of the "
              "sample, which the ledger does not store; size: the database's, prices not "
              "fetched as the sample is read from the package)")
        print_table(ledgers, ("server", "load answers", "ledger entries", "forecast rows",
                              "database MB"))

    print("\n## Memory after the load (PSS summed over master and workers; MB)")
    print_table([result[3] for result in results.values()],
                ("server", "processes", "PSS MB", "RSS MB per worker", "VmHWM MB per worker"))

    print("\n## Worker CPU per request (distinct requests one at a time, after the warm-up; "
          "goal for the app: at most 5 ms)")
    print_table([result[2] for result in results.values()],
                ("server", "requests", "worker CPU ms/req", "wall ms/req", "errors",
                 "workers replaced"))

    print(f"\n## tables.build over IBM's bundled prices (median of {args.table_runs}; "
          f"goal: at most 0.5 s)")
    print_table(table_build, ("model", "prices", "rows", "s (1 BLAS thread)",
                              "s (default BLAS threads)", "blocks built"))

    if blas is not None:
        print(f"\n## OpenBLAS threads, the Procfile command with PRELOAD_TABLES=0, no warm-up "
              f"({args.seconds:.0f} s or {len(load_bodies)} requests: each worker builds the "
              f"table blocks it reads; threads from /proc/<pid>/status, OpenBLAS's pool does not "
              f"survive the fork and restarts in a worker only for a call big enough to use it; "
              f"worker CPU: every worker's, replaced ones included)")
        print_table(blas, ("variant", "clients", "requests", "req/s", "p99 ms", "errors",
                           "workers replaced", "threads in master", "threads per worker after",
                           "most threads in a worker during", "worker CPU s",
                           "worker CPU ms/req", "load avg"))
    print("\n## gunicorn logs")
    report_logs(logs)


if __name__ == "__main__":
    main()

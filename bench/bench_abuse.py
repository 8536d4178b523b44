"""Under hostile traffic: each attack of issue 20 against the Procfile server, on SQLite and
PostgreSQL, with what a normal client saw, how the database grew and what the ledger lost.

Usage: python bench/bench_abuse.py [--databases sqlite postgresql] [--attacks NAME ...] [--quick]
                                   [--before PATH] [--server-env NAME=VALUE ...] [--note TEXT]
Runs the `web:` line of the checkout's Procfile (this one, or --before PATH: an older checkout,
run with this venv and its own package) on 127.0.0.1, on a new SQLite file and on a new database
of a throwaway PostgreSQL 15 cluster (Debian's, fsync on). Prices come from a fake Yahoo
(bench/fakeyahoo, PRICE_SOURCE=yahoo: no network) so that forecasts are live and recorded,
except in the hanging-Yahoo attack (PRICE_SOURCE=auto, https_proxy at a loopback listener that
accepts and never answers). The attacks (--attacks picks some; --quick halves their durations):

  slow      200 connections (bench/slow_clients.py): 1 in 4 send header lines, the rest a
            body, a few bytes every 2 s (30 s)
  hang      8 concurrent forecasts of unknown tickers while Yahoo hangs (40 s)
  upload    4 clients send distinct ~4.9 MB CSV forecasts from 32 addresses (25 s), with
            UPLOAD_BUDGET_MB=50 (default 200) so that the flood reaches the budget
  crawl     8 clients ask distinct ticker x horizon x as_of x level forecasts (30 s)
  rate      one client (one address) sends one forecast as fast as answered (15 s)
  full      the database refuses writes: SQLite's max_page_count 256 kB past its empty
            tables; PostgreSQL's database made read-only; 8 clients of live forecasts (25 s)
  pgstop    PostgreSQL stopped for 10 s under 4 clients of live forecasts (30 s)
  kill      kill -9 of a worker 3 times under 4 clients of live forecasts (30 s)
  crosssite POSTs with Origin: https://evil.example (page form, API upload, API JSON), and 20
            cross-site GETs of forecast pages
  listing   the ledger listing (limit=200) first and deepest page, on ~20k seeded entries

Meanwhile a normal client asks for the health check and an IBM forecast every half second
(10 s timeout each). Each row: the attacker's requests and answers, the normal client's p99 and
errors, the database's growth (SQLite's pages, i.e. its file once the WAL is written back;
pg_database_size) per attacker request and in
all, the time an attacker would take to fill 1 GB at the growth rate of the attack's second half
("never" when the second half grew under 64 kB: growth stopped at a bound), and for the attacks
of live forecasts the ledger entries lost (tickers answered live, missing from the ledger once
its writers settle). Prints tables and the gunicorn logs' error lines; never pass/fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import abuse_attacks as attacks  # noqa: E402
import abuse_client as client  # noqa: E402
import abuse_env as env  # noqa: E402
import abuse_seed  # noqa: E402
from loadkit import print_table, processes, report_logs  # noqa: E402

ATTACKS = ("slow", "hang", "upload", "crawl", "rate", "full", "pgstop", "kill", "crosssite",
           "listing")
SHARED = ("crosssite", "upload", "crawl", "rate", "pgstop", "kill", "listing")  # one server
HEADER = ("attack", "attacker requests", "answers", "health p99 ms", "health errors",
          "forecast p99 ms", "forecast errors", "growth B/req", "growth MB", "1 GB in",
          "ledger lost", "notes")
FAKE = {"BENCH_FAKE_YAHOO": "1", "PRICE_SOURCE": "yahoo"}
# Lowered so that the upload flood reaches the total budget within its 25 s (the default is
# 200 MB); a setting the old code does not read is harmless to it. --server-env overrides it.
BOUNDS = {"UPLOAD_BUDGET_MB": "50"}
LEDGER_ENTRIES = 20_000


class Bench:
    """One database kind's attacks against one checkout."""

    def __init__(self, args, kind: str, logs: Path):
        self.args, self.kind, self.logs = args, kind, logs
        self.tree = Path(args.before or env.ROOT).resolve()
        self.rows: list[tuple] = []
        self.tickers = itertools.count(1)  # fake-Yahoo tickers X1, X2...: each one new
        self.pg = env.Postgres() if kind == "postgresql" else None
        self.folder = tempfile.TemporaryDirectory(prefix="abuse-db-")

    def seconds(self, full: float) -> float:
        """An attack's duration: halved by --quick."""
        return full / 2 if self.args.quick else full

    def new_url(self, name: str) -> str:
        """A new, empty database for one server."""
        if self.pg:
            return self.pg.new_database()
        return f"sqlite:///{self.folder.name}/{name}.db"

    def server(self, name: str, url: str, extra: dict):
        """The checkout's Procfile server on ``url``, its log in the logs folder."""
        settings = {**BOUNDS, **dict(item.split("=", 1) for item in self.args.server_env)}
        return env.server(self.tree, url, {**extra, **settings},
                          self.logs / f"{self.kind}-{name}.log")

    def close(self) -> None:
        """Stop PostgreSQL and remove the files."""
        if self.pg:
            self.pg.close()
        self.folder.cleanup()

    # --- one attack: the normal client, the sizes, the ledger ---------------------------------

    def measure(self, name: str, server, url: str, attack) -> None:
        """Run ``attack()`` with the normal client and the size sampler beside it; add a row."""
        print(f"  {self.kind}: {name}...", flush=True)
        normal, sizes = client.Normal(server.port), env.Sizes(url)
        before = env.size_bytes(url)
        sizes.start()
        normal.start()
        started = time.monotonic()
        try:
            outcome = attack()
        except Exception as exc:  # one attack's failure is a row, not the end of the bench
            outcome = client.Outcome(0, Counter(), f"failed: {type(exc).__name__}: {exc}"[:160])
        normal.stop()
        sizes.stop()
        after = env.size_bytes(url)
        lost = self.lost(url, outcome.live) if outcome.live is not None else "-"
        grown = None if before is None or after is None else after - before
        per = "-" if grown is None or not outcome.sent else f"{grown / outcome.sent:,.0f}"
        notes = outcome.notes
        if name in ("full", "pgstop", "kill"):
            notes += f"; health checks said {client.counts(normal.databases())}"
            dropped = normal.dropped()
            notes += "" if dropped is None else f"; the ledger writer said {dropped} dropped"
            named = sum(b"127.0.0.1" in answer.body for answer in normal.health)
            notes += f"; {named} of them named the database's host" if named else ""
        self.rows.append((name, outcome.sent, client.counts(outcome.statuses),
                          normal.p99(normal.health), normal.errors(normal.health),
                          normal.p99(normal.forecasts), normal.errors(normal.forecasts), per,
                          "-" if grown is None else f"{grown / 1e6:.2f}", sizes.fill_time(),
                          lost, notes.strip("; ")))
        print(f"    {time.monotonic() - started:.0f} s: {self.rows[-1]}", flush=True)

    def lost(self, url: str, served: set, wait: float = 45.0) -> str:
        """Tickers answered live and missing from the ledger once it holds still for 5 s."""
        deadline, seen, since = time.monotonic() + wait, None, time.monotonic()
        while time.monotonic() < deadline:
            found = env.live_tickers(url)
            if found != seen:
                seen, since = found, time.monotonic()
            elif time.monotonic() - since >= 5:
                break
            time.sleep(1)
        if seen is None:
            return "ledger unreadable"
        missing = len(served - seen)
        share = 100 * missing / len(served) if served else 0.0
        return f"{missing} of {len(served)} ({share:.1f}%)"

    # --- the servers, each with the attacks that run on it ------------------------------------

    def run(self) -> list[tuple]:
        """Every chosen attack; the table's rows."""
        chosen = self.args.attacks
        if "slow" in chosen:
            url = self.new_url("slow")
            with self.server("slow", url, FAKE) as server:
                self.warm(server)
                self.measure("slow", server, url, lambda: attacks.slow_clients(
                    server.port, self.seconds(30)))
        if "hang" in chosen:
            self.hang()
        if "full" in chosen:
            self.full()
        if any(name in chosen for name in SHARED):
            self.shared(chosen)
        return self.rows

    def warm(self, server) -> None:
        """A few forecasts of the sample tickers, so that every worker has loaded them."""
        for ticker in attacks.SAMPLE * 2:
            client.forecast(server.port, {"ticker": ticker, "horizon": 5}, "203.0.113.250")

    def hang(self) -> None:
        hanging = attacks.Hanging()
        proxy = f"http://127.0.0.1:{hanging.port}"
        try:
            url = self.new_url("hang")
            extra = {"PRICE_SOURCE": "auto", "https_proxy": proxy, "HTTPS_PROXY": proxy,
                     "http_proxy": proxy, "HTTP_PROXY": proxy}
            with self.server("hang", url, extra) as server:
                self.measure("hang", server, url, lambda: attacks.hanging_yahoo(
                    server.port, self.seconds(40)))
        finally:
            hanging.close()

    def full(self) -> None:
        url, extra = self.new_url("full"), dict(FAKE)
        if not self.pg:
            env.migrate(self.tree, url)
            path = env.sqlite_path(url)
            pages = path.stat().st_size // 4096 + 64  # 256 kB past the empty tables
            extra.update(BENCH_SQLITE_FILE=str(path), BENCH_SQLITE_MAX_PAGES=str(pages))
        with self.server("full", url, extra) as server:
            self.warm(server)
            if self.pg:  # every new session read-only; the pooled ones cut off
                env.execute(url, "ALTER DATABASE " + url.rsplit("/", 1)[1]
                            + " SET default_transaction_read_only = on")
                env.execute(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            how = ("PostgreSQL database read-only" if self.pg else
                   f"SQLite max_page_count {pages} ({pages * 4} kB)")
            self.measure("full", server, url, lambda: self._noted(attacks.live_load(
                server.port, self.tickers, self.seconds(25), clients=8), how))

    @staticmethod
    def _noted(outcome: client.Outcome, note: str) -> client.Outcome:
        outcome.notes = "; ".join(filter(None, (note, outcome.notes)))
        return outcome

    def shared(self, chosen: list[str]) -> None:
        url = self.new_url("shared")
        with self.server("shared", url, FAKE) as server:
            self.warm(server)
            port = server.port
            if "crosssite" in chosen:
                self.measure("crosssite", server, url, lambda: attacks.cross_site(
                    port, lambda: (env.count(url, "uploads"), env.count(url, "forecasts"))))
            if "upload" in chosen:
                self.measure("upload", server, url, lambda: attacks.upload_flood(
                    port, self.seconds(25)))
            if "crawl" in chosen:
                self.measure("crawl", server, url, lambda: attacks.ledger_crawl(
                    port, self.seconds(30)))
            if "rate" in chosen:
                self.measure("rate", server, url, lambda: attacks.rate(port, self.seconds(15)))
            if "pgstop" in chosen and self.pg:
                self.measure("pgstop", server, url, lambda: self._noted(attacks.live_load(
                    port, self.tickers, self.seconds(30), during=self.outage), "down 10 s"))
            if "kill" in chosen:
                self.measure("kill", server, url, lambda: self._noted(attacks.live_load(
                    port, self.tickers, self.seconds(30), during=lambda t: self.kills(
                        server.pid, t)), "3 workers killed"))
            if "listing" in chosen:
                started = time.monotonic()
                seeded = abuse_seed.seed_ledger(url, LEDGER_ENTRIES)
                seeded += f" in {time.monotonic() - started:.0f} s"
                total = env.count(url, "forecasts") or LEDGER_ENTRIES
                self.measure("listing", server, url, lambda: self._noted(
                    attacks.listing(port, total), seeded))

    def outage(self, start: float) -> None:
        """Stop PostgreSQL a quarter into the attack, for 10 s (5 s with --quick)."""
        span = self.seconds(30)
        time.sleep(max(0.0, start + span / 4 - time.monotonic()))
        self.pg.stop()
        time.sleep(self.seconds(10))
        self.pg.start()

    def kills(self, pid: int, start: float) -> None:
        """kill -9 one worker at a fifth, two fifths and three fifths of the attack."""
        span = self.seconds(30)
        for n in (1, 2, 3):
            time.sleep(max(0.0, start + span * n / 5 - time.monotonic()))
            workers = _workers(pid)
            if workers:
                os.kill(workers[n % len(workers)], 9)


def _workers(pid: int, tries: int = 5) -> list[int]:
    # /proc changes under the walk when a thread or a worker ends: read it again.
    for _ in range(tries):
        try:
            return processes(pid)[1]
        except OSError:
            time.sleep(0.1)
    return []


def header(args, tree: Path) -> None:
    """What ran, where, and on what machine."""
    def git(*words: str) -> str:
        found = subprocess.run(["git", "-C", str(tree), *words], capture_output=True, text=True)
        return found.stdout.strip()
    changed = len(git("status", "--porcelain").splitlines())
    print(f"# bench_abuse.py, {dt.datetime.now():%Y-%m-%d %H:%M}")
    print(f"checkout: {tree} at {git('log', '-1', '--format=%h %s')[:100]}"
          f"{f' with {changed} files changed or added since' if changed else ''}")
    print(f"web: {env.web_command(tree)}")
    print(f"CPUs: {os.cpu_count()}; load average at start {os.getloadavg()[0]:.1f}"
          + (f"; {args.note}" if args.note else ""))
    settings = {**BOUNDS, **dict(item.split("=", 1) for item in args.server_env)}
    print(f"server settings: {' '.join(f'{k}={v}' for k, v in settings.items())} (the upload "
          f"budget lowered from its 200 MB default so that the flood reaches it)")
    print(f"attacks: {' '.join(args.attacks)}{' (--quick: half durations)' if args.quick else ''}")
    print("Normal client: GET /api/v1/healthz then POST /api/v1/forecast IBM horizon 5 every "
          "0.5 s, 10 s timeout, each probe from its own X-Forwarded-For. Attackers vary their "
          "X-Forwarded-For per request (a crowd), except `rate` (one address).\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the attacks on each database and print a table for each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"],
                        choices=("sqlite", "postgresql"))
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=ATTACKS)
    parser.add_argument("--quick", action="store_true", help="half the attacks' durations")
    parser.add_argument("--before", metavar="PATH", help="run an older checkout's Procfile "
                        "server and package instead of this one")
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="settings for the benched server")
    parser.add_argument("--note", default="", help="a line for the header (the machine's load)")
    parser.add_argument("--logs", help="folder for the gunicorn logs (default: a new one)")
    args = parser.parse_args(argv)
    logs = Path(args.logs or tempfile.mkdtemp(prefix="abuse-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    header(args, Path(args.before or env.ROOT).resolve())
    tables = {}
    for kind in args.databases:
        bench = Bench(args, kind, logs)
        started = time.monotonic()
        try:
            tables[kind] = (bench.run(), time.monotonic() - started, os.getloadavg()[0])
        finally:
            bench.close()
    for kind, (rows, seconds, load) in tables.items():
        print(f"\n## {kind} ({seconds:.0f} s; load average {load:.1f} at the end)\n")
        print_table(rows, HEADER)
    print()
    report_logs(str(logs))


if __name__ == "__main__":
    main()

"""What one page of the ledger listing costs on a 100k-entry ledger, at the top and deep down.

Usage: python bench/bench_ledger.py [--entries N] [--databases sqlite postgresql]
                                    [--root PATH] [--repeat K]

``--root`` is a checkout whose package is measured (default: this one): give it an older
worktree to measure the code before a change on the same machine. Each database (a new SQLite
file; a throwaway PostgreSQL server started as the tests start it) is migrated by that code and
filled in SQL with N entries: 5 tickers x 20 models x N/100 days, with the rows each shape
holds (before keyset paging: 4 days with one band, as the replays that filled it; after: 30
days with three bands). Then ``ledger.listing`` is called K times for each case, and the median
time and the answer's JSON size are printed: the first page, a page 99% of the way down, both
with no filter and with a ticker. Never pass/fail.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _package(root: Path):
    # The measured code: ``root``'s package first on the path, ahead of the installed one.
    sys.path.insert(0, str(root / "LSTM_predictor"))
    sys.path.insert(1, str(ROOT))
    from stockPredictor.store import engine_for, ledger, upgrade

    return engine_for, ledger, upgrade


def _fill_sql(dialect: str, old: bool, entries: int) -> list[str]:
    """The statements that fill a ledger of ``entries`` in the database itself."""
    if dialect == "sqlite":
        numbers = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                   f"WHERE i < {entries}) ")
        day = "date('2020-01-01', '+' || ((i / 5) % (n_days)) || ' days')"
        created = "datetime('2024-01-01', '+' || i || ' seconds')"
        steps = ("WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s "
                 "WHERE k < {steps}) ")
        row_day = "date(f.as_of, '+' || s.k || ' days')"
        source, concat = "n", "||"
    else:
        numbers = ""
        day = "DATE '2020-01-01' + MOD(i / 5, n_days)"
        created = "TIMESTAMPTZ '2024-01-01' + i * INTERVAL '1 second'"
        steps = ""
        row_day = "f.as_of + s.k"
        source, concat = f"generate_series(1, {entries}) AS n(i)", "||"
    days = max(1, entries // 100)
    day = day.replace("n_days", str(days))
    mod = "(i % 5)" if dialect == "sqlite" else "MOD(i, 5)"  # psycopg reads % as a placeholder
    tickers = f"CASE {mod} WHEN 0 THEN 'IBM' WHEN 1 THEN 'AAPL' WHEN 2 THEN 'MSFT' " \
              "WHEN 3 THEN 'GOOG' ELSE 'FB' END"
    model = f"'m' {concat} CAST(i / (5 * {days}) AS VARCHAR(8))"
    series = "s" if dialect == "sqlite" else "generate_series(1, {steps}) AS s(k)"
    if old:
        head = (f"{numbers}INSERT INTO forecasts (id, fingerprint, ticker, model, model_sha256, "
                "kind, source, as_of, horizon, level, prices_fingerprint, created_at, served) "
                f"SELECT i, 'f' {concat} CAST(i AS VARCHAR(12)), {tickers}, {model}, 'sha', "
                f"'replay', 'sample', {day}, 4, 0.8, 'p', {created}, 1 FROM {source}")
        rows = (steps.format(steps=4) + "INSERT INTO forecast_rows (forecast_id, step, day, "
                "close, low, high, last_close, actual) SELECT f.id, s.k, "
                f"{row_day}, 100.0 + s.k, 90.0, 110.0, 100.0, 101.0 FROM forecasts f, "
                + series.format(steps=4))
    else:
        head = (f"{numbers}INSERT INTO forecasts (id, ticker, model, model_sha256, source, "
                "as_of, horizon, last_close, created_at) "
                f"SELECT i, {tickers}, {model}, 'sha', 'yahoo', {day}, 30, 100.0, {created} "
                f"FROM {source}")
        bands = ", ".join(["90.0", "110.0"] * 3)
        rows = (steps.format(steps=30) + "INSERT INTO forecast_rows (forecast_id, step, day, "
                "close, low_50, high_50, low_80, high_80, low_95, high_95, actual) "
                f"SELECT f.id, s.k, {row_day}, 100.0 + s.k, {bands}, "
                "CASE WHEN s.k < 5 THEN 101.0 END FROM forecasts f, " + series.format(steps=30))
    return [head, rows]


def measure(url: str, root: Path, entries: int, repeat: int) -> list[tuple]:
    """Fill ``url`` by ``root``'s migrations and time its listing; a row per case."""
    engine_for, ledger, upgrade = _package(root)
    upgrade(url)
    engine = engine_for(url)
    old = "offset" in inspect.signature(ledger.listing).parameters
    try:
        with engine.begin() as connection:
            for statement in _fill_sql(engine.dialect.name, old, entries):
                connection.exec_driver_sql(statement)
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("ANALYZE")
            ibm_ids = [row[0] for row in connection.exec_driver_sql(
                "SELECT id FROM forecasts WHERE ticker = 'IBM' ORDER BY id DESC")]
        deep = int(entries * 0.99)
        cases = [("first page", {}, 0), ("99% down", {}, deep),
                 ("IBM, first page", {"ticker": "IBM"}, 0),
                 ("IBM, 99% down", {"ticker": "IBM"}, int(len(ibm_ids) * 0.99))]
        found = [("ledger kB per entry", "", "", f"{_size(engine) / entries / 1000:.2f}", "")]
        for name, filters, skip in cases:
            for limit in (20, 50):
                if old:
                    call = dict(filters, limit=limit, offset=skip)
                else:  # the id just above the page a client reaches by following "older"
                    ids = ibm_ids if filters else list(range(entries, 0, -1))
                    call = dict(filters, limit=limit, before=ids[skip - 1] if skip else None)
                times, answer = [], None
                for _ in range(repeat):
                    start = time.perf_counter()
                    answer = ledger.listing(engine, **call)
                    times.append(time.perf_counter() - start)
                size = len(json.dumps(answer, default=str))
                first = answer["forecasts"][0]["id"] if answer["forecasts"] else None
                found.append((name, limit, f"{1000 * statistics.median(times):.1f}",
                              f"{size / 1000:.0f}", first))
        return found
    finally:
        engine.dispose()


def _size(engine) -> float:
    """Bytes the ledger's two tables take, their indexes included."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return float(connection.exec_driver_sql(
                "SELECT SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name "
                "WHERE m.tbl_name IN ('forecasts', 'forecast_rows')").scalar())
        return float(connection.exec_driver_sql(
            "SELECT pg_total_relation_size('forecasts') + "
            "pg_total_relation_size('forecast_rows')").scalar())


def main() -> None:
    """Measure each database and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from loadkit import print_table

    sys.path.pop(0)
    rows = []
    for kind in args.databases:
        with ExitStack() as stack:
            if kind == "sqlite":
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ledger-"))
                url = f"sqlite:///{folder}/store.db"
            else:
                sys.path.insert(0, str(ROOT))
                from tests.postgres import postgres_server, unavailable

                reason = unavailable()
                if reason:
                    print(f"postgresql left out: {reason}")
                    continue
                url = stack.enter_context(postgres_server(durable=True))
            rows += [(kind, *row) for row in measure(url, args.root.resolve(), args.entries,
                                                     args.repeat)]
    print(f"\n## One page of the ledger listing, {args.entries:,} entries, code at {args.root} "
          f"(median of {args.repeat} calls of ledger.listing)")
    print_table(rows, ("database", "page", "limit", "ms", "JSON kB", "first id"))


if __name__ == "__main__":
    main()

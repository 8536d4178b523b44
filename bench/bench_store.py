"""How big the database grows: the sample tickers' prices in the store and 1,000 ledger entries.

Usage: python bench/bench_store.py [--entries N] [--databases sqlite postgresql]

For each database (a new SQLite file, and a throwaway PostgreSQL server started as the tests
start it), migrated from empty:
- the price store is filled with the bundled sample's full histories, fetched through
  ``PriceStore`` as if Yahoo had answered with them (the sample itself is read from the package
  and never stored; this is the size a deployment reaches once people ask for those tickers);
- N ledger entries (default 1,000) are made as the app makes a live forecast's entry: the
  committed models' whole path (30 days) with the band at every level, through the package's
  own ``report.build`` and ``ledger.entry``, at distinct as_of days (with 300 trading days
  before them) drawn at random, and written as the app's ledger writer writes them: batches
  of 50;
- then the space each table takes is read from the database itself.
Prints a table per database; never pass/fail.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stockPredictor.data.sample import SAMPLE_TICKERS, from_sample  # noqa: E402
from stockPredictor.forecast.report import build  # noqa: E402
from stockPredictor.model.registry import Registry  # noqa: E402
from stockPredictor.store import engine_for, ledger, upgrade  # noqa: E402
from stockPredictor.store.prices import PriceStore  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from loadkit import print_table  # noqa: E402

SEED = 20130301
MIN_HISTORY = 300
BATCH = 50  # what LedgerWriter writes at once
TABLES = ("prices", "fetch_state", "forecasts", "forecast_rows", "uploads")


def sample_as_yahoo(ticker: str, start=None) -> pd.DataFrame:
    """The bundled history of ``ticker`` from ``start``, standing in for Yahoo's answer."""
    frame = from_sample(ticker)
    frame = frame if start is None else frame[frame.index >= pd.Timestamp(start)]
    frame.attrs["source"] = "yahoo"
    return frame


def fill(url: str, entries: int) -> dict:
    """Fill the store and the ledger of ``url``; what was written and how long it took."""
    engine = engine_for(url)
    try:
        start = time.perf_counter()
        store = PriceStore(engine, sample_as_yahoo)
        frames = {ticker: store.load(ticker) for ticker in SAMPLE_TICKERS}
        store_s = time.perf_counter() - start
        registry = Registry().load()
        rng = random.Random(SEED)
        made, seen, rows = [], set(), 0
        # As bench_load: tickers with 300 days before an as_of (FB's 196 days are stored only).
        forecastable = [t for t, frame in frames.items() if len(frame) > MIN_HISTORY]
        start = time.perf_counter()
        while len(made) < entries:
            ticker = rng.choice(forecastable)
            frame = frames[ticker]
            artifact = registry.model_for(ticker)
            as_of = frame.index[rng.randrange(MIN_HISTORY, len(frame))]
            if (ticker, as_of) in seen:  # one entry per ticker, model and day
                continue
            seen.add((ticker, as_of))
            answer = build(frame, artifact, ledger.steps_of(artifact), as_of)
            made.append(ledger.entry(answer, "live"))
            rows += len(made[-1].rows)
        forecast_s = time.perf_counter() - start
        start = time.perf_counter()
        for first in range(0, len(made), BATCH):
            ledger.write(engine, made[first:first + BATCH])
        write_s = time.perf_counter() - start
        sizes = table_sizes(url, engine)
    finally:
        engine.dispose()
    return {"prices": sum(len(f) for f in frames.values()), "entries": len(made), "rows": rows,
            "store_s": store_s, "forecast_s": forecast_s, "write_s": write_s, "sizes": sizes}


def table_sizes(url: str, engine) -> dict[str, float]:
    """Bytes per table (indexes included) and for the whole database."""
    with engine.connect() as connection:
        if url.startswith("sqlite"):
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            # dbstat: pages per table and per index; an index is counted with its table.
            found = dict(connection.exec_driver_sql(
                "select coalesce(m.tbl_name, s.name), sum(s.pgsize) from dbstat s "
                "left join sqlite_master m on m.name = s.name group by 1").all())
            path = Path(url.split("///", 1)[1])
            total = path.stat().st_size
        else:
            found = {name: connection.exec_driver_sql(
                f"select pg_total_relation_size('{name}')").scalar() for name in TABLES}
            total = connection.exec_driver_sql(
                "select pg_database_size(current_database())").scalar()
    return {**{name: float(found.get(name, 0)) for name in TABLES}, "total": float(total)}


def main() -> None:
    """Fill each database and print what it takes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows, sizes = [], []
    for kind in args.databases:
        with ExitStack() as stack:
            if kind == "sqlite":
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-store-"))
                url = f"sqlite:///{folder}/store.db"
            else:
                from tests.postgres import postgres_server, unavailable

                reason = unavailable()
                if reason:
                    print(f"postgresql left out: {reason}")
                    continue
                url = stack.enter_context(postgres_server(durable=True))
            upgrade(url)
            engine = engine_for(url)
            empty = table_sizes(url, engine)["total"] / 1e6
            engine.dispose()
            found = fill(url, args.entries)
        mb = {name: value / 1e6 for name, value in found["sizes"].items()}
        rows.append((kind, found["prices"], found["entries"], found["rows"],
                     f"{found['store_s']:.2f}", f"{found['write_s']:.2f}",
                     f"{1000 * found['write_s'] / found['entries']:.2f}"))
        per_entry = (found["sizes"]["forecasts"] + found["sizes"]["forecast_rows"]) / 1e3
        sizes.append((kind, *(f"{mb[name]:.2f}" for name in TABLES), f"{mb['total']:.2f}",
                      f"{empty:.2f}", f"{per_entry / found['entries']:.2f}"))
    print(f"\n## What was written ({len(SAMPLE_TICKERS)} sample tickers' full histories; "
          f"live entries of 30 days and every band level, batches of {BATCH})")
    print_table(rows, ("database", "price rows", "ledger entries", "forecast rows",
                       "store fill s", "ledger write s", "ms per entry"))
    print("\n## Space taken (MB, indexes included; total: the whole database file or "
          "pg_database_size, catalog included)")
    print_table(sizes, ("database", *TABLES, "total", "total when empty",
                        "ledger kB per entry"))


if __name__ == "__main__":
    main()

"""Watchlists (issue 22): the batched pass against a loop of single forecasts, warm and cold.

Usage: python bench/bench_watchlist.py [--sizes 50 500] [--rows 2500] [--distinct 50]
                                       [--reps 5] [--cold-loop 10] [--page-reps 20]

Synthetic price series (data.synthetic, --rows days, ticker-like names such as "AB", "XYZ1",
"Q.TO"), each ticker served by its registry model (the general one), the horizon 4, one BLAS
thread as the app sets it (BLAS_THREADS=1).
- cold: forecast.watch.summarise for each ticker with a fresh private table cache, as one worker
  computes a cold list (the tables' newest blocks built); per ticker and the whole list. The
  loop of single forecasts cold is report.build with an empty cache per ticker (--cold-loop of
  them, scaled to the list).
- warm: forecast.watch.rows with the summaries in a dict (keys, fingerprints and the one
  runtime call per model included) against a loop of report.build with the tables in a warm
  LRU, without and with the web's shared per-origin cache; CPU (time.process_time), median of
  --reps. Only --distinct series are computed cold; the rest of a list repeat them under other
  names (their tables are shared, keyed by the closes): the warm work per ticker is the same.
- page: GET /watchlists/<token> and its rows.json for a list of 50 warm tickers through the
  Flask test client (SQLite, summaries in the database), median of --page-reps; the price
  store's read is replaced by the frames in memory (no prices of these names are stored).
- memory: tracemalloc bytes per ticker of the frames and of the summaries held, the summary's
  stored JSON, and the table blocks a loop of single forecasts keeps warm.
Prints Markdown tables; never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import string
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadkit import print_table  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from stockPredictor.data.synthetic import synthetic  # noqa: E402
from stockPredictor.forecast import report, watch  # noqa: E402
from stockPredictor.lru import BoundedCache, ByteBoundedLRU  # noqa: E402
from stockPredictor.model.registry import Registry  # noqa: E402

HORIZON = 4
PAGE_TICKERS = 50
SUFFIXES = ("", "", "1", ".TO", "", "-B", ".L")


def names(count: int) -> list[str]:
    """``count`` distinct ticker-like names: "AB", "XYZ1", "Q.TO", ..."""
    letters = string.ascii_uppercase
    found: list[str] = []
    i = 0
    while len(found) < count:
        size = 1 + i % 4
        base = "".join(letters[(i // 26 ** k + 7 * k) % 26] for k in range(size))
        name = base + SUFFIXES[i % len(SUFFIXES)]
        if name not in found and base != "IBM":  # IBM has a model of its own
            found.append(name)
        i += 1
    return found


def cpu(function) -> tuple[float, float]:
    """CPU and wall seconds of one call."""
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    function()
    return time.process_time() - start_cpu, time.perf_counter() - start_wall


def median_cpu(function, reps: int) -> tuple[float, float]:
    """Median CPU and wall seconds of ``reps`` calls."""
    runs = [cpu(function) for _ in range(reps)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def frames_for(tickers: list[str], rows: int, distinct: int) -> dict:
    """A synthetic series per ticker; past ``distinct`` they repeat the first ones' closes."""
    frames = {}
    for i, ticker in enumerate(tickers):
        frames[ticker] = synthetic(n=rows, seed=i % distinct, ticker=ticker)
        frames[ticker].attrs["name"] = f"{ticker} Holdings"
    return frames


def cold(frames: dict, models: dict, distinct: int, loop: int) -> tuple[list, dict, object]:
    """Rows of the cold table, the summaries, and the warm table cache they left."""
    cache = ByteBoundedLRU(1 << 31)
    summaries, per = {}, []
    tickers = list(frames)
    for ticker in tickers[:distinct]:
        spent = cpu(lambda: summaries.__setitem__(ticker, watch.summarise(
            frames[ticker], models[ticker], cache)))
        per.append(spent)
    for ticker in tickers[distinct:]:  # same closes as one of the first: its tables are warm
        summaries[ticker] = watch.summarise(frames[ticker], models[ticker], cache)
    singles = [cpu(lambda: report.build(frames[t], models[t], HORIZON,
                                        cache=ByteBoundedLRU(1 << 28)))
               for t in tickers[:loop]]
    one_cpu = statistics.mean(p[0] for p in per)
    one_wall = statistics.mean(p[1] for p in per)
    single_cpu = statistics.mean(s[0] for s in singles) if singles else float("nan")
    table = []
    for size in sorted({min(PAGE_TICKERS, len(tickers)), len(tickers)}):
        measured = size <= distinct
        whole_cpu = sum(p[0] for p in per[:size]) if measured else one_cpu * size
        whole_wall = sum(p[1] for p in per[:size]) if measured else one_wall * size
        table.append(("cold: summarise (one worker)", size, f"{whole_cpu:.1f}",
                      f"{whole_wall:.1f}", f"{1000 * whole_cpu / size:.0f}",
                      "measured" if measured else f"est. from {distinct}"))
        table.append(("cold: loop of report.build", size, f"{single_cpu * size:.1f}", "",
                      f"{1000 * single_cpu:.0f}", f"est. from {len(singles)}"))
    return table, {s.key: s for s in summaries.values()}, cache


def warm(frames: dict, models: dict, summaries: dict, cache, sizes, reps: int) -> list:
    """Rows of the warm table: batched rows against loops of report.build."""
    table = []
    for size in sizes:
        chosen = dict(list(frames.items())[:size])
        batched, batched_wall = median_cpu(
            lambda: watch.rows(chosen, models, summaries, HORIZON), reps)
        loop, _ = median_cpu(lambda: [report.build(f, models[t], HORIZON, cache=cache)
                                      for t, f in chosen.items()], max(3, reps // 2))
        shared = BoundedCache(4 * size)
        [report.build(f, models[t], HORIZON, cache=cache, shared=shared)
         for t, f in chosen.items()]
        kept, _ = median_cpu(lambda: [report.build(f, models[t], HORIZON, cache=cache,
                                                   shared=shared)
                                      for t, f in chosen.items()], max(3, reps // 2))
        ok = sum(r.status == "ok" for r in watch.rows(chosen, models, summaries, HORIZON))
        # Of which the runtime: the one call over the newest windows (one model here).
        model = models[next(iter(chosen))]
        x = watch.windows(model, [f["close"].to_numpy() for f in chosen.values()])
        runtime, _ = median_cpu(lambda: model.model(x), reps)
        table.append(("warm: watch.rows (batched)", size, f"{batched:.3f}",
                      f"{batched_wall:.3f}", f"{1000 * batched / size:.2f}",
                      f"{ok} ok; goal <= 1 s CPU at 500: "
                      f"{'met' if size < 500 or batched <= 1 else 'NOT met'}"))
        table.append(("  of which the runtime call", size, f"{runtime:.3f}", "",
                      f"{1000 * runtime / size:.2f}", f"{len(x)} windows, one call"))
        table.append(("warm: loop of report.build", size, f"{loop:.3f}", "",
                      f"{1000 * loop / size:.2f}",
                      f"batched {loop / batched:.1f}x faster (goal >= 10x)"))
        table.append(("warm: loop, shared per-origin cache", size, f"{kept:.3f}", "",
                      f"{1000 * kept / size:.2f}", f"batched {kept / batched:.1f}x faster"))
    return table


def page(frames: dict, summaries: dict, reps: int) -> list:
    """Rows of the page table, or one row saying why the page was not measured."""
    try:
        from Flask_webapp import watch_view
        from Flask_webapp.app import create_app
        from stockPredictor.store import watch_summaries, watchlists
    except ImportError as exc:  # the page is package D's: measured once it exists
        return [("page: not measured", PAGE_TICKERS, "", "", "", f"no page yet ({exc})")]
    except Exception as exc:  # noqa: BLE001 - a bench reports, never fails
        return [("page: not measured", PAGE_TICKERS, "", "", "", f"{type(exc).__name__}: {exc}")]
    chosen = dict(list(frames.items())[:PAGE_TICKERS])
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "PRICE_SOURCE": "sample", "PRELOAD_TABLES": False,
                          "CACHE_DIR": f"{folder}/cache", "INSTANCE_PATH": f"{folder}/i",
                          "DATABASE_URL": f"sqlite:///{folder}/bench.db"})
        engine = app.extensions["database"].engine
        for summary in summaries.values():
            if summary.key[1] in chosen:
                watch_summaries.put(engine, summary, max_rows=100_000)
        token = watchlists.create(engine, "bench", list(chosen), None, max_tickers=PAGE_TICKERS,
                                  max_name=80, per_day=100).token
        # The price store holds none of these names: its read is the frames in memory.
        real = watch_view.price_batch.stored_frames
        watch_view.price_batch.stored_frames = lambda cache, tickers: {
            t: chosen[t] for t in tickers}
        table = []
        try:
            client = app.test_client()
            for path in (f"/watchlists/{token}", f"/watchlists/{token}/rows.json"):
                answer = client.get(path)
                statuses = answer.get_data(as_text=True).count('"ok"') if "json" in path \
                    else answer.get_data(as_text=True).count('data-status="ok"')
                spent, wall = median_cpu(lambda: client.get(path), reps)
                table.append((f"page: GET {path.replace(token, '<token>')}", len(chosen),
                              f"{spent:.3f}", f"{wall:.3f}", f"{1000 * spent / PAGE_TICKERS:.2f}",
                              f"HTTP {answer.status_code}, {statuses} ok rows; goal <= 0.2 s: "
                              f"{'met' if wall <= 0.2 else 'NOT met'}"))
        finally:
            watch_view.price_batch.stored_frames = real
            engine.dispose()
    return table


def store_read(frames: dict, reps: int) -> list:
    """Rows timing the real ``price_batch.stored_frames`` of PAGE_TICKERS stored tickers on
    SQLite: cold (the frames LRU empty: every row read) and warm (a poll: fetch_state only)."""
    import datetime as dt

    from sqlalchemy import insert

    from stockPredictor.data.sources import PriceCache
    from stockPredictor.store import database_url, engine_for, price_batch, upgrade
    from stockPredictor.store.models import FetchState, Price
    from stockPredictor.store.prices import PriceStore

    chosen = dict(list(frames.items())[:PAGE_TICKERS])
    now = dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory() as folder:
        url = database_url("", Path(folder))
        upgrade(url)
        engine = engine_for(url)
        with engine.begin() as connection:
            for ticker, frame in chosen.items():
                connection.execute(insert(Price), [
                    dict(ticker=ticker, source="yahoo", day=day.date(), open=o, high=h, low=lo,
                         close=c, volume=v) for day, (o, h, lo, c, v) in
                    zip(frame.index, frame[["open", "high", "low", "close", "volume"]]
                        .to_numpy())])
                connection.execute(insert(FetchState).values(
                    ticker=ticker, source="yahoo", checked_at=now, read_on=now.date(),
                    last_day=frame.index[-1].date()))
        store = PriceStore(engine, clock=lambda: now, recheck=dt.timedelta(hours=1),
                           max_tickers=1000, frames_mb=256)
        cache = PriceCache("yahoo", store=store)
        tickers = list(chosen)
        days = len(next(iter(chosen.values())))

        def cold() -> None:
            store.frames.clear()
            price_batch.stored_frames(cache, tickers)

        try:
            got = price_batch.stored_frames(cache, tickers)
            served = sum(isinstance(f, pd.DataFrame) and len(f) == days for f in got.values())
            table = []
            for label, function in (("cold: LRU empty, every row read", cold),
                                    ("warm: a poll, fetch_state only",
                                     lambda: price_batch.stored_frames(cache, tickers))):
                spent, wall = median_cpu(function, reps)
                table.append((f"store read ({label})", len(tickers), f"{spent:.3f}",
                              f"{wall:.3f}", f"{1000 * spent / len(tickers):.2f}",
                              f"real stored_frames, SQLite, {days} days; {served} frames whole; "
                              f"LRU {store.frames.used / 2**20:.1f} MiB"))
        finally:
            engine.dispose()
    return table


def memory(rows: int, summaries: dict, cache, count: int, distinct: int) -> list:
    """Bytes per ticker held: frames, summaries (in memory and as stored JSON), table blocks."""
    tickers = names(count)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = frames_for(tickers, rows, count)
    frames_bytes = (tracemalloc.get_traced_memory()[0] - before) / count
    stored = [s for s in summaries.values()][:count]
    payloads = [json.dumps(s.payload()) for s in stored]
    before = tracemalloc.get_traced_memory()[0]
    loaded = [watch.Summary.from_payload(s.key, s.model_name, s.as_of, json.loads(p))
              for s, p in zip(stored, payloads)]
    summary_bytes = (tracemalloc.get_traced_memory()[0] - before) / len(loaded)
    tracemalloc.stop()
    del held, loaded
    blocks = cache.used / distinct  # one table per distinct series: keyed by closes
    return [("frame (OHLCV, float64)", f"{frames_bytes / 1024:.1f}", f"{rows} days"),
            ("summary in memory", f"{summary_bytes / 1024:.1f}", "widths + record"),
            ("summary as stored JSON", f"{statistics.mean(map(len, payloads)) / 1024:.1f}",
             "watch_summaries.payload"),
            ("table blocks (single-forecast LRU)", f"{blocks / 1024:.1f}",
             "what a loop of report.build keeps warm; the batched pass needs none")]


def main() -> None:
    """Print the timing table and the memory table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--rows", type=int, default=2500, help="trading days per series")
    parser.add_argument("--distinct", type=int, default=50,
                        help="series computed cold; the rest repeat them under other names")
    parser.add_argument("--reps", type=int, default=7, help="timed calls per warm cell")
    parser.add_argument("--cold-loop", type=int, default=10,
                        help="cold single forecasts timed, scaled to the list")
    parser.add_argument("--page-reps", type=int, default=20)
    args = parser.parse_args()
    # As the app serves (BLAS_THREADS=1): a second BLAS thread only spins on a busy machine.
    threadpool_limits(limits=1, user_api="blas")
    registry = Registry().load()
    tickers = names(max(args.sizes))
    frames = frames_for(tickers, args.rows, min(args.distinct, len(tickers)))
    models = {t: registry.model_for(t) for t in tickers}
    print(f"\n## Watchlists: {len(tickers)} synthetic tickers x {args.rows} days, "
          f"horizon {HORIZON}, models {sorted({m.name for m in models.values()})}\n")
    cold_rows, summaries, cache = cold(frames, models, min(args.distinct, len(tickers)),
                                       args.cold_loop)
    header = ("measure", "tickers", "CPU s", "wall s", "CPU ms/ticker", "note")
    table = cold_rows + warm(frames, models, summaries, cache, args.sizes, args.reps)
    table += store_read(frames, args.reps)
    table += page(frames, summaries, args.page_reps)
    print_table(table, header)
    print()
    print_table(memory(args.rows, summaries, cache, min(50, len(tickers)),
                       min(args.distinct, len(tickers))),
                ("held per ticker", "KiB", "note"))


if __name__ == "__main__":
    main()

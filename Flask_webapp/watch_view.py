"""A watchlist as a table: the rows the page, rows.json, the CSV and the API share (issue 22, D).

``table`` reads each ticker's stored prices (never Yahoo), the summaries every web process shares
through the database, and forecasts the warm tickers in one batched runtime call per model
(``forecast.watch.rows``). Tickers without a summary are "computing": the cold job fills them;
stale or missing prices queue the refresh job. Both are claimed per list, so a page polled every
2 s queues neither again while one is queued or running.
"""

from __future__ import annotations

import csv
import io
import logging
import math

from stockPredictor.errors import StockPredictorError
from stockPredictor.forecast import watch
from stockPredictor.forecast.bands import DEFAULT_LEVEL
from stockPredictor.store import price_batch, watch_summaries, watchlists
from stockPredictor.store.watchlists import Watchlist

from . import services

log = logging.getLogger(__name__)

CSV_COLUMNS = ("ticker", "name", "last_close", "last_date", "day_change_pct", "forecast_close",
               "change_pct", "low_pct", "high_pct", "beats_naive", "p_value", "mae_ratio",
               "origins", "stale", "age_days", "model", "status", "reason")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The key of a list's job progress in the queue's store, + its token (jobs.watch.PROGRESS: the
# web never imports jobs.watch).
PROGRESS = "watch:"
# A computing row whose prices are not stored yet says so (the template shows it).
FETCHING = "its prices are not stored yet; they are being fetched"
# Verdicts in the order "best first" sorts them.
VERDICT_ORDER = {"better": 0, "no difference": 1, "worse": 2, "no change served": 3,
                 "too few": 4}
# The table's sortable columns (?sort=): each row's value, None where it has none.
SORT_KEYS = {
    "ticker": lambda r: r["ticker"],
    "close": lambda r: r.get("last_close"),
    "day": lambda r: r.get("day_change_pct"),
    "trend": lambda r: trend_pct(r.get("sparkline")),
    "change": lambda r: r.get("change_pct"),
    "band": lambda r: (None if r.get("low_pct") is None or r.get("high_pct") is None
                       else r["high_pct"] - r["low_pct"]),
    "verdict": lambda r: (None if r.get("beats_naive") not in VERDICT_ORDER
                          else VERDICT_ORDER[r["beats_naive"]] + (r.get("p_value") or 0) / 2),
    "fresh": lambda r: r.get("age_days"),
    "model": lambda r: r.get("model"),
}


def table(watchlist: Watchlist, horizon: int) -> dict:
    """spec22's WatchTable JSON for ``watchlist`` at ``horizon``; queues cold and refresh jobs.

    A ticker with no prices stored yet is "computing" too (the refresh job fetches them, then
    the cold job summarises them); ``refreshing`` is true while the list's refresh is queued by
    this request or runs (its progress in the queue's store).
    """
    tickers = list(watchlist.tickers)
    frames = dict(price_batch.stored_frames(services.price_cache(), tickers))
    models = {}
    for ticker, frame in frames.items():
        if isinstance(frame, Exception):
            continue
        try:
            models[ticker] = services.model_for(frame)
        except StockPredictorError as exc:  # no model for it: its own row says so
            frames[ticker] = exc
    keys = watch.keys(frames, models)
    engine = engine_of_lists()
    summaries = watch_summaries.get_many(engine, keys.values())
    rows = [_fetching(row) if isinstance(frames.get(row.ticker), price_batch.NotStoredError)
            else row.to_dict()
            for row in watch.rows(frames, models, summaries, horizon, keyed=keys)]
    pending = sum(row["status"] == "computing" for row in rows)
    refreshing = False
    # A claim holds while its job is queued or running (the job clears it as it ends), so a
    # polled list never queues a second cold job; CLAIM_STALE_S frees one a dead worker left.
    if pending and watchlists.claim(engine, watchlist.token, "cold", watchlists.CLAIM_STALE_S):
        submit("watch_cold", watchlist.token)
    if price_batch.due(frames) and watchlists.claim(
            engine, watchlist.token, "refresh", services.settings().watchlist_refresh_s):
        refreshing = submit("watch_refresh", watchlist.token)
    return {"token": watchlist.token, "name": watchlist.name, "horizon": horizon,
            "level": DEFAULT_LEVEL, "pending": pending,
            "refreshing": refreshing or is_refreshing(watchlist.token), "rows": rows}


def engine_of_lists():
    """The database engine, where lists live: a 503 sentence when there is none."""
    return services.database().require(watchlists.WATCHLISTS)


def _fetching(row: watch.WatchRow) -> dict:
    # No prices stored yet: the refresh job is fetching them, so the row is computing.
    return {**row.to_dict(), "status": "computing", "reason": FETCHING}


def is_refreshing(token: str) -> bool:
    """Whether the list's refresh job is running now: its progress under "watch:" + token
    says the phase "refresh" (the cold job that follows counts in ``pending`` instead)."""
    try:
        progress = services.job_queue().progress(PROGRESS + token)
    except Exception as exc:  # Redis down: the table is served, only the hint is lost
        log.warning("a watchlist's progress not read: %s", type(exc).__name__)
        return False
    return bool(progress) and progress.get("phase") == "refresh"


def submit(task: str, token: str) -> bool:
    """Queue the watch job ``task`` of the list ``token``, whose claim the caller holds; False
    (the claim given back, so the next request tries again) when the queue refused it."""
    try:
        services.job_queue().submit_watch(task, token)
    except Exception as exc:  # Redis down, a full queue: it costs the fill-in, not the page
        log.warning("%s of a watchlist not queued: %s", task, exc)
        engine = services.database().engine
        if engine is not None:
            watchlists.release(engine, token, "cold" if task == "watch_cold" else "refresh")
        return False
    return True


def trend_pct(closes) -> float | None:
    """The change over the sparkline's closes, in percent; None with fewer than two."""
    closes = [c for c in closes or () if c is not None]
    if len(closes) < 2 or not closes[0]:
        return None
    return (closes[-1] / closes[0] - 1) * 100


def sort_rows(rows: list[dict], key: str, descending: bool = False) -> list[dict]:
    """``rows`` sorted by column ``key`` (one of SORT_KEYS); rows without a value go last."""
    value = SORT_KEYS[key]
    have = [r for r in rows if value(r) is not None]
    lacking = [r for r in rows if value(r) is None]
    # Ties by ticker A to Z either way, as the page's script breaks them (a stable sort).
    by_ticker = sorted(have, key=lambda r: r["ticker"])
    return sorted(by_ticker, key=value, reverse=descending) + lacking


def sort_value(row: dict, key: str) -> str:
    """The value the page's script sorts ``row`` by in column ``key``: '' when it has none."""
    value = SORT_KEYS[key](row)
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(float(value))


def sparkline_points(closes, width: int = 60, height: int = 20) -> str:
    """The closes as an SVG polyline's points in a ``width`` x ``height`` box (1 unit margin)."""
    values = [float(c) for c in closes or () if c is not None and math.isfinite(c)]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    return " ".join(f"{i * step:.2f},{height - 1 - (v - low) / span * (height - 2):.2f}"
                    for i, v in enumerate(values))


def csv_of(answer: dict) -> str:
    """The table as CSV, spec22's columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in answer["rows"]:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    text = str(value)
    # A spreadsheet runs a cell starting with = + - @ as a formula; a ticker may be "=1+1".
    return "'" + text if text[:1] in FORMULA_STARTS and not isinstance(value, int) else text

"""The forecast ledger: live forecasts, one per ticker, model, day and source, scored as closes
arrive.

Only a live forecast (made from the latest fresh Yahoo close, report.kind == "live") is
recorded: its outcome was unknown when it was made, which nothing can recompute later. A replay
(a past as_of, the bundled sample, an upload) is recomputed from the forecast table on demand,
so it is never stored. One entry holds the model's whole path (every step to MAX_HORIZON) and
the band at every level, whatever horizon and level the request asked: the ledger grows by at
most tickers x models entries a trading day, however the requests vary.

The rest of the package talks to it through ``whole`` and ``entry`` (a report's live entry),
``record`` / ``write`` (or ``writer.LedgerWriter`` off the hot path), ``score`` (which the
price store calls as closes arrive), ``listing`` and ``live_record``; nobody else writes SQL
against its tables. A database that does not answer reaches callers as
DatabaseUnavailableError.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import DataError, excerpt
from ..forecast import metrics, predict, track_record
from ..forecast.bands import DEFAULT_LEVEL
from ..forecast.report import KINDS, Report
from ..lru import BoundedCache, ByteBoundedLRU
from ..model.artifacts import MODEL_FILE, Artifact
from ..model.config import MAX_HORIZON
from ..settings import current
from .db import guarded, writing
from .listing import DEFAULT_LIMIT, LEDGER, MAX_LIMIT, listing  # noqa: F401  (its API too)
from .models import LEDGER_LEVELS, ForecastRow, LedgerForecast, Price

log = logging.getLogger(__name__)
# The keys of live forecasts one worker remembers having queued: a day's distinct tickers and
# models many times over, about 200 bytes each.
KEYS_KEPT = 4096
_FORECASTS, _ROWS = LedgerForecast.__table__, ForecastRow.__table__
_KEY = (_FORECASTS.c.ticker, _FORECASTS.c.model, _FORECASTS.c.as_of, _FORECASTS.c.source)
# The (low, high) columns of each level a row holds.
BAND_COLUMNS = {level: (f"low_{name}", f"high_{name}") for level, name in LEDGER_LEVELS.items()}


def model_sha256(artifact: Artifact) -> str:
    """The SHA-256 of the artifact's model.h5, as its verified model.json records it."""
    return str(artifact.metadata["files"][MODEL_FILE])


@dataclass(frozen=True)
class Entry:
    """One forecast ready to write: the ledger's columns and its rows, no frame kept."""

    values: dict
    rows: list[dict]

    @property
    def key(self) -> tuple:
        """(ticker, model, as_of, source): the ledger holds one entry per key."""
        return tuple(self.values[name] for name in ("ticker", "model", "as_of", "source"))


def key_of(report: Report) -> tuple:
    """The ledger key of ``report``'s forecast: (ticker, model, as_of day, source)."""
    forecast = report.forecast
    return (forecast.ticker, forecast.model, pd.Timestamp(forecast.as_of).date(),
            _source(report))


def _source(report: Report) -> str:
    return str(report.data.get("source") or "unknown")[:16]


def steps_of(artifact: Artifact) -> int:
    """The steps a ledger entry of ``artifact``'s forecasts holds: its whole path."""
    return min(MAX_HORIZON, int(artifact.config.output_steps))


def whole(report: Report, frame: pd.DataFrame,
          cache: ByteBoundedLRU | None = None) -> Report:
    """``report`` with its forecast's whole path: every step of the model and the band at
    every level, sliced from the same forecast table (``cache``) at the same origin."""
    steps = steps_of(report.artifact)
    if report.horizon == steps:
        return report
    path = predict.forecast(frame, report.artifact, steps, report.forecast.as_of,
                            report.level, cache)
    return dataclasses.replace(report, forecast=path, horizon=steps,
                               actual=np.full(steps, np.nan))


def entry(report: Report, kind: str | None = None) -> Entry:
    """The ledger entry of ``report``'s live forecast: every step it holds (``whole`` gives it
    the model's whole path) with the band at every level it could calibrate.

    ``kind`` overrides the report's own; a replay is refused with a DataError: it is
    recomputed on demand, never stored.
    """
    kind = kind or report.kind
    if kind not in KINDS:
        raise DataError(f"ledger kind {excerpt(kind)} is not one of {', '.join(KINDS)}")
    if kind != "live":
        raise DataError(f"the forecast of {report.ticker} as of {report.as_of} is a replay: "
                        f"the ledger records live forecasts only")
    forecast = report.forecast
    ticker, model, as_of, source = key_of(report)
    days = pd.DatetimeIndex(forecast.dates).date
    values = dict(ticker=ticker, model=model, model_sha256=model_sha256(report.artifact),
                  source=source, as_of=as_of, horizon=len(days),
                  last_close=float(forecast.last_close),
                  created_at=dt.datetime.now(dt.timezone.utc))
    closes = np.asarray(forecast.closes, np.float64).tolist()
    bands = {column: [None] * len(days) for pair in BAND_COLUMNS.values() for column in pair}
    for level, (low, high) in BAND_COLUMNS.items():
        if level in forecast.bands:
            lows, highs = forecast.bands[level]
            # None (NULL) at a step too short of history for a band, never NaN
            bands[low] = [None if v != v else v for v in np.asarray(lows, np.float64).tolist()]
            bands[high] = [None if v != v else v
                           for v in np.asarray(highs, np.float64).tolist()]
    known = report.actual
    rows = [dict(step=step + 1, day=day, close=closes[step],
                 **{column: bands[column][step] for column in bands},
                 actual=None if np.isnan(known[step]) else float(known[step]))
            for step, day in enumerate(days)]
    return Entry(values, rows)


class Queued:
    """The ledger keys this worker has queued lately: each live forecast's entry is built and
    queued once per key, not on every request that serves it again."""

    def __init__(self, size: int = KEYS_KEPT) -> None:
        self._kept = BoundedCache(size)

    def first(self, key: tuple) -> bool:
        """True the first time ``key`` is seen (since it was last forgotten); then False."""
        if self._kept.get(key) is not None:
            return False
        self._kept.put(key, True)
        return True

    def forget(self, key: tuple) -> None:
        """Forget ``key`` (its entry was not queued after all), so the next request tries."""
        self._kept.put(key, None)


def record(target: Session | Engine, report: Report, kind: str | None = None) -> int:
    """Record ``report``'s live forecast once (insert or nothing); its ledger id.

    With an Engine the write is committed; with a Session the caller commits.
    """
    return write(target, [entry(report, kind)])[0]


def write(target: Session | Engine, entries: list[Entry],
          day_entries: int | None = None) -> list[int | None]:
    """Insert each entry unless its key is recorded already (then nothing changes), in one
    transaction when given an Engine; the id of each entry's key, None for one not taken
    because its as-of day holds ``day_entries`` already (default: LEDGER_DAY_ENTRIES)."""
    day_entries = current().ledger_day_entries if day_entries is None else day_entries
    if isinstance(target, Engine):
        with Session(writing(target)) as session, session.begin():
            return _write(session, entries, day_entries)
    return _write(target, entries, day_entries)


def _write(session: Session, entries: list[Entry], day_entries: int) -> list[int | None]:
    if not entries:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    first: dict[tuple, Entry] = {}
    for item in entries:  # one entry per key: the first queued wins, as in the database
        first.setdefault(item.key, item)
    # In key order: two workers writing overlapping batches lock the same keys in the same
    # order, and PostgreSQL never has to break a deadlock by aborting one of them.
    ordered = _room(session, sorted(first), day_entries)
    if not ordered:
        return [None] * len(entries)
    # One statement for the batch (SQLAlchemy sends multi-row VALUES): two workers recording
    # the same key at once both land on the unique key, and the database picks the winner.
    statement = insert(_FORECASTS).on_conflict_do_nothing(
        index_elements=[column.name for column in _KEY]).returning(*_KEY, _FORECASTS.c.id)
    inserted = {tuple(found[:4]): int(found[4])
                for found in session.execute(statement, [first[k].values for k in ordered])}
    rows = [dict(row, forecast_id=inserted[key]) for key in ordered if key in inserted
            for row in first[key].rows]
    if rows:
        session.execute(insert(_ROWS).on_conflict_do_nothing(
            index_elements=["forecast_id", "step"]), rows)
    ids = dict(inserted)
    missing = [key for key in ordered if key not in ids]
    if missing:  # recorded before: their ids, read once
        ids.update({tuple(found[:4]): int(found[4]) for found in session.execute(
            select(*_KEY, _FORECASTS.c.id).where(tuple_(*_KEY).in_(missing)))})
    return [ids.get(item.key) for item in entries]


def _room(session: Session, keys: list[tuple], day_entries: int) -> list[tuple]:
    """The keys the ledger takes: those recorded already, and new ones while their day holds
    fewer than ``day_entries``. Counted in the batch's transaction: two workers at once may
    each add a batch past it, no more."""
    days = sorted({key[2] for key in keys})
    held = dict(session.execute(  # an index-only count, bounded by the cap itself
        select(_FORECASTS.c.as_of, func.count()).where(_FORECASTS.c.as_of.in_(days))
        .group_by(_FORECASTS.c.as_of)).all())
    if all(held.get(day, 0) + len(keys) <= day_entries for day in days):
        return keys
    known = {tuple(found) for found in session.execute(
        select(*_KEY).where(tuple_(*_KEY).in_(keys)))}
    taken = []
    for key in keys:
        if key not in known:
            if held.get(key[2], 0) >= day_entries:
                continue
            held[key[2]] = held.get(key[2], 0) + 1
        taken.append(key)
    if len(taken) < len(keys):
        log.warning("ledger: %d live forecasts not recorded: their day holds %d already "
                    "(LEDGER_DAY_ENTRIES)", len(keys) - len(taken), day_entries)
    return taken


def score(target: Session | Connection, ticker: str, source: str = "yahoo",
          closes: pd.Series | None = None, since: dt.date | None = None) -> int:
    """Fill ``actual`` of ``ticker``'s unscored rows whose day now has a close; rows filled.

    Only forecasts made from ``source``'s prices are scored, with ``closes`` (date-indexed) or,
    by default, the closes stored in the price store. An actual is written in the units the
    forecast was made in: when the source re-adjusted its history since (a split or dividend
    rescales every earlier close), the close is scaled by the forecast's last close over the
    close now stored for its as_of day. A row once scored keeps its actual. ``since`` limits
    it to rows from that day on (the days that just arrived: rows of days the market was
    closed never get a close, and are not read again each time). The caller commits.
    """
    query = (select(_ROWS.c.forecast_id, _ROWS.c.step, _ROWS.c.day, _FORECASTS.c.last_close,
                    _FORECASTS.c.as_of)
             .join(_FORECASTS, _FORECASTS.c.id == _ROWS.c.forecast_id)
             .where(_FORECASTS.c.ticker == ticker, _FORECASTS.c.source == source,
                    _ROWS.c.actual.is_(None)))
    if since is not None:
        query = query.where(_ROWS.c.day >= since)
    pending = target.execute(query).all()
    if not pending:
        return 0
    if closes is None:
        closes = _stored_closes(target, ticker, source, min(row.as_of for row in pending))
    by_day = {pd.Timestamp(day).date(): float(close) for day, close in closes.items()}
    filled = []
    for row in pending:
        actual = by_day.get(row.day)
        if actual is None:
            continue
        base = by_day.get(row.as_of)
        if base and not np.isclose(base, row.last_close, rtol=1e-9, atol=0.0):
            actual *= row.last_close / base
        filled.append({"f": row.forecast_id, "s": row.step, "a": actual})
    if filled:
        target.execute(update(_ROWS).where(_ROWS.c.forecast_id == bindparam("f"),
                                           _ROWS.c.step == bindparam("s"),
                                           _ROWS.c.actual.is_(None))
                       .values(actual=bindparam("a")), filled)
    return len(filled)


def _stored_closes(target: Session | Connection, ticker: str, source: str,
                   since: dt.date) -> pd.Series:
    query = (select(Price.day, Price.close)
             .where(Price.ticker == ticker, Price.source == source, Price.day >= since))
    rows = target.execute(query).all()
    return pd.Series([close for _, close in rows],
                     index=pd.DatetimeIndex([day for day, _ in rows]), dtype=np.float64)


@guarded(LEDGER)
def recorded_models(session: Session) -> list[tuple[str, str]]:
    """The (ticker, model) pairs with forecasts in the ledger, sorted."""
    query = (select(LedgerForecast.ticker, LedgerForecast.model).distinct()
             .order_by(LedgerForecast.ticker, LedgerForecast.model))
    return [(ticker, model) for ticker, model in session.execute(query)]


@guarded(LEDGER)
def live_record(session: Session, ticker: str, model: str) -> dict:
    """MAE vs naive, band coverage and the DM p-value over the scored rows of live forecasts.

    ``coverage`` is at DEFAULT_LEVEL (``level``), the band a page shows first;
    ``coverages`` gives it at every level the ledger holds, by level ("0.8").
    """
    bands = [getattr(ForecastRow, column) for pair in BAND_COLUMNS.values() for column in pair]
    query = (select(ForecastRow.actual, ForecastRow.close, LedgerForecast.last_close, *bands)
             .join(LedgerForecast)
             .where(LedgerForecast.ticker == ticker, LedgerForecast.model == model,
                    ForecastRow.actual.is_not(None))
             .order_by(ForecastRow.day, LedgerForecast.as_of, ForecastRow.step))
    width = 3 + len(bands)
    rows = np.array([[np.nan if v is None else v for v in row] for row in session.execute(query)],
                    dtype=np.float64).reshape(-1, width)
    actual, close, naive = (rows[:, [i]] for i in range(3))
    n = len(rows)
    result = {"ticker": ticker, "model": model, "scored": n, "mae": None, "naive_mae": None,
              "relative_mae": None, "level": DEFAULT_LEVEL, "coverage": None,
              "coverages": {f"{level:g}": None for level in BAND_COLUMNS}, "dm_p": None,
              "p_text": None, "price": None}
    if n == 0:
        return result
    coverages = {f"{level:g}": _number(metrics.coverage(actual, rows[:, [3 + 2 * i]],
                                                        rows[:, [4 + 2 * i]]))
                 for i, level in enumerate(BAND_COLUMNS)}
    # price: the mean last close, whose decimals a page shows the errors in.
    result.update(price=_number(np.mean(naive, axis=0)), mae=_number(metrics.mae(actual, close)),
                  naive_mae=_number(metrics.mae(actual, naive)),
                  relative_mae=_number(metrics.relative_mae(actual, close, naive)),
                  coverages=coverages, coverage=coverages.get(f"{DEFAULT_LEVEL:g}"))
    if n >= track_record.MIN_FORECASTS:
        # Horizon 1 (no autocovariance lags): ledger forecasts are made when people ask, not
        # at evenly spaced origins, so there is no fixed overlap for a HAC correction to model.
        # Overlapping rows of one forecast are correlated, so this p-value is if anything
        # too small; the verdict says "not enough" below MIN_FORECASTS rows regardless.
        _, p = metrics.diebold_mariano(np.abs(actual - close)[:, 0],
                                       np.abs(actual - naive)[:, 0], horizon=1)
        if not np.isnan(p):
            result.update(dm_p=float(p), p_text=track_record.p_text(p))
    return result


def _number(values: np.ndarray) -> float | None:
    value = float(values[0])
    return None if np.isnan(value) else value

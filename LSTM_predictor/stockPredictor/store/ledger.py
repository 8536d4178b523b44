"""The forecast ledger: every distinct forecast served, recorded once and scored as closes arrive.

The rest of the package talks to it through ``record`` (or ``writer.LedgerWriter`` off the
hot path), which takes a forecast report (forecast/report.py) as every other surface does,
``score`` (which the price store calls as closes arrive), ``listing`` and ``live_record``;
nobody else writes SQL against its tables. A database that does not answer reaches callers as
DatabaseUnavailableError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from .. import rounding
from ..errors import DataError, excerpt
from ..forecast import metrics, track_record
from ..forecast.report import KINDS, Report
from ..model.artifacts import MODEL_FILE, Artifact
from .db import guarded, writing
from .models import ForecastRow, LedgerForecast, Price

# The most forecasts one page of the ledger lists, and the most it may skip: far past any
# ledger, and inside every database's integers.
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_OFFSET = 1_000_000_000
LEDGER = "the forecast ledger"
_FORECASTS, _ROWS = LedgerForecast.__table__, ForecastRow.__table__


def model_sha256(artifact: Artifact) -> str:
    """The SHA-256 of the artifact's model.h5, as its verified model.json records it."""
    return str(artifact.metadata["files"][MODEL_FILE])


@dataclass(frozen=True)
class Entry:
    """One forecast ready to write: the ledger's columns and its rows, no frame kept."""

    values: dict
    rows: list[dict]


def entry(report: Report, kind: str | None = None) -> Entry:
    """The ledger entry of ``report``: its forecast at its level, and the closes it already
    knows (a replay's) scored at once; the rest are scored by ``score`` as closes arrive.

    ``kind`` overrides the report's own ("live" or "replay").
    """
    kind = kind or report.kind
    if kind not in KINDS:
        raise DataError(f"ledger kind {excerpt(kind)} is not one of {', '.join(KINDS)}")
    forecast = report.forecast
    sha = model_sha256(report.artifact)
    as_of, horizon = pd.Timestamp(forecast.as_of).date(), len(forecast.dates)
    level = None if forecast.level is None else float(forecast.level)
    prices = report.prices_fingerprint
    key = "|".join([forecast.ticker, sha, as_of.isoformat(), str(horizon), repr(level), prices])
    source = str(report.data.get("source") or "unknown")[:16]
    values = dict(fingerprint=hashlib.sha256(key.encode()).hexdigest(), ticker=forecast.ticker,
                  model=forecast.model, model_sha256=sha, kind=kind, source=source, as_of=as_of,
                  horizon=horizon, level=level, prices_fingerprint=prices,
                  upload_id=report.upload_id, created_at=dt.datetime.now(dt.timezone.utc),
                  served=1)
    days = pd.DatetimeIndex(forecast.dates).date
    last = float(forecast.last_close)
    closes = np.asarray(forecast.closes, np.float64).tolist()
    banded = forecast.level is not None
    lows = np.asarray(forecast.lows, np.float64).tolist() if banded else [None] * len(days)
    highs = np.asarray(forecast.highs, np.float64).tolist() if banded else [None] * len(days)
    known = report.actual
    rows = [dict(step=step + 1, day=day, close=closes[step], low=lows[step], high=highs[step],
                 last_close=last, actual=None if np.isnan(known[step]) else float(known[step]))
            for step, day in enumerate(days)]
    return Entry(values, rows)


def record(target: Session | Engine, report: Report, kind: str | None = None) -> int:
    """Record ``report``'s forecast once (a repeat adds one to ``served``); its ledger id.

    With an Engine the write is committed; with a Session the caller commits.
    """
    return write(target, [entry(report, kind)])[0]


def write(target: Session | Engine, entries: list[Entry],
          counts: list[int] | None = None) -> list[int]:
    """Insert-or-increment each entry, in one transaction when given an Engine; their ids.

    ``counts`` says how many times each entry was served (default once each): a repeat, in the
    ledger already or twice in ``entries``, adds its count to ``served``.
    """
    counts = [1] * len(entries) if counts is None else list(counts)
    if len(counts) != len(entries):
        raise DataError(f"{len(counts)} counts for {len(entries)} ledger entries")
    if isinstance(target, Engine):
        with Session(writing(target)) as session, session.begin():
            return _write(session, entries, counts)
    return _write(target, entries, counts)


def _write(session: Session, entries: list[Entry], counts: list[int]) -> list[int]:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    served: dict[str, int] = {}
    first: dict[str, Entry] = {}
    for item, count in zip(entries, counts):  # one row per forecast, repeats summed
        fingerprint = item.values["fingerprint"]
        first.setdefault(fingerprint, item)
        served[fingerprint] = served.get(fingerprint, 0) + count
    # In fingerprint order: two workers writing overlapping batches then lock the same rows in
    # the same order, and PostgreSQL never has to break a deadlock by aborting one of them.
    ordered = sorted(first)
    # One statement, executed for many forecasts at once (SQLAlchemy batches them into
    # multi-row VALUES, compiled once): two workers recording the same forecast at once both
    # land on the unique fingerprint, and the database picks the winner.
    statement = insert(_FORECASTS)
    statement = statement.on_conflict_do_update(
        index_elements=["fingerprint"],
        # Served again: counted. Once served from the latest fresh close it is live for good
        # (first served from a stale copy, it was a replay until then).
        set_={"served": _FORECASTS.c.served + statement.excluded.served,
              "kind": case((statement.excluded.kind == "live", "live"),
                           else_=_FORECASTS.c.kind)}
    ).returning(_FORECASTS.c.fingerprint, _FORECASTS.c.id, _FORECASTS.c.served)
    # Each returned row names its fingerprint: nothing relies on RETURNING's order, which an
    # upsert of many rows does not promise.
    returned = session.execute(statement, [{**first[f].values, "served": served[f]}
                                           for f in ordered]).all()
    ids: dict[str, int] = {}
    rows: list[dict] = []
    for fingerprint, forecast_id, total in returned:
        ids[fingerprint] = int(forecast_id)
        # An insert returns its own count; a repeat returns more, as it already had >= 1, and
        # already has its rows.
        if total == served[fingerprint]:
            rows += [dict(row, forecast_id=forecast_id) for row in first[fingerprint].rows]
    if rows:
        session.execute(insert(_ROWS).on_conflict_do_nothing(
            index_elements=["forecast_id", "step"]), rows)
    return [ids[item.values["fingerprint"]] for item in entries]


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
    query = (select(_ROWS.c.forecast_id, _ROWS.c.step, _ROWS.c.day, _ROWS.c.last_close,
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
def listing(target: Session | Engine, ticker: str | None = None, model: str | None = None,
            as_of=None, kind: str | None = None, limit: int = DEFAULT_LIMIT,
            offset: int = 0) -> dict:
    """The ledger, newest first: {"total", "forecasts": [...]} filtered and paged; prices
    rounded as a forecast answer rounds them."""
    if isinstance(target, Engine):
        with Session(target) as session:
            return listing(session, ticker, model, as_of, kind, limit, offset)
    session = target
    if kind is not None and kind not in KINDS:
        raise DataError(f"kind {excerpt(kind)} is not one of {', '.join(KINDS)}")
    limit, offset = max(1, min(int(limit), MAX_LIMIT)), max(0, min(int(offset), MAX_OFFSET))
    filters = [column == value for column, value in (
        (LedgerForecast.ticker, ticker), (LedgerForecast.model, model),
        (LedgerForecast.as_of, None if as_of is None else pd.Timestamp(as_of).date()),
        (LedgerForecast.kind, kind)) if value is not None]
    total = session.scalar(select(func.count()).select_from(LedgerForecast).where(*filters))
    query = (select(LedgerForecast).where(*filters).options(selectinload(LedgerForecast.rows))
             .order_by(LedgerForecast.created_at.desc(), LedgerForecast.id.desc())
             .limit(limit).offset(offset))
    return {"total": int(total or 0),
            "forecasts": [_as_dict(item) for item in session.scalars(query)]}


def _as_dict(item: LedgerForecast) -> dict:
    created = item.created_at
    if created.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        created = created.replace(tzinfo=dt.timezone.utc)
    return {"id": item.id, "ticker": item.ticker, "model": item.model, "kind": item.kind,
            "source": item.source, "as_of": item.as_of.isoformat(), "horizon": item.horizon,
            "level": item.level, "served": item.served, "upload_id": item.upload_id,
            "created_at": created.isoformat(timespec="seconds"),
            "forecast": [_scored_row(row) for row in item.rows]}


def _scored_row(row: ForecastRow) -> dict:
    """A ledger row as the API gives it: the score is null until the actual close is known."""
    known = row.actual is not None
    banded = known and row.low is not None and row.high is not None
    # Forecast minus actual, as everywhere in the app; the naive forecast is the last close
    # before the forecast was made.
    prices = {"close": row.close, "low": row.low, "high": row.high, "actual": row.actual,
              "error": row.close - row.actual if known else None,
              "naive_error": row.last_close - row.actual if known else None}
    return {"date": row.day.isoformat(),
            **{key: None if value is None else rounding.price(value)
               for key, value in prices.items()},
            "inside": bool(row.low <= row.actual <= row.high) if banded else None}


@guarded(LEDGER)
def recorded_models(session: Session, kind: str = "live") -> list[tuple[str, str]]:
    """The (ticker, model) pairs with forecasts of ``kind`` in the ledger, sorted."""
    if kind not in KINDS:
        raise DataError(f"kind {excerpt(kind)} is not one of {', '.join(KINDS)}")
    query = (select(LedgerForecast.ticker, LedgerForecast.model)
             .where(LedgerForecast.kind == kind).distinct()
             .order_by(LedgerForecast.ticker, LedgerForecast.model))
    return [(ticker, model) for ticker, model in session.execute(query)]


@guarded(LEDGER)
def live_record(session: Session, ticker: str, model: str) -> dict:
    """MAE vs naive, band coverage and the DM p-value over the scored rows of live forecasts."""
    query = (select(ForecastRow.actual, ForecastRow.close, ForecastRow.last_close,
                    ForecastRow.low, ForecastRow.high)
             .join(LedgerForecast)
             .where(LedgerForecast.ticker == ticker, LedgerForecast.model == model,
                    LedgerForecast.kind == "live", ForecastRow.actual.is_not(None))
             .order_by(ForecastRow.day, LedgerForecast.as_of, ForecastRow.step))
    rows = np.array([[np.nan if v is None else v for v in row] for row in session.execute(query)],
                    dtype=np.float64).reshape(-1, 5)
    actual, close, naive, low, high = (rows[:, [i]] for i in range(5))
    n = len(rows)
    result = {"ticker": ticker, "model": model, "scored": n, "mae": None, "naive_mae": None,
              "relative_mae": None, "coverage": None, "dm_p": None, "p_text": None,
              "price": None}
    if n == 0:
        return result
    # price: the mean last close, whose decimals a page shows the errors in.
    result.update(price=_number(np.mean(naive, axis=0)), mae=_number(metrics.mae(actual, close)),
                  naive_mae=_number(metrics.mae(actual, naive)),
                  relative_mae=_number(metrics.relative_mae(actual, close, naive)),
                  coverage=_number(metrics.coverage(actual, low, high)))
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

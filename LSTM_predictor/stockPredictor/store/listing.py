"""The ledger's listing: newest first, one page at a time from a cursor, with a bounded count.

A page is found from an id (``before``: older than it; ``after``: newer than it) by walking one
index back from there, ``(filter column, id)`` or the primary key, so the thousandth page costs
what the first does: no OFFSET skips rows to reach it. The count stops at COUNT_CAP: a listing
never counts a whole ledger to say "more than 1,000". Ids grow with time, so newest first is
highest id first.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, exists, func, null, select
from sqlalchemy.orm import Session

from .. import rounding
from ..forecast.bands import DEFAULT_LEVEL, offered
from .db import guarded
from .models import LEDGER_LEVELS, ForecastRow, LedgerForecast

LEDGER = "the forecast ledger"
# Forecasts on one page (each holds the model's whole path, 30 days), and where a count stops.
DEFAULT_LIMIT, MAX_LIMIT = 20, 50
COUNT_CAP = 1000
# Ids are 32-bit integers in every database the store runs on: a cursor past them is no id.
MAX_ID = 2**31 - 1
_FORECASTS, _ROWS = LedgerForecast.__table__, ForecastRow.__table__


@guarded(LEDGER)
def listing(target: Session | Engine, ticker: str | None = None, model: str | None = None,
            as_of=None, level: float = DEFAULT_LEVEL, limit: int = DEFAULT_LIMIT,
            before: int | None = None, after: int | None = None) -> dict:
    """A page of the ledger, newest first, filtered; each day's band at ``level``.

    ``before``: the page of forecasts older than that id (the next page); ``after``: the page
    just newer than it (the previous one). The answer: {"total": matches up to COUNT_CAP,
    "total_capped": whether more match, "forecasts": [...], "older": the ``before`` of the next
    page or None, "newer": the ``after`` of the previous page or None}; prices rounded as a
    forecast answer rounds them.
    """
    if isinstance(target, Engine):
        with Session(target) as session:
            return listing(session, ticker, model, as_of, level, limit, before, after)
    session, level = target, offered(level)
    limit = max(1, min(int(limit), MAX_LIMIT))
    filters = [column == value for column, value in (
        (_FORECASTS.c.ticker, ticker), (_FORECASTS.c.model, model),
        (_FORECASTS.c.as_of, None if as_of is None else pd.Timestamp(as_of).date()))
        if value is not None]
    entries, older, newer = _page(session, filters, limit, _cursor(before), _cursor(after))
    counted = session.scalar(select(func.count()).select_from(
        select(_FORECASTS.c.id).where(*filters).limit(COUNT_CAP + 1).subquery()))
    return {"total": min(int(counted or 0), COUNT_CAP), "total_capped": counted > COUNT_CAP,
            "forecasts": _as_dicts(session, entries, level), "older": older, "newer": newer}


def _cursor(value: int | None) -> int | None:
    return None if value is None else max(0, min(int(value), MAX_ID + 1))


def _page(session: Session, filters: list, limit: int, before: int | None,
          after: int | None) -> tuple[list, int | None, int | None]:
    # One more than a page, to know whether another lies beyond it.
    query = select(_FORECASTS).where(*filters)
    if after is not None:
        found = session.execute(query.where(_FORECASTS.c.id > after)
                                .order_by(_FORECASTS.c.id.asc()).limit(limit + 1)).all()
        if len(found) <= limit:  # nothing newer beyond it: the newest page, full
            return _page(session, filters, limit, None, None)
        entries = found[:limit][::-1]
        return entries, _beyond(session, filters, entries[-1].id), entries[0].id
    if before is not None:
        query = query.where(_FORECASTS.c.id < before)
    found = session.execute(query.order_by(_FORECASTS.c.id.desc()).limit(limit + 1)).all()
    entries = found[:limit]
    older = entries[-1].id if len(found) > limit else None
    newer = None
    if before is not None and entries and session.scalar(select(exists().where(
            *filters, _FORECASTS.c.id > entries[0].id))):
        newer = entries[0].id
    return entries, older, newer


def _beyond(session: Session, filters: list, last: int) -> int | None:
    # ``last`` as the next page's cursor when an older forecast matches, else None.
    older = session.scalar(select(exists().where(*filters, _FORECASTS.c.id < last)))
    return last if older else None


def _as_dicts(session: Session, entries: list, level: float) -> list[dict]:
    """The entries as the API gives them, each with its days: the band at ``level``, the
    scores null until the actual close is known. One query and one rounding for the page."""
    if not entries:
        return []
    name = LEDGER_LEVELS.get(level)
    low, high = (_ROWS.c[f"low_{name}"], _ROWS.c[f"high_{name}"]) if name else (None, None)
    columns = [_ROWS.c.forecast_id, _ROWS.c.day, _ROWS.c.close, low, high, _ROWS.c.actual]
    found = session.execute(
        select(*(column if column is not None else null() for column in columns))
        .where(_ROWS.c.forecast_id.in_([entry.id for entry in entries]))
        .order_by(_ROWS.c.forecast_id, _ROWS.c.step)).all()
    naive = {entry.id: float(entry.last_close) for entry in entries}
    ids = [row[0] for row in found]
    # None reads as NaN in a float array: every day of the page at once.
    close, lows, highs, actual = (np.array([row[k] for row in found], np.float64)
                                  for k in range(2, 6))
    last = np.array([naive[i] for i in ids], np.float64)
    # Forecast minus actual, as everywhere in the app; no change is the last close before it.
    parts = [close, lows, highs, actual, close - actual, last - actual]
    rounded = np.array(rounding.prices(np.concatenate(parts)), dtype=object).reshape(6, -1)
    rounded[np.isnan(np.concatenate(parts).reshape(6, -1))] = None
    with np.errstate(invalid="ignore"):
        inside = ((lows <= actual) & (actual <= highs)).tolist()
    unknown = (np.isnan(actual) | np.isnan(lows) | np.isnan(highs)).tolist()
    days: dict[int, list] = {}
    for i, (forecast_id, day, *_), values in zip(range(len(found)), found, rounded.T.tolist()):
        days.setdefault(forecast_id, []).append({
            "date": day.isoformat(), **dict(zip(_ROW_FIELDS, values)),
            "inside": None if unknown[i] else inside[i]})
    return [_as_dict(entry, days.get(entry.id, []), level) for entry in entries]


_ROW_FIELDS = ("close", "low", "high", "actual", "error", "naive_error")


def _as_dict(entry, days: list[dict], level: float) -> dict:
    created = entry.created_at
    if created.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        created = created.replace(tzinfo=dt.timezone.utc)
    banded = bool(days) and all(day["low"] is not None for day in days)
    return {"id": entry.id, "ticker": entry.ticker, "model": entry.model, "source": entry.source,
            "as_of": entry.as_of.isoformat(), "horizon": entry.horizon,
            "level": level if banded else None,
            "created_at": created.isoformat(timespec="seconds"), "forecast": days}

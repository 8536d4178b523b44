"""Watchlist summaries in the database, so that every web process serves a row (issue 22, B).

A summary (forecast.watch.Summary) is keyed by model, ticker and prices; a worker computes it
once and any web process reads it. The payload is JSON: floats round-trip exactly (repr), NaN
as null. At most WATCHLIST_SUMMARIES_MAX rows are kept; past it the oldest go, so yesterday's
prices' summaries leave first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..forecast.watch import Summary, SummaryKey
from .db import guarded, writing
from .models import WatchSummary

SUMMARIES = "watchlist summaries"
_TABLE = WatchSummary.__table__
_KEY = (_TABLE.c.model_digest, _TABLE.c.ticker, _TABLE.c.prices_fingerprint)


@guarded(SUMMARIES)
def get_many(engine: Engine, keys: Iterable[SummaryKey]) -> dict[SummaryKey, Summary]:
    """The stored summaries among ``keys``, in one query."""
    wanted = sorted({tuple(key) for key in keys})
    if not wanted:
        return {}
    statement = select(*_KEY, _TABLE.c.model_name, _TABLE.c.as_of, _TABLE.c.payload).where(
        tuple_(*_KEY).in_(wanted))
    with engine.connect() as connection:
        found = connection.execute(statement).all()
    return {(digest, ticker, prices): Summary.from_payload(
        (digest, ticker, prices), name, as_of.isoformat(), payload)
        for digest, ticker, prices, name, as_of, payload in found}


@guarded(SUMMARIES)
def put(engine: Engine, summary: Summary, max_rows: int,
        now: dt.datetime | None = None) -> None:
    """Store ``summary`` (an upsert on its key), evicting the oldest past ``max_rows``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    digest, ticker, prices = summary.key
    values = {"model_name": summary.model_name, "as_of": dt.date.fromisoformat(summary.as_of),
              "created_at": now, "payload": summary.payload()}
    with Session(writing(engine)) as session, session.begin():
        insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
                  else sqlite.insert)
        session.execute(insert(WatchSummary).values(
            model_digest=digest, ticker=ticker, prices_fingerprint=prices, **values)
            .on_conflict_do_update(index_elements=[c.name for c in _KEY], set_=values))
        excess = session.execute(select(func.count()).select_from(_TABLE)).scalar_one() - max_rows
        if excess > 0:  # the oldest first, by the created_at index
            oldest = (select(_TABLE.c.id).order_by(_TABLE.c.created_at, _TABLE.c.id)
                      .limit(excess).scalar_subquery())
            session.execute(delete(WatchSummary).where(WatchSummary.id.in_(oldest)))


upsert = put  # the name the job reads best with


def count(engine: Engine) -> int:
    """How many summaries are stored."""
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(_TABLE)).scalar_one()

"""Watchlist summaries in the database, so that every web process serves a row (issue 22, B).

A summary (forecast.watch.Summary) is keyed by model, ticker and prices; a worker computes it
once and any web process reads it. The payload is JSON: floats round-trip exactly (repr), NaN
as null. A ticker whose summary could not be computed has its reason stored under the same key
(``put_failure``), read back as forecast.watch.Failed: its row says why instead of "computing"
forever, and the job is not queued again for it; new prices or a new model make a new key, and a
success under the same key replaces it. At most WATCHLIST_SUMMARIES_MAX rows (summaries and
failures) are kept; past it the oldest go, so yesterday's prices' summaries leave first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..forecast.watch import Failed, Summary, SummaryKey
from .db import guarded, writing
from .models import WatchSummary

SUMMARIES = "watchlist summaries"
_TABLE = WatchSummary.__table__
_KEY = (_TABLE.c.model_digest, _TABLE.c.ticker, _TABLE.c.prices_fingerprint)
_FAILED = "failed"  # the payload's one key for a failure: {"failed": reason}


@guarded(SUMMARIES)
def get_many(engine: Engine, keys: Iterable[SummaryKey]) -> dict[SummaryKey, Summary | Failed]:
    """The stored summaries among ``keys`` (Failed where only a failure is stored), in one
    query."""
    wanted = sorted({tuple(key) for key in keys})
    if not wanted:
        return {}
    statement = select(*_KEY, _TABLE.c.model_name, _TABLE.c.as_of, _TABLE.c.payload).where(
        tuple_(*_KEY).in_(wanted))
    with engine.connect() as connection:
        found = connection.execute(statement).all()
    return {(digest, ticker, prices): _read((digest, ticker, prices), name, as_of, payload)
            for digest, ticker, prices, name, as_of, payload in found}


def _read(key: SummaryKey, name: str, as_of: dt.date, payload: dict) -> Summary | Failed:
    if set(payload) == {_FAILED}:
        return Failed(str(payload[_FAILED]))
    return Summary.from_payload(key, name, as_of.isoformat(), payload)


@guarded(SUMMARIES)
def put(engine: Engine, summary: Summary, max_rows: int,
        now: dt.datetime | None = None) -> None:
    """Store ``summary`` (an upsert on its key, replacing a failure), evicting the oldest past
    ``max_rows``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    _upsert(engine, summary.key, {"model_name": summary.model_name,
                                  "as_of": dt.date.fromisoformat(summary.as_of),
                                  "created_at": now, "payload": summary.payload()}, max_rows)


@guarded(SUMMARIES)
def put_failure(engine: Engine, key: SummaryKey, reason: str, max_rows: int,
                now: dt.datetime | None = None) -> None:
    """Store why the summary of ``key`` could not be computed (``reason``: one sentence, read
    back as Failed), evicting the oldest past ``max_rows``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    _upsert(engine, key, {"model_name": "", "as_of": now.date(), "created_at": now,
                          "payload": {_FAILED: reason}}, max_rows)


def _upsert(engine: Engine, key: SummaryKey, values: dict, max_rows: int) -> None:
    digest, ticker, prices = key
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

"""The shared price store: daily prices in the database, fetched from Yahoo once for every worker.

Every worker and dyno reads a ticker's prices from the ``prices`` table. One ``fetch_state`` row
per ticker and source says when it was last checked: a worker that wants fresher prices first
*claims* that row with one conditional UPDATE (or, the first time, an INSERT ... ON CONFLICT DO
NOTHING), and only the worker whose statement changed a row asks Yahoo, so two workers never
fetch the same ticker at once, and a ticker is re-checked at most once per ``recheck``. Yahoo is
asked only for the days after the last stored one (plus a short overlap that shows whether the
adjusted history changed: a split or dividend rescales every earlier close, and then the whole
series is fetched again rather than stitched). A rate limit or network failure is written to the
row with ``retry_after``, so every worker backs off together and serves the stored prices,
marked stale with a notice saying how old they are.

The bundled sample is *not* loaded into the store; callers read it with ``data.sample``.
It is immutable and shipped with the code, so the package already is its permanent store; it is
read at memory speed; and copying it into the database would make the offline default (``make
run`` with no network) depend on a database write succeeding.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Row, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..data.frame import finish
from ..data.tickers import check_ticker
from ..data.yahoo import from_yahoo
from ..errors import SourceUnavailableError, UnknownTickerError
from . import ledger
from .db import guarded, writing
from .models import FetchState, Price

Fetch = Callable[..., pd.DataFrame]
# Calendar days fetched again before the last stored one: at least a few trading days even
# around long weekends, in the same single request, so a changed adjusted history shows.
OVERLAP = dt.timedelta(days=7)
# Adjusted closes that differ by more than this (relative) mean Yahoo re-adjusted the history.
RTOL = 1e-6
UNKNOWN = "unknown: "  # prefix of a failure that means "Yahoo has no such ticker"
# How long a first fetch may hold a ticker: past gunicorn's 30 s timeout, which kills a worker.
LEASE = dt.timedelta(seconds=60)
_VALUES = ("open", "high", "low", "close", "volume")


def utcnow() -> dt.datetime:
    """The time now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands DateTime(timezone=True) back naive; everything written here is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


class PriceStore:
    """Daily prices kept in the database, refreshed at most once per ``recheck`` by any worker."""

    def __init__(self, engine: Engine, fetch: Fetch = from_yahoo, *, source: str = "yahoo",
                 recheck: dt.timedelta = dt.timedelta(minutes=15),
                 backoff: dt.timedelta = dt.timedelta(minutes=5),
                 wait: float = 10.0, clock: Callable[[], dt.datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep):
        self.engine, self.fetch, self.source = engine, fetch, source
        self._writes = writing(engine)  # claims and saves take SQLite's write lock at BEGIN
        self.recheck, self.backoff, self.clock, self.sleep = recheck, backoff, clock, sleep
        # How long a worker waits for another's first fetch of a ticker it has nothing of.
        self.wait = wait
        self._insert = (postgresql.insert if engine.dialect.name == "postgresql"
                        else sqlite.insert)

    # --- reading -------------------------------------------------------------------------------

    @guarded("the price store")
    def load(self, ticker: str) -> pd.DataFrame:
        """The stored daily prices of ``ticker``, refreshed when due; stale while Yahoo is down.

        DatabaseUnavailableError when the database does not answer.
        """
        ticker = check_ticker(ticker)
        now = self.clock()
        state = self._state(ticker)
        if state is not None and _aware(state.retry_after) and now < _aware(state.retry_after):
            return self._stale(ticker, state, now)
        if (state is not None and state.last_day is not None and state.checked_at is not None
                and now - _aware(state.checked_at) < self.recheck):
            return self._frame(ticker, state)  # checked lately: read, and take no write lock
        if not self._claim(ticker, now):
            return self._stored_or_wait(ticker, state, now)
        try:
            self._refresh(ticker, state, now)
        except SourceUnavailableError as exc:
            self._failed(ticker, state, now, str(exc), retry=True)
            return self._stale(ticker, self._state(ticker), now)
        except UnknownTickerError as exc:
            self._failed(ticker, state, now, UNKNOWN + str(exc), retry=False)
            raise
        except BaseException:
            self._release(ticker, state)  # a bug must not block the ticker for `recheck`
            raise
        frame = self._frame(ticker, self._state(ticker))
        if frame.empty:  # listed today: Yahoo has only the unfinished session
            raise UnknownTickerError(f"{ticker!r} has no finished trading day on Yahoo Finance "
                                     f"yet")
        return frame

    def _state(self, ticker: str) -> Row | None:
        with self.engine.connect() as connection:
            return connection.execute(select(FetchState).where(
                FetchState.ticker == ticker, FetchState.source == self.source)).first()

    def _rows(self, ticker: str) -> pd.DataFrame:
        query = (select(Price.day, *(getattr(Price, c) for c in _VALUES))
                 .where(Price.ticker == ticker, Price.source == self.source).order_by(Price.day))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=["day", *_VALUES])
        return frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("day")), name="date"))

    def _frame(self, ticker: str, state: Row | None) -> pd.DataFrame:
        frame = self._rows(ticker)
        if frame.empty:
            return frame
        frame = finish(frame, ticker, self.source)
        checked = _aware(state.checked_at) if state is not None else None
        if checked is not None:  # when Yahoo last answered, not when this worker read the table
            frame.attrs["fetched_at"] = checked.isoformat(timespec="seconds")
        frame.attrs["stale"] = False
        if state is not None and state.name:
            frame.attrs["name"] = state.name
        return frame

    def _stale(self, ticker: str, state: Row | None, now: dt.datetime) -> pd.DataFrame:
        failure = (state.failure if state is not None else None) or "Yahoo Finance failed"
        frame = self._frame(ticker, state)
        if frame.empty:
            raise SourceUnavailableError(f"{failure}; no stored prices for {ticker!r} either")
        checked = _aware(state.checked_at)
        age = f"{(now - checked) // dt.timedelta(minutes=1)} minutes" if checked else "unknown"
        frame.attrs["stale"] = True
        frame.attrs["notice"] = (f"{failure}; showing stored prices to {frame.index[-1].date()}, "
                                 f"last updated {age} ago")
        return frame

    def _stored_or_wait(self, ticker: str, state: Row | None, now: dt.datetime) -> pd.DataFrame:
        # Another worker holds the claim, or checked within `recheck`: what is stored will do.
        deadline = time.monotonic() + self.wait
        while True:
            state = self._state(ticker)
            if state is not None and state.failure and state.last_day is None:
                if state.failure.startswith(UNKNOWN):
                    raise UnknownTickerError(state.failure[len(UNKNOWN):])
                raise SourceUnavailableError(state.failure)
            frame = self._frame(ticker, state)
            if not frame.empty:
                return frame
            if time.monotonic() >= deadline:
                raise SourceUnavailableError(f"prices of {ticker!r} are being fetched by another "
                                             f"worker; try again in a moment")
            self.sleep(0.1)

    # --- claiming ------------------------------------------------------------------------------

    def _claim(self, ticker: str, now: dt.datetime) -> bool:
        """True if this worker won the right to fetch ``ticker`` now (one statement, atomic)."""
        key = and_(FetchState.ticker == ticker, FetchState.source == self.source)
        # A first fetch that never finished (its worker killed by gunicorn's timeout) holds a
        # ticker with nothing stored for LEASE only, not for all of `recheck`.
        due = or_(FetchState.checked_at.is_(None), FetchState.checked_at <= now - self.recheck,
                  and_(FetchState.last_day.is_(None), FetchState.failure.is_(None),
                       FetchState.checked_at <= now - LEASE))
        free = or_(FetchState.retry_after.is_(None), FetchState.retry_after <= now)
        with self._writes.begin() as connection:
            # The database re-checks the WHERE under its row lock, so of two concurrent
            # UPDATEs only one changes the row: the row it returns, not a read, decides who
            # fetches. (RETURNING rather than rowcount, which psycopg leaves at -1 here.)
            claimed = connection.execute(update(FetchState).where(key, due, free)
                                         .values(checked_at=now)
                                         .returning(FetchState.ticker)).first()
            if claimed is None:
                first = (self._insert(FetchState)
                         .values(ticker=ticker, source=self.source, checked_at=now)
                         .on_conflict_do_nothing(index_elements=["ticker", "source"])
                         .returning(FetchState.ticker))
                claimed = connection.execute(first).first()
        return claimed is not None

    def _release(self, ticker: str, state: Row | None) -> None:
        with self._writes.begin() as connection:
            connection.execute(update(FetchState).where(
                FetchState.ticker == ticker, FetchState.source == self.source)
                .values(checked_at=state.checked_at if state is not None else None))

    def _failed(self, ticker: str, state: Row | None, now: dt.datetime, message: str,
                retry: bool) -> None:
        # checked_at goes back to the last success, so the notice can say how old the prices
        # are; retry_after (not checked_at) is what keeps every worker off Yahoo meanwhile.
        values = dict(failure=message[:200], retry_after=now + self.backoff if retry else None)
        if retry:
            values["checked_at"] = state.checked_at if state is not None else None
        with self._writes.begin() as connection:
            connection.execute(update(FetchState).where(
                FetchState.ticker == ticker, FetchState.source == self.source).values(**values))

    # --- fetching ------------------------------------------------------------------------------

    def _fetch(self, ticker: str, start: dt.date | None, now: dt.datetime) -> pd.DataFrame:
        """Yahoo's daily rows of ``ticker`` from ``start``, finished days only.

        During a session Yahoo's history ends with today's row at the latest price, not a
        close: stored, it would score forecasts with a price that later changes. A day counts
        as finished once it has ended in UTC, which is after the close of every exchange from
        the Americas to Europe (and of crypto's UTC days); Asian markets wait a few hours more.
        """
        frame = self.fetch(ticker, start=start)
        return frame[frame.index < pd.Timestamp(now.astimezone(dt.timezone.utc).date())]

    def _refresh(self, ticker: str, state: Row | None, now: dt.datetime) -> None:
        last = state.last_day if state is not None else None
        if last is None:
            self._replace(ticker, self._fetch(ticker, None, now), now)
            return
        start = last - OVERLAP
        try:
            new = self._fetch(ticker, start, now)
        except UnknownTickerError:
            new = None  # nothing in the window (a long holiday, or delisted): keep what is stored
        if new is not None and new.empty:
            new = None
        if new is not None and not self._continues(ticker, new, start, last):
            self._replace(ticker, self._fetch(ticker, None, now), now)
            return
        if new is not None:
            new = new[new.index > pd.Timestamp(last)]
        self._save(ticker, new, now, replace=False)

    def _continues(self, ticker: str, new: pd.DataFrame, start: dt.date, last: dt.date) -> bool:
        """True if ``new`` agrees with the stored closes on the days both have."""
        stored = self._rows(ticker)["close"]
        stored = stored[stored.index >= pd.Timestamp(start)]
        both = stored.index.intersection(new.index)
        if len(both) == 0:  # nothing to compare: refetching is the only safe choice
            return False
        return bool(np.allclose(new["close"].loc[both].to_numpy(),
                                stored.loc[both].to_numpy(), rtol=RTOL, atol=0.0))

    def _replace(self, ticker: str, frame: pd.DataFrame, now: dt.datetime) -> None:
        self._save(ticker, frame, now, replace=True)

    def _save(self, ticker: str, frame: pd.DataFrame | None, now: dt.datetime,
              replace: bool) -> None:
        # Rows and fetch state change in one transaction: readers see the old series or the
        # new one, never half of a refetch.
        records = [] if frame is None else [
            dict(ticker=ticker, source=self.source, day=day.date(),
                 **{c: float(v) for c, v in zip(_VALUES, values)})
            for day, values in zip(frame.index, frame[list(_VALUES)].to_numpy())]
        key = and_(FetchState.ticker == ticker, FetchState.source == self.source)
        state = dict(checked_at=now, failure=None, retry_after=None)
        if frame is not None and frame.attrs.get("name"):
            state["name"] = str(frame.attrs["name"])[:120]
        with self._writes.begin() as connection:
            if replace:
                connection.execute(delete(Price).where(Price.ticker == ticker,
                                                       Price.source == self.source))
            if records:
                upsert = self._insert(Price)
                upsert = upsert.on_conflict_do_update(
                    index_elements=["ticker", "source", "day"],
                    set_={c: getattr(upsert.excluded, c) for c in _VALUES})
                connection.execute(upsert, records)
                state["last_day"] = records[-1]["day"]
            connection.execute(update(FetchState).where(key).values(**state))
            if records:
                # New closes score the ledger's forecasts for these days, in the same
                # transaction: a forecast is scored once its closes are stored, never before.
                ledger.score(connection, ticker, self.source, since=records[0]["day"])

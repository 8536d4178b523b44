"""The shared price store: daily prices in the database, fetched from Yahoo once for every worker.

Every worker and dyno reads a ticker's prices from the ``prices`` table. One ``fetch_state`` row
per ticker and source says when it was last checked: a worker that wants fresher prices first
*claims* that row with one conditional UPDATE (or, the first time, an INSERT ... ON CONFLICT DO
NOTHING), and only the worker whose statement changed a row asks Yahoo, so two workers never
fetch the same ticker at once, and a ticker is re-checked at most once per ``recheck``. Yahoo is
asked only for the days after the last stored one (plus a short overlap that shows whether the
adjusted history changed: a split or dividend rescales every earlier close, and then the whole
series is fetched again rather than stitched). A rate limit, network failure or timeout is written
to the row with ``retry_after``, and to the source's own row (``price_bounds.SOURCE_ROW``) for
YAHOO_BACKOFF seconds, so every worker backs off together, from that ticker and from Yahoo as a
whole, and serves the stored prices, marked stale with a notice saying how old they are.

A ticker Yahoo does not know leaves no row: its claim is deleted, and each worker remembers it
for ``recheck`` in a small bounded cache. The tickers kept are bounded too (``price_bounds``).

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

from .. import settings
from ..data.frame import finish
from ..data.tickers import check_ticker
from ..data.yahoo import YahooBusyError, from_yahoo
from ..errors import SourceUnavailableError, UnknownTickerError
from ..lru import BoundedCache, ByteBoundedLRU
from .db import guarded, writing
from .models import FetchState, Price
from .price_bounds import SOURCE_ROW, mark_read, sweep
from .price_refresh import CLAIMED, OVERLAP, RTOL, VALUES, Refreshing  # noqa: F401  (API too)

Fetch = Callable[..., pd.DataFrame]
UNKNOWN = "unknown: "  # prefix of a failure that means "Yahoo has no such ticker"
# How long a first fetch may hold a ticker: past gunicorn's 30 s timeout, which kills a worker.
LEASE = dt.timedelta(seconds=60)
# Tickers Yahoo did not know that a worker remembers (370 B each, 1.5 MB in all): a repeated
# random ticker is told at once, not asked of Yahoo again, and leaves no row in the database.
UNKNOWN_REMEMBERED = 4096


def utcnow() -> dt.datetime:
    """The time now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def seconds(delta: dt.timedelta) -> int:
    """Whole seconds in ``delta``, rounded up, at least 1: what a notice says to wait."""
    return max(1, int(np.ceil(delta.total_seconds())))


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC: SQLite hands DateTime(timezone=True) back naive, and everything
    written here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


class PriceStore(Refreshing):
    """Daily prices kept in the database, refreshed at most once per ``recheck`` by any worker."""

    def __init__(self, engine: Engine, fetch: Fetch = from_yahoo, *, source: str = "yahoo",
                 recheck: dt.timedelta = dt.timedelta(minutes=15),
                 backoff: dt.timedelta = dt.timedelta(minutes=5),
                 wait: float = 10.0, clock: Callable[[], dt.datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep,
                 source_backoff: dt.timedelta | None = None, max_tickers: int | None = None,
                 frames_mb: int | None = None):
        self.engine, self.fetch, self.source = engine, fetch, source
        self._writes = writing(engine)  # claims and saves take SQLite's write lock at BEGIN
        self.recheck, self.backoff, self.clock, self.sleep = recheck, backoff, clock, sleep
        # Defaults: the YAHOO_BACKOFF and PRICE_STORE_TICKERS settings.
        self.source_backoff = source_backoff if source_backoff is not None else \
            dt.timedelta(seconds=settings.current().yahoo_backoff)
        self.max_tickers = max_tickers or settings.current().price_store_tickers
        self.unknown = BoundedCache(UNKNOWN_REMEMBERED)  # ticker -> (until, message)
        # This process's frames of stored tickers, read by price_batch.stored_frames and kept
        # until fetch_state says their rows changed (PRICE_FRAMES_MB, the default).
        self.frames = ByteBoundedLRU(
            (frames_mb or settings.current().price_frames_mb) * 1024 * 1024)
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
        unknown = self.unknown.get(ticker)
        if unknown is not None and now < unknown[0]:
            raise UnknownTickerError(unknown[1])
        state, down = self._states(ticker)
        if state is not None and aware(state.retry_after) and now < aware(state.retry_after):
            return self._stale(ticker, state, now)
        if (state is not None and state.last_day is not None and state.checked_at is not None
                and now - aware(state.checked_at) < self.recheck):
            frame = self._frame(ticker, state)  # checked lately: read, and take no write lock
            if not frame.empty:  # (empty: dropped by `evict` a moment ago; fetched again)
                self._read(ticker, state, now)
                return frame
        if down is not None and aware(down.retry_after) and now < aware(down.retry_after):
            return self._stale(ticker, state, now, source=down)  # Yahoo itself is backed off
        if not self._claim(ticker, now):
            return self._stored_or_wait(ticker, state, now)
        try:
            self._refresh(ticker, state, now)
        except YahooBusyError as exc:  # nothing was asked: this worker's slots are all taken
            self._release(ticker, state)
            return self._stale(ticker, state, now, busy=str(exc))
        except SourceUnavailableError as exc:
            self._failed(ticker, state, now, str(exc), retry=True)
            self._source_failed(now, str(exc))
            return self._stale(ticker, self._state(ticker), now)
        except UnknownTickerError as exc:
            if state is not None and state.last_day is not None:  # known once, gone now
                self._failed(ticker, state, now, UNKNOWN + str(exc), retry=False)
            else:
                self._forget(ticker, now, str(exc))
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

    def _states(self, ticker: str) -> tuple[Row | None, Row | None]:
        """The ticker's fetch state and the source's, in one query."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(FetchState).where(
                FetchState.ticker.in_([ticker, SOURCE_ROW]),
                FetchState.source == self.source)).all()
        found = {row.ticker: row for row in rows}
        return found.get(ticker), found.get(SOURCE_ROW)

    def _read(self, ticker: str, state: Row, now: dt.datetime) -> None:
        # At most one write a day per ticker: what `evict` orders by.
        today = now.astimezone(dt.timezone.utc).date()
        if state.read_on is None or state.read_on < today:
            with self._writes.begin() as connection:
                mark_read(connection, ticker, self.source, today)

    def mark_read(self, tickers: list[str], today: dt.date) -> None:
        """Record in one statement that ``tickers`` were read ``today`` (what ``evict`` orders
        by); callers pass only those whose ``read_on`` is older, so a poll writes nothing."""
        if tickers:
            with self._writes.begin() as connection:
                connection.execute(update(FetchState).where(
                    FetchState.ticker.in_(tickers), FetchState.source == self.source,
                    or_(FetchState.read_on.is_(None), FetchState.read_on < today))
                    .values(read_on=today))

    def _rows(self, ticker: str) -> pd.DataFrame:
        query = (select(Price.day, *(getattr(Price, c) for c in VALUES))
                 .where(Price.ticker == ticker, Price.source == self.source).order_by(Price.day))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=["day", *VALUES])
        return frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("day")), name="date"))

    def _frame(self, ticker: str, state: Row | None) -> pd.DataFrame:
        frame = self._rows(ticker)
        if frame.empty:
            return frame
        frame = finish(frame, ticker, self.source)
        checked = aware(state.checked_at) if state is not None else None
        if checked is not None:  # when Yahoo last answered, not when this worker read the table
            frame.attrs["fetched_at"] = checked.isoformat(timespec="seconds")
        frame.attrs["stale"] = False
        if state is not None and state.name:
            frame.attrs["name"] = state.name
        return frame

    def _stale(self, ticker: str, state: Row | None, now: dt.datetime, source: Row | None = None,
               busy: str | None = None) -> pd.DataFrame:
        """The stored prices marked stale, saying why; else SourceUnavailableError, saying when
        Yahoo will be asked again (from ``source``, the source's own back-off, if given)."""
        backoff = source if source is not None else state
        failure = busy or (backoff.failure if backoff is not None else None) or \
            "Yahoo Finance failed"
        frame = self._frame(ticker, state)
        if frame.empty:
            until = aware(backoff.retry_after) if backoff is not None and not busy else None
            when = (f", and Yahoo will be asked again in {seconds(until - now)} s" if until
                    and until > now else "")
            raise SourceUnavailableError(f"{failure}; no prices of {ticker!r} are stored{when}")
        checked = aware(state.checked_at)
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
            if state is None:  # the fetcher deleted its claim: Yahoo does not know the ticker
                raise UnknownTickerError(f"no price data for ticker {ticker!r} on Yahoo")
            if state.failure and state.last_day is None:
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
                                         .values(checked_at=now - CLAIMED)
                                         .returning(FetchState.ticker)).first()
            if claimed is None:
                first = (self._insert(FetchState)
                         .values(ticker=ticker, source=self.source,
                                 checked_at=now - CLAIMED)
                         .on_conflict_do_nothing(index_elements=["ticker", "source"])
                         .returning(FetchState.ticker))
                claimed = connection.execute(first).first()
        return claimed is not None

    def _release(self, ticker: str, state: Row | None) -> None:
        with self._writes.begin() as connection:
            connection.execute(update(FetchState).where(
                FetchState.ticker == ticker, FetchState.source == self.source)
                .values(checked_at=state.checked_at if state is not None else None))

    def _forget(self, ticker: str, now: dt.datetime, message: str) -> None:
        # No row for a ticker Yahoo does not know: this worker remembers it for `recheck`.
        self.unknown.put(ticker, (now + self.recheck, message))
        with self._writes.begin() as connection:
            connection.execute(delete(FetchState).where(
                FetchState.ticker == ticker, FetchState.source == self.source,
                FetchState.last_day.is_(None)))

    def _source_failed(self, now: dt.datetime, message: str) -> None:
        # Every worker leaves Yahoo alone for `source_backoff`: one row for the whole source,
        # and the rows of failed first fetches whose back-off is over go with it.
        values = dict(retry_after=now + self.source_backoff, failure=message[:200])
        upsert = self._insert(FetchState).values(ticker=SOURCE_ROW, source=self.source,
                                                 **values)
        with self._writes.begin() as connection:
            connection.execute(upsert.on_conflict_do_update(
                index_elements=["ticker", "source"], set_=values))
            sweep(connection, self.source, now, LEASE)

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

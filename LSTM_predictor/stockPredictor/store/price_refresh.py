"""The price store's fetching half: what is asked of Yahoo, how it is stitched to what is stored,
and how it is saved (prices, fetch state, the ledger's scores and the ticker bound, in one
transaction). ``PriceStore`` in ``prices.py`` decides when; this decides what.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Row, and_, delete, update

from ..errors import UnknownTickerError
from . import ledger
from .models import FetchState, Price
from .price_bounds import evict

# Calendar days fetched again before the last stored one: at least a few trading days even
# around long weekends, in the same single request, so a changed adjusted history shows.
OVERLAP = dt.timedelta(days=7)
# Adjusted closes that differ by more than this (relative) mean Yahoo re-adjusted the history.
RTOL = 1e-6
# A claim stamps checked_at this much before the ``now`` its save stamps: the pair
# (checked_at, last_day) then changes on every save, even a refetch that ends on the same day,
# so a frame a reader kept while the fetch ran is never taken for the saved rows.
CLAIMED = dt.timedelta(microseconds=1)
# The price columns stored, in the order the store reads and writes them.
VALUES = ("open", "high", "low", "close", "volume")


class Refreshing:
    """``PriceStore``'s fetching and saving; it supplies fetch, source, _rows, _writes, _insert
    and max_tickers."""

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
                 **{c: float(v) for c, v in zip(VALUES, values)})
            for day, values in zip(frame.index, frame[list(VALUES)].to_numpy())]
        key = and_(FetchState.ticker == ticker, FetchState.source == self.source)
        state = dict(checked_at=now, failure=None, retry_after=None)
        if frame is not None and frame.attrs.get("name"):
            state["name"] = str(frame.attrs["name"])[:120]
        # A fetch is always for a reader: the ticker was read today.
        state["read_on"] = now.astimezone(dt.timezone.utc).date()
        with self._writes.begin() as connection:
            if replace:
                connection.execute(delete(Price).where(Price.ticker == ticker,
                                                       Price.source == self.source))
            if records:
                upsert = self._insert(Price)
                upsert = upsert.on_conflict_do_update(
                    index_elements=["ticker", "source", "day"],
                    set_={c: getattr(upsert.excluded, c) for c in VALUES})
                connection.execute(upsert, records)
                state["last_day"] = records[-1]["day"]
            connection.execute(update(FetchState).where(key).values(**state))
            if records:
                # New closes score the ledger's forecasts for these days, in the same
                # transaction: a forecast is scored once its closes are stored, never before.
                ledger.score(connection, ticker, self.source, since=records[0]["day"])
            if replace and records:  # a ticker new to the store (or refetched): keep the bound
                evict(connection, self.source, self.max_tickers, keep=ticker)

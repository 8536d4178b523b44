"""A per-process cache of daily prices: fresh copies spare Yahoo, stale ones stand in for it.

With a price store (``store.prices.PriceStore``, the database every worker shares), a miss here
reads the store, which alone decides when Yahoo is asked; without one (no database, or it is
down), a miss asks Yahoo directly, as before.
"""

from __future__ import annotations

import logging
import time

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from . import prices
from .errors import DataError, SourceUnavailableError, UnknownTickerError
from .lru import BoundedCache

logger = logging.getLogger(__name__)


class PriceCache:
    """Prices by ticker, reused for ``ttl`` seconds and served stale while Yahoo is down."""

    def __init__(self, source: str = "auto", ttl: float = 900.0, max_tickers: int = 32,
                 retry_after: float = 60.0, clock=time.monotonic, store=None):
        if source not in prices.SOURCES:
            raise DataError(f"price source {source!r} is not one of {', '.join(prices.SOURCES)}")
        self.source, self.ttl, self.max_tickers, self.clock = source, ttl, max_tickers, clock
        # After Yahoo fails to answer, skip it this long: offline, every page would wait on it.
        self.retry_after = retry_after
        self._down: tuple[float, SourceUnavailableError] | None = None
        self._frames = BoundedCache(max_tickers)  # ticker -> (time fetched, frame)
        self.store = store  # a store.prices.PriceStore, or None

    def load(self, ticker: str) -> pd.DataFrame:
        """Daily prices of ``ticker``: cache if fresh, else the source, else a stale copy."""
        ticker = prices.check_ticker(ticker)
        if self.source == "sample":
            return prices.from_sample(ticker)
        entry = self._frames.get(ticker)
        if entry is not None and self.clock() - entry[0] < self.ttl:
            return entry[1]
        try:
            frame = self._from_yahoo(ticker)
        except (SourceUnavailableError, UnknownTickerError) as exc:
            if entry is not None and isinstance(exc, SourceUnavailableError):
                stale = entry[1].copy()
                stale.attrs = {**entry[1].attrs, "stale": True}
                return stale
            if self.source == "yahoo":
                raise
            return prices.sample_instead(ticker, exc)
        self._frames.put(ticker, (self.clock(), frame))
        return frame

    def _from_yahoo(self, ticker: str) -> pd.DataFrame:
        if self.store is not None:
            try:
                return self.store.load(ticker)
            except SQLAlchemyError as exc:  # the database went away: Yahoo directly, as before
                logger.warning("price store unavailable for %s (%s); asking Yahoo directly",
                               ticker, type(exc).__name__)
        down = self._down
        if down is not None and self.clock() - down[0] < self.retry_after:
            raise SourceUnavailableError(f"{down[1]} (not retried for {self.retry_after:.0f} s)")
        try:
            return prices.from_yahoo(ticker)
        except SourceUnavailableError as exc:
            self._down = (self.clock(), exc)
            raise

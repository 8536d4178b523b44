"""A ticker's prices from the configured source: Yahoo, the bundled sample standing in for it,
and a per-process cache in front of them.

With a price store (``store.prices.PriceStore``, the database every worker shares), a miss in the
cache reads the store, which alone decides when Yahoo is asked; without one, or while the
database is down, a miss asks Yahoo directly.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import pandas as pd

from .. import settings
from ..errors import (DatabaseUnavailableError, DataError, SourceUnavailableError,
                      UnknownTickerError)
from ..lru import BoundedCache
from ..settings import SOURCES
from .frame import DateLike, between
from .sample import SAMPLE_TICKERS, from_sample
from .tickers import check_ticker
from .yahoo import from_yahoo

logger = logging.getLogger(__name__)
# What a ticker outside the sample is told while the sample is the only source: that live prices
# are off, and how to turn them on, for a server (PriceCache) and for a command (load).
SERVER_LIVE_OFF = ("Live prices are off: this server serves only the bundled sample. To turn "
                   "them on, set PRICE_SOURCE=auto or yahoo and restart the server.")
COMMAND_LIVE_OFF = ("Live prices are off: the price source is the bundled sample. To turn them "
                    "on, set PRICE_SOURCE=auto or yahoo, or pass --source auto.")


def check_source(source: str | None) -> str:
    """``source`` lower-cased if it is one of SOURCES (None: the PRICE_SOURCE setting)."""
    if source is None:
        return settings.current().price_source
    if not isinstance(source, str) or source.strip().lower() not in SOURCES:
        raise DataError(f"price source {source!r} is not one of {', '.join(SOURCES)}")
    return source.strip().lower()


def load(ticker: str, source: str | None = None, *, start: DateLike = None,
         end: DateLike = None) -> pd.DataFrame:
    """Daily prices of ``ticker`` from ``source`` (auto, yahoo, sample; default PRICE_SOURCE)."""
    ticker, source = check_ticker(ticker), check_source(source)
    if source == "sample":
        return between(sample_only(ticker, COMMAND_LIVE_OFF), start, end)
    if source == "yahoo":
        return from_yahoo(ticker, start, end)
    try:
        return from_yahoo(ticker, start, end)
    except (SourceUnavailableError, UnknownTickerError) as exc:
        return between(sample_instead(ticker, exc), start, end)


def sample_only(ticker: str, live_off: str = SERVER_LIVE_OFF) -> pd.DataFrame:
    """The bundled sample as the only source; a ticker outside it is also told ``live_off``."""
    try:
        return from_sample(ticker)
    except UnknownTickerError as exc:
        raise UnknownTickerError(f"{exc} {live_off}") from None


def sample_instead(ticker: str, exc: Exception) -> pd.DataFrame:
    """The bundled sample standing in after Yahoo failed with ``exc``; raises if it lacks it."""
    if ticker not in SAMPLE_TICKERS:
        if isinstance(exc, SourceUnavailableError):
            raise SourceUnavailableError(
                f"{exc}; the bundled sample only has {', '.join(SAMPLE_TICKERS)}") from exc
        raise exc
    logger.warning("Yahoo failed for %s (%s); using the bundled sample", ticker, exc)
    return from_sample(ticker)


class PriceCache:
    """Prices by ticker, reused for ``ttl`` seconds and served stale while Yahoo is down."""

    def __init__(self, source: str = "auto", ttl: float = 900.0, max_tickers: int = 32,
                 retry_after: float | None = None, clock=time.monotonic, store=None,
                 cache_dir: Path | None = None, deadline: float | None = None):
        self.source, self.ttl, self.max_tickers, self.clock = check_source(source), ttl, \
            max_tickers, clock
        # After Yahoo fails to answer, skip it this long (default: the YAHOO_BACKOFF setting):
        # offline, or with Yahoo hanging, every page would wait a deadline on it.
        self.retry_after = settings.current().yahoo_backoff if retry_after is None \
            else retry_after
        self.cache_dir = cache_dir  # yfinance's small caches; None: the CACHE_DIR setting
        self.deadline = deadline  # of each Yahoo fetch; None: the YAHOO_DEADLINE setting
        self._down: tuple[float, SourceUnavailableError] | None = None
        self._frames = BoundedCache(max_tickers)  # ticker -> (time fetched, frame)
        self.store = store  # a store.prices.PriceStore, or None

    def load(self, ticker: str) -> pd.DataFrame:
        """Daily prices of ``ticker``: cache if fresh, else the source, else a stale copy."""
        ticker = check_ticker(ticker)
        if self.source == "sample":
            return sample_only(ticker)
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
            return sample_instead(ticker, exc)
        self._frames.put(ticker, (self.clock(), frame))
        return frame

    def _from_yahoo(self, ticker: str) -> pd.DataFrame:
        if self.store is not None:
            try:
                return self.store.load(ticker)
            except DatabaseUnavailableError as exc:  # the database went away: Yahoo directly
                logger.warning("price store unavailable for %s (%s); asking Yahoo directly",
                               ticker, exc)
        down = self._down
        if down is not None and self.clock() - down[0] < self.retry_after:
            wait = math.ceil(self.retry_after - (self.clock() - down[0]))
            raise SourceUnavailableError(f"{down[1]}; it will be asked again in {wait} s")
        try:
            return from_yahoo(ticker, cache_dir=self.cache_dir, deadline=self.deadline)
        except SourceUnavailableError as exc:
            self._down = (self.clock(), exc)
            raise

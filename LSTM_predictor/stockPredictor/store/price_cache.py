"""The prices a process reads, built one way for the web app and the training worker alike."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import Engine

from ..data.sources import PriceCache
from ..data.yahoo import from_yahoo, import_yfinance
from ..settings import Settings
from .prices import PriceStore


def price_cache(settings: Settings, engine: Engine | None) -> PriceCache:
    """This process's prices through the shared store (Yahoo directly when ``engine`` is None).

    Yahoo's prices go through the store: one fetch per ticker and interval across every worker
    and dyno, and one back-off when Yahoo says no. yfinance keeps its small caches under
    CACHE_DIR. Every fetch ends within YAHOO_DEADLINE, and a failed one keeps every worker off
    Yahoo for YAHOO_BACKOFF.
    """
    fetch = functools.partial(from_yahoo, cache_dir=settings.cache_dir,
                              deadline=settings.yahoo_deadline)
    if settings.price_source != "sample":
        # Imported now: in the web app before gunicorn forks (--preload), not in the first
        # request, where its second or two would be taken from that fetch's deadline; in the
        # worker before TensorFlow, which clashes with yfinance's curl_cffi loaded after it.
        import_yfinance(settings.cache_dir)
    store = None if engine is None else PriceStore(
        engine, fetch, recheck=dt.timedelta(seconds=settings.price_ttl),
        source_backoff=dt.timedelta(seconds=settings.yahoo_backoff),
        max_tickers=settings.price_store_tickers, frames_mb=settings.price_frames_mb,
        wait=settings.yahoo_deadline + 2.0)  # another worker's fetch ends by its deadline
    return PriceCache(settings.price_source, store=store, cache_dir=settings.cache_dir,
                      ttl=settings.store_read_ttl if store else settings.price_ttl,
                      retry_after=settings.yahoo_backoff, deadline=settings.yahoo_deadline)

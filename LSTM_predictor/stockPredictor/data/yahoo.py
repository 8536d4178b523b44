"""Daily prices from Yahoo Finance through yfinance, each failure told apart in one sentence.

yfinance reports most failures as an empty frame or a logged error; with its exceptions turned on,
a rate limit or a network failure is told apart from a ticker Yahoo does not know.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from .. import settings
from ..errors import DataError, SourceUnavailableError, UnknownTickerError
from .frame import COLUMNS, PRICES, DateLike, day, finish
from .tickers import check_ticker

logger = logging.getLogger(__name__)
YAHOO_UNREACHABLE = "Yahoo Finance could not be reached"


@lru_cache(maxsize=4)
def import_yfinance(cache_dir: Path | None = None) -> ModuleType:
    """Import yfinance (curl_cffi first) with its caches under ``cache_dir``; once per folder.

    ``cache_dir`` defaults to the CACHE_DIR setting.
    """
    try:
        # curl_cffi must be loaded before TensorFlow, or the two clash (a known yfinance issue).
        import curl_cffi  # noqa: F401
    except ImportError:
        pass
    import yfinance as yf

    try:
        # A folder of its own: yfinance keeps three sqlite files (time zones, cookies, ISINs).
        cache = Path(cache_dir or settings.current().cache_dir) / "yfinance"
        cache.mkdir(parents=True, exist_ok=True)
        yf.set_tz_cache_location(str(cache))
    except Exception as exc:  # a read-only home must not stop prices from loading
        logger.debug("yfinance cache location not set: %s", exc)
    # By default yfinance logs failures and returns an empty frame, so "network down" would look
    # like "unknown ticker"; with exceptions on, from_yahoo can tell the two apart.
    yf.config.debug.hide_exceptions = False
    # Its log lines ("Cookie/crumb fetch failed (DNSError)...", "Failed to get ticker") repeat
    # what from_yahoo raises in one sentence; with no handler they would reach the terminal.
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    return yf


def from_yahoo(ticker: str, start: DateLike = None, end: DateLike = None,
               cache_dir: Path | None = None) -> pd.DataFrame:
    """Daily adjusted prices from Yahoo Finance; ``end`` is exclusive, as in yfinance.

    yfinance keeps its small caches under ``cache_dir`` (default: the CACHE_DIR setting).
    """
    ticker = check_ticker(ticker)
    yf = import_yfinance(cache_dir)
    from yfinance.exceptions import YFException, YFRateLimitError, YFTickerMissingError

    unknown = f"no price data for ticker {ticker!r} on Yahoo"
    start, end = day(start), day(end)
    period = {"period": "max"} if start is None and end is None else {"start": start, "end": end}
    handle = yf.Ticker(ticker)
    # Messages are one plain sentence each: curl's and yfinance's own wording ("curl: (6) Could
    # not resolve host ...") says nothing a person can act on; it goes to the debug log instead.
    try:
        raw = handle.history(**period, interval="1d", auto_adjust=True)
    except YFRateLimitError as exc:
        _yahoo_detail(ticker, exc)
        raise SourceUnavailableError("Yahoo Finance is rate limiting requests; try again in a "
                                     "few minutes") from exc
    except YFTickerMissingError as exc:
        _yahoo_detail(ticker, exc)
        raise UnknownTickerError(f"{unknown} (it may be delisted or misspelt)") from exc
    except OSError as exc:  # requests' and curl_cffi's errors are all OSErrors
        _yahoo_detail(ticker, exc)
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status == 404:
            raise UnknownTickerError(unknown) from exc
        raise SourceUnavailableError(YAHOO_UNREACHABLE) from exc
    except (YFException, KeyError, IndexError, TypeError, ValueError) as exc:
        # With exceptions on, a malformed Yahoo reply surfaces as one of these: Yahoo's fault.
        _yahoo_detail(ticker, exc)
        raise SourceUnavailableError("Yahoo Finance sent a reply that could not be read") from exc
    frame = finish(_from_yfinance_frame(raw, ticker), ticker, "yahoo")
    name = _yahoo_name(handle)
    if name:
        frame.attrs["name"] = name
    return frame


def _yahoo_detail(ticker: str, exc: BaseException) -> None:
    # The library's own words, for whoever turns on debug logging; never in a message.
    logger.debug("Yahoo failed for %s: %s: %s", ticker, type(exc).__name__, exc)


def _yahoo_name(handle) -> str | None:
    # history() already fetched the chart metadata, which carries the long name: no extra request.
    try:
        meta = handle.get_history_metadata() if hasattr(handle, "get_history_metadata") else {}
    except Exception:  # the name is a nicety; never fail a price load over it
        return None
    name = (meta or {}).get("longName") or (meta or {}).get("shortName")
    return str(name) if name else None


def _from_yfinance_frame(raw: pd.DataFrame, ticker: str) -> pd.DataFrame:
    # Accepts both Ticker.history() (flat columns, tz-aware index) and download() (columns
    # MultiIndex ("Price", "Ticker") unless multi_level_index=False, tz-naive index).
    if raw is None or raw.empty:
        raise UnknownTickerError(f"no price data for ticker {ticker!r} on Yahoo")
    raw = raw.copy()
    if isinstance(raw.columns, pd.MultiIndex) and "Ticker" in raw.columns.names:
        tickers = raw.columns.get_level_values("Ticker")
        if ticker not in tickers and tickers.nunique() != 1:
            raise UnknownTickerError(f"no price data for ticker {ticker!r} among "
                                     f"{sorted(set(tickers))} from Yahoo")
        raw = raw.xs(ticker if ticker in tickers else tickers[0], axis=1, level="Ticker")
    elif isinstance(raw.columns, pd.MultiIndex):
        raw.columns = raw.columns.get_level_values(next(
            (i for i, values in enumerate(raw.columns.levels) if "Close" in values), 0))
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"Yahoo returned columns {list(raw.columns)} for {ticker!r}, "
                        f"without {missing}")
    if "adj close" in raw.columns:  # auto_adjust=False output: adjust like auto_adjust does
        ratio = raw["adj close"].to_numpy(float) / raw["close"].to_numpy(float)
        for column in PRICES:
            raw[column] = raw[column].to_numpy(float) * ratio
    frame = raw[list(COLUMNS)].astype("float64")
    index = pd.DatetimeIndex(frame.index)
    # Keep the exchange's own calendar day: converting to UTC first would move Tokyo's days back.
    frame.index = (index.tz_localize(None) if index.tz is not None else index).normalize()
    close = frame["close"].to_numpy()
    frame = frame[np.isfinite(close) & (close > 0)].copy()
    # Yahoo's old rows sometimes have 0 or NaN for open/high/low; the close is the best stand-in.
    for column in ("open", "high", "low"):
        bad = ~(np.isfinite(frame[column]) & (frame[column] > 0))
        frame.loc[bad, column] = frame.loc[bad, "close"]
    frame["volume"] = frame["volume"].fillna(0.0)
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    if frame.empty:
        raise UnknownTickerError(f"no price data for ticker {ticker!r} on Yahoo")
    return frame

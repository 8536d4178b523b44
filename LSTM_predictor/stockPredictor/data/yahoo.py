"""Daily prices from Yahoo Finance through yfinance, each failure told apart in one sentence.

yfinance reports most failures as an empty frame or a logged error; with its exceptions turned on,
a rate limit or a network failure is told apart from a ticker Yahoo does not know.

Every fetch has a deadline (YAHOO_DEADLINE, a few seconds): it runs in a thread of its own, the
caller stops waiting at the deadline, and every HTTP call yfinance makes for it (cookie, crumb,
time zone, history) gets curl connect and total timeouts that end at that same deadline, so the
thread ends too. At most FETCH_SLOTS such threads run in a process; a further fetch is refused
at once rather than queued behind a Yahoo that does not answer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd

from .. import settings
from ..errors import DataError, SourceUnavailableError, UnknownTickerError
from .frame import COLUMNS, PRICES, DateLike, day, finish
from .tickers import check_ticker

logger = logging.getLogger(__name__)
YAHOO_UNREACHABLE = "Yahoo Finance could not be reached"
# Yahoo fetches one process runs at once, those its callers gave up on included: a hanging
# Yahoo holds each for one deadline at most, and the next fetch is refused rather than queued.
# Fewer than a worker's request threads (4, Flask_webapp/serving.py), so while Yahoo hangs a
# thread stays free for the health check and the bundled sample.
FETCH_SLOTS = 2
# Seconds one HTTP call may take to connect (a TCP and TLS handshake with Yahoo takes ~0.2 s).
CONNECT_S = 1.5


class YahooBusyError(SourceUnavailableError):
    """Every fetch slot of this process is waiting on Yahoo: nothing was asked of it."""


_deadline = threading.local()  # .at: the monotonic time the fetch this thread runs must end
# .at: the monotonic time a batched download (yahoo_batch) must end, for the calls of threads
# yfinance starts itself, which have no ``_deadline`` of their own; None when none runs.
BATCH = SimpleNamespace(at=None)
_slots = threading.BoundedSemaphore(FETCH_SLOTS)


def _new_slots() -> None:
    # A forked worker starts with no fetch of its own running, whatever its parent had.
    global _slots
    _slots = threading.BoundedSemaphore(FETCH_SLOTS)


os.register_at_fork(after_in_child=_new_slots)


def call_timeout() -> tuple[float, float]:
    """(connect, read) seconds for one HTTP call: what is left of this thread's fetch deadline.

    curl_cffi gives a call connect + read seconds in all, so the pair never outlasts the fetch.
    """
    at = getattr(_deadline, "at", None)
    at = BATCH.at if at is None else at
    left = (at - time.monotonic()) if at is not None else settings.current().yahoo_deadline
    if left <= 0.01:
        raise TimeoutError("the Yahoo fetch's deadline has passed")
    connect = min(CONNECT_S, left / 2)
    return connect, left - connect


@lru_cache(maxsize=1)
def _deadline_session_class() -> type:
    # curl_cffi is imported only here, on first use: importing the package never loads it.
    from curl_cffi.requests import Session

    class DeadlineSession(Session):
        """curl_cffi's Session with every call's timeout set by ``call_timeout``.

        yfinance passes its own (10 or 30 s, or none for the consent and crumb calls), which
        would let one fetch hang for a minute; what the caller asked is replaced, never added.
        """

        def request(self, method, url, *args, **kwargs):
            kwargs["timeout"] = call_timeout()
            return super().request(method, url, *args, **kwargs)

    return DeadlineSession


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
    from yfinance._http import HAS_CURL_CFFI
    from yfinance.data import YfData

    if HAS_CURL_CFFI:
        # yfinance shares one session among all its calls (YfData is a singleton): ours bounds
        # each call by the fetch's deadline. Browser impersonation, as yfinance's own session.
        YfData(session=_deadline_session_class()(impersonate="chrome"))
    return yf


def from_yahoo(ticker: str, start: DateLike = None, end: DateLike = None,
               cache_dir: Path | None = None, deadline: float | None = None) -> pd.DataFrame:
    """Daily adjusted prices from Yahoo Finance; ``end`` is exclusive, as in yfinance.

    Within ``deadline`` seconds (default: the YAHOO_DEADLINE setting), else a
    SourceUnavailableError; a YahooBusyError at once while FETCH_SLOTS fetches still run.
    yfinance keeps its small caches under ``cache_dir`` (default: the CACHE_DIR setting).
    """
    ticker = check_ticker(ticker)
    deadline = settings.current().yahoo_deadline if deadline is None else float(deadline)
    yf = import_yfinance(cache_dir)  # here, not in the thread: an import takes a global lock
    slots = _slots
    if not slots.acquire(blocking=False):
        raise YahooBusyError(f"Yahoo Finance is slow to answer: {FETCH_SLOTS} fetches are "
                             f"still waiting on it; try again in a few seconds")
    answer: Future = Future()
    ends = time.monotonic() + deadline

    def fetch() -> None:
        _deadline.at = ends
        try:
            answer.set_result(_history(yf, ticker, start, end, deadline))
        except BaseException as exc:  # handed to the caller, who may have stopped waiting
            answer.set_exception(exc)
        finally:
            _deadline.at = None
            slots.release()

    try:
        threading.Thread(target=fetch, name=f"yahoo-{ticker}", daemon=True).start()
    except RuntimeError:  # no thread to be had: the slot must not be lost with it
        slots.release()
        raise
    try:
        return answer.result(timeout=deadline)
    except TimeoutError:
        if answer.done():  # the fetch's own timeout, a TimeoutError too, or a result just in
            return answer.result()
        logger.warning("Yahoo did not answer for %s within %g s", ticker, deadline)
        raise SourceUnavailableError(_late(deadline)) from None


def _late(deadline: float) -> str:
    return f"Yahoo Finance did not answer within {deadline:g} s"


def _history(yf: ModuleType, ticker: str, start: DateLike, end: DateLike,
             deadline: float) -> pd.DataFrame:
    """``from_yahoo``'s work, in the thread that holds the deadline."""
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
        raise SourceUnavailableError("Yahoo Finance is rate limiting requests") from exc
    except YFTickerMissingError as exc:
        _yahoo_detail(ticker, exc)
        raise UnknownTickerError(f"{unknown} (it may be delisted or misspelt)") from exc
    except OSError as exc:  # requests' and curl_cffi's errors are all OSErrors
        _yahoo_detail(ticker, exc)
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status == 404:
            raise UnknownTickerError(unknown) from exc
        if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
            raise SourceUnavailableError(_late(deadline)) from exc
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

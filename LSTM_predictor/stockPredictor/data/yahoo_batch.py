"""Many tickers' daily prices in one ``yf.download``, each ticker's failure told apart.

yfinance 1.7's ``download`` does not raise for a ticker that fails: it catches the error, leaves
that ticker's columns all NaN, and logs one ERROR line per kind of failure on the ``yfinance``
logger, ``"['AAPL', 'MSFT']: YFRateLimitError('Too Many Requests. Rate limited. ...')"``. So a
handler on that logger, for the length of the call, collects which tickers failed and why; a
``YFRateLimitError`` raised by the call itself (while resolving ISINs, say) fails them all.

The whole download ends within ``deadline``: every HTTP call of yfinance's own threads gets curl
timeouts that end then (``yahoo.BATCH``), and it takes one of the process's FETCH_SLOTS.
"""

from __future__ import annotations

import ast
import datetime as dt
import logging
import re
import threading
import time
from concurrent.futures import Future

import pandas as pd

from ..errors import DataError, SourceUnavailableError, UnknownTickerError
from . import yahoo
from .frame import finish
from .tickers import check_ticker

__all__ = ["RATE_LIMITED", "download_many", "failure_error"]

RATE_LIMITED = "Yahoo Finance is rate limiting requests"
UNREADABLE = "Yahoo Finance sent a reply that could not be read"
# What yfinance's repr of an error says when Yahoo does not know the ticker.
_UNKNOWN_MARKS = ("YFTzMissingError", "YFPricesMissingError", "YFTickerMissingError",
                  "possibly delisted", "No data found")
_LINE = re.compile(r"^(\[[^\]]*\]): (.*)$", re.DOTALL)
# One batched download per process at a time: the logger's level and the batch deadline are
# the process's own, set for the length of one call.
_batch_lock = threading.Lock()


def _unknown(ticker: str) -> str:
    return f"no price data for ticker {ticker!r} on Yahoo (it may be delisted or misspelt)"


def failure_error(ticker: str, text: str) -> Exception:
    """The error a failure text of ``download_many`` stands for: unknown ticker or unavailable."""
    if text.startswith("no price data"):
        return UnknownTickerError(text)
    return SourceUnavailableError(text)


def _sentence(ticker: str, error: str, deadline: float) -> str:
    """One plain sentence for yfinance's repr of the error a ticker failed with."""
    if "YFRateLimitError" in error or "Too Many Requests" in error:
        return RATE_LIMITED
    if any(mark in error for mark in _UNKNOWN_MARKS):
        return _unknown(ticker)
    if "Timeout" in error:
        return yahoo._late(deadline)
    if any(name in error for name in ("JSONDecodeError", "KeyError", "ValueError",
                                      "YFDataException")):
        return UNREADABLE
    return yahoo.YAHOO_UNREACHABLE


class _Failures(logging.Handler):
    """Collects ``download``'s "['A', 'B']: Error(...)" lines: ticker -> yfinance's words."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = _LINE.match(record.getMessage().strip())
        if match is None:
            return
        try:
            tickers = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return
        for ticker in tickers if isinstance(tickers, list) else ():
            self.errors.setdefault(str(ticker).upper(), match.group(2))


def download_many(tickers: list[str], start: dt.date | None, *, deadline: float
                  ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Daily adjusted prices of ``tickers`` from ``start`` (None: their whole history) in one
    ``yf.download``: (frames by ticker, one-sentence failure by ticker); every ticker is in one.

    YahooBusyError at once while FETCH_SLOTS fetches still run; a download that has not ended
    within ``deadline`` seconds fails every ticker.
    """
    tickers = list(dict.fromkeys(check_ticker(t) for t in tickers))
    if not tickers:
        return {}, {}
    yf = yahoo.import_yfinance()
    slots = yahoo._slots
    if not slots.acquire(blocking=False):
        raise yahoo.YahooBusyError(f"Yahoo Finance is slow to answer: {yahoo.FETCH_SLOTS} "
                                   f"fetches are still waiting on it; try again in a few seconds")
    answer: Future = Future()
    ends = time.monotonic() + deadline

    def fetch() -> None:
        try:
            answer.set_result(_download(yf, tickers, start, ends, deadline))
        except BaseException as exc:  # handed to the caller, who may have stopped waiting
            answer.set_exception(exc)
        finally:
            slots.release()

    try:
        threading.Thread(target=fetch, name="yahoo-batch", daemon=True).start()
    except RuntimeError:
        slots.release()
        raise
    try:
        return answer.result(timeout=deadline + 1.0)  # its own calls end at `ends`
    except TimeoutError:
        if answer.done():
            return answer.result()
        yahoo.logger.warning("Yahoo's batched download of %d tickers did not end within %g s",
                             len(tickers), deadline)
        return {}, {ticker: yahoo._late(deadline) for ticker in tickers}


def _download(yf, tickers: list[str], start: dt.date | None, ends: float,
              deadline: float) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """``download_many``'s work, in a thread of its own."""
    from yfinance.data import YfData
    from yfinance.exceptions import YFRateLimitError

    period = {"period": "max"} if start is None else {"start": start}
    handler = _Failures()
    log = logging.getLogger("yfinance")
    with _batch_lock:
        level, propagate = log.level, log.propagate
        log.addHandler(handler)
        # import_yfinance silences yfinance (CRITICAL); its ERROR lines are what tells the
        # failed tickers apart, so they are let through to `handler` and no further.
        log.setLevel(logging.ERROR)
        log.propagate = False
        yahoo.BATCH.at = ends
        try:
            # Our session (the deadline one import_yfinance installed) is passed, or download
            # would install a new session of its own for every later fetch too.
            raw = yf.download(tickers, **period, interval="1d", auto_adjust=True,
                              actions=False, threads=True, progress=False, group_by="column",
                              session=YfData()._session, timeout=deadline)
        except YFRateLimitError:
            return {}, {ticker: RATE_LIMITED for ticker in tickers}
        except OSError as exc:  # curl_cffi's and requests' errors are OSErrors
            yahoo._yahoo_detail(",".join(tickers), exc)
            return {}, {ticker: yahoo.YAHOO_UNREACHABLE for ticker in tickers}
        finally:
            yahoo.BATCH.at = None
            log.removeHandler(handler)
            log.setLevel(level)
            log.propagate = propagate
    return _split(raw, tickers, handler.errors, deadline)


def _split(raw: pd.DataFrame | None, tickers: list[str], errors: dict[str, str],
           deadline: float) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each ticker's frame out of ``download``'s (Price, Ticker) columns, or why there is none."""
    frames: dict[str, pd.DataFrame] = {}
    failures: dict[str, str] = {}
    present = set() if raw is None or raw.empty or "Ticker" not in (raw.columns.names or ()) \
        else set(raw.columns.get_level_values("Ticker"))
    for ticker in tickers:
        if ticker in errors:
            failures[ticker] = _sentence(ticker, errors[ticker], deadline)
            yahoo._yahoo_detail(ticker, Exception(errors[ticker]))
            continue
        if ticker not in present:
            failures[ticker] = _unknown(ticker)
            continue
        try:
            frames[ticker] = finish(yahoo._from_yfinance_frame(
                raw.xs(ticker, axis=1, level="Ticker"), ticker), ticker, "yahoo")
        except UnknownTickerError:  # all NaN: Yahoo had nothing, and said nothing
            failures[ticker] = _unknown(ticker)
        except DataError as exc:
            yahoo._yahoo_detail(ticker, exc)
            failures[ticker] = UNREADABLE
    return frames, failures

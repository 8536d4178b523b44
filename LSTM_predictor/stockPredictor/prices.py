"""Price sources (Yahoo, the bundled sample, CSV files, synthetic series) -> one daily frame.

Every source returns the same shape: a tz-naive DatetimeIndex named ``date`` of days, ascending
and unique; float64 columns ``COLUMNS`` (split- and dividend-adjusted); and ``frame.attrs`` with
``ticker``, ``source``, ``fetched_at`` (ISO-8601, UTC) and ``calendar`` (``equity``/``crypto``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from . import csv_formats
from .errors import DataError, SourceUnavailableError, UnknownTickerError, excerpt

COLUMNS = ("open", "high", "low", "close", "volume")
SAMPLE_TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
# Names as the companies were called when the sample ends (2013).
SAMPLE_NAMES = {"AAPL": "Apple Inc.", "FB": "Facebook, Inc.", "GOOG": "Google Inc.",
                "IBM": "International Business Machines Corporation",
                "MSFT": "Microsoft Corporation"}
SOURCES = ("auto", "yahoo", "sample")
SYNTHETIC_KINDS = ("random_walk", "sine")
# Anchored with ^...$ rather than \A...\Z so the same text works as an HTML/OpenAPI pattern.
TICKER_PATTERN = re.compile(r"^[A-Za-z0-9.\-^=]{1,15}$")
# Days of a CSV file kept, the most recent: a forecast's cost grows with the days it scores.
# 5,000 trading days are 20 years; read_csv says in attrs["notices"] when it cut a file.
MAX_DAILY_ROWS = 5_000

_CRYPTO_QUOTES = ("USD", "USDT", "USDC", "BUSD", "DAI", "EUR", "GBP", "JPY", "CAD", "AUD",
                  "BTC", "ETH")
_CRYPTO_PATTERN = re.compile(rf"^[A-Z0-9]{{2,10}}-(?:{'|'.join(_CRYPTO_QUOTES)})$")
_PRICES = ("open", "high", "low", "close")

DateLike = str | dt.date | pd.Timestamp | None
logger = logging.getLogger(__name__)


def check_ticker(ticker: str) -> str:
    """The ticker stripped and upper-cased, or a DataError if it does not fit TICKER_PATTERN."""
    cleaned = ticker.strip() if isinstance(ticker, str) else ""
    if not TICKER_PATTERN.match(cleaned):
        raise DataError(f"ticker {excerpt(ticker)} is not valid: expected 1 to 15 letters, digits, "
                        f"'.', '-', '^' or '=' (pattern {TICKER_PATTERN.pattern})")
    return cleaned.upper()


def is_crypto(ticker: str) -> bool:
    """True for crypto pairs such as BTC-USD or ETH-USDT, which trade every day."""
    return bool(_CRYPTO_PATTERN.match(ticker.strip().upper()))


def load(ticker: str, source: str | None = None, *, start: DateLike = None,
         end: DateLike = None) -> pd.DataFrame:
    """Daily prices of ``ticker`` from ``source`` (auto, yahoo, sample; default $PRICE_SOURCE)."""
    ticker = check_ticker(ticker)
    if source is None:
        source = os.environ.get("PRICE_SOURCE") or "auto"
    if not isinstance(source, str) or source.strip().lower() not in SOURCES:
        raise DataError(f"price source {source!r} is not one of {', '.join(SOURCES)}")
    source = source.strip().lower()
    if source == "sample":
        return _between(from_sample(ticker), start, end)
    if source == "yahoo":
        return from_yahoo(ticker, start, end)
    try:
        return from_yahoo(ticker, start, end)
    except (SourceUnavailableError, UnknownTickerError) as exc:
        return _between(sample_instead(ticker, exc), start, end)


def sample_instead(ticker: str, exc: Exception) -> pd.DataFrame:
    """The bundled sample standing in after Yahoo failed with ``exc``; raises if it lacks it."""
    if ticker not in SAMPLE_TICKERS:
        if isinstance(exc, SourceUnavailableError):
            raise SourceUnavailableError(
                f"{exc}; the bundled sample only has {', '.join(SAMPLE_TICKERS)}") from exc
        raise exc
    logger.warning("Yahoo failed for %s (%s); using the bundled sample", ticker, exc)
    return from_sample(ticker)


def _cache_dir() -> Path:
    return Path(os.environ.get("CACHE_DIR") or "~/.cache/stock-predictor").expanduser()


@lru_cache(maxsize=1)
def import_yfinance() -> ModuleType:
    """Import yfinance (curl_cffi first) with its caches under CACHE_DIR; once per process."""
    try:
        # curl_cffi must be loaded before TensorFlow, or the two clash (a known yfinance issue).
        import curl_cffi  # noqa: F401
    except ImportError:
        pass
    import yfinance as yf

    try:
        # A folder of its own: yfinance keeps three sqlite files (time zones, cookies, ISINs).
        cache = _cache_dir() / "yfinance"
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


def from_yahoo(ticker: str, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
    """Daily adjusted prices from Yahoo Finance; ``end`` is exclusive, as in yfinance."""
    ticker = check_ticker(ticker)
    yf = import_yfinance()
    from yfinance.exceptions import YFException, YFRateLimitError, YFTickerMissingError

    unknown = f"no price data for ticker {ticker!r} on Yahoo"
    start, end = _day(start), _day(end)
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
    frame = _finish(_from_yfinance_frame(raw, ticker), ticker, "yahoo")
    name = _yahoo_name(handle)
    if name:
        frame.attrs["name"] = name
    return frame


YAHOO_UNREACHABLE = "Yahoo Finance could not be reached"


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
        for column in _PRICES:
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


@lru_cache(maxsize=1)
def _sample_frames() -> dict[str, pd.DataFrame]:
    path = resources.files(__package__) / "sample_data" / "prices.csv.gz"
    with path.open("rb") as handle:
        raw = pd.read_csv(handle, compression="gzip", parse_dates=["date"])
    # The file keeps the source's raw prices; adj_close / close takes out splits and dividends.
    ratio = raw["adj_close"] / raw["close"]
    for column in _PRICES:
        raw[column] = raw[column] * ratio
    raw["volume"] = raw["volume"].astype("float64")
    return {ticker: rows.set_index("date")[list(COLUMNS)].astype("float64")
            for ticker, rows in raw.groupby("ticker")}


def from_sample(ticker: str) -> pd.DataFrame:
    """Bundled daily prices (to 2013-03-01) of one of SAMPLE_TICKERS.

    Read once per process and shared: its ``fetched_at`` is when this process read the file, so
    it does not change from one call to the next. Treat it as read-only (copy to change it).
    """
    ticker = check_ticker(ticker)
    if ticker not in SAMPLE_TICKERS:
        raise UnknownTickerError(f"ticker {excerpt(ticker)} is not in the bundled sample, which "
                                 f"has {', '.join(SAMPLE_TICKERS)}")
    return _finished_sample(ticker)


@lru_cache(maxsize=len(SAMPLE_TICKERS))
def _finished_sample(ticker: str) -> pd.DataFrame:
    frame = _finish(_sample_frames()[ticker].copy(), ticker, "sample")
    frame.attrs["name"] = SAMPLE_NAMES[ticker]
    return frame


def read_csv(source: csv_formats.CsvSource, ticker: str | None = None) -> pd.DataFrame:
    """Prices from a CSV path or file object with a date column and a close or price column.

    Any delimiter, encoding and row order; a long file with a symbol column gives the rows of
    ``ticker``, or of its only symbol. Bounded: at most ``csv_formats.MAX_CSV_BYTES`` of text and
    ``csv_formats.MAX_CSV_ROWS`` rows are read, and the most recent MAX_DAILY_ROWS days kept.
    ``attrs["notices"]`` lists, one sentence each, what was cut or fixed (empty when nothing
    was); ``attrs["file_name"]`` is the file's base name (None without one). The ticker is
    ``ticker``, else the file's symbol, else one taken from the file name.
    """
    chosen = check_ticker(ticker) if ticker is not None and str(ticker).strip() else None
    frame, layout = csv_formats.parse(source, max_days=MAX_DAILY_ROWS, symbol=chosen)
    notices = list(frame.attrs.get("notices", []))
    symbol = str(frame.attrs.get("symbol") or "")
    if chosen is None and TICKER_PATTERN.match(symbol):
        chosen = symbol.upper()
    if chosen is None:
        chosen = _ticker_from_name(source, layout)
    calendar = "crypto" if layout == csv_formats.BITSTAMP else None
    frame = _finish(frame, chosen, "csv", calendar)
    frame.attrs["notices"] = notices  # _finish sets attrs afresh
    frame.attrs["file_name"] = csv_formats.file_name(source)
    return frame


def _ticker_from_name(source: object, layout: str) -> str:
    """A ticker for an upload, from its file name: ``msft_prices_2017.csv`` is MSFT."""
    stem = csv_formats.file_name(source) or ""
    for suffix in (".gz", ".csv", ".txt", ".tsv"):
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    found = _ticker_in_stem(stem)
    if found:
        return found
    if layout == csv_formats.BITSTAMP:  # Bitstamp's minute dumps are all BTC against the dollar
        return "BTC-USD"
    # The stem itself, so two uploads stay apart; "CSV" alone would say nothing about either.
    safe = re.sub(r"[^A-Za-z0-9.\-^=]", "", stem)[:15].upper()
    return safe if safe and safe != "CSV" else "UPLOAD"


# Words that file names carry beside a ticker; exchange codes as in "STOCK_US_XNAS_AAPL".
_NAME_WORDS = frozenset(
    "prices price daily weekly monthly hourly minute min data historical history stock stocks "
    "quotes quote export download close ohlc ohlcv yahoo finance nasdaq nyse us csv txt kaggle "
    "bitstamp to from and of all full adjusted adj xnas xnys xase arcx bats date dates time "
    "symbol symbols ticker tickers series file upload my new copy final".split())
_NAME_TOKEN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z.\-^=]{1,10}$")


def _ticker_in_stem(stem: str) -> str | None:
    """The whole stem if ticker-like, else the first ticker-like word in it; None if neither."""
    if TICKER_PATTERN.match(stem) and _no_name_word(stem):
        return stem.upper()
    for word in re.split(r"[\s_,;()\[\]{}]+", stem):
        # "BRK-B" stays whole; "ibm-daily" is tried part by part.
        for token in (word, *word.split("-")):
            if _NAME_TOKEN.match(token) and _no_name_word(token):
                return token.upper()
    return None


def _no_name_word(text: str) -> bool:
    # Part by part, so "ibm-daily" is not taken whole for a ticker while "BTC-USD" is.
    return not any(part.lower() in _NAME_WORDS for part in re.split(r"[-.^=]", text))


def validate(frame: pd.DataFrame, min_rows: int = 1) -> pd.DataFrame:
    """``frame`` itself if it is a normalized price frame with at least ``min_rows`` rows."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a DataFrame of prices, got {type(frame).__name__}")
    ticker = frame.attrs.get("ticker", "?")
    if tuple(frame.columns) != COLUMNS:
        raise DataError(f"price columns must be {list(COLUMNS)}, found {list(frame.columns)}")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is not None:
        raise DataError(f"prices for {ticker!r} need a tz-naive DatetimeIndex, "
                        f"found {type(index).__name__} of {index.dtype}")
    if len(frame) < min_rows:
        raise DataError(f"only {len(frame)} rows of prices for {ticker!r}; "
                        f"at least {min_rows} are needed")
    if index.has_duplicates:
        raise DataError(f"date {index[index.duplicated()][0].date()} appears more than once "
                        f"in the prices for {ticker!r}")
    if not index.is_monotonic_increasing:
        row = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise DataError(f"dates for {ticker!r} are not ascending: {index[row].date()} comes "
                        f"after {index[row - 1].date()}")
    timed = index != index.normalize()
    if timed.any():
        raise DataError(f"prices for {ticker!r} must be daily, found the time {index[timed][0]}")
    for column in COLUMNS:
        if frame[column].dtype != np.float64:
            raise DataError(f"column {column!r} must be float64, found {frame[column].dtype}")
        values = frame[column].to_numpy()
        floor_ok = values >= 0 if column == "volume" else values > 0
        bad = ~(np.isfinite(values) & floor_ok)
        if bad.any():
            row = int(np.argmax(bad))
            rule = "must not be negative" if column == "volume" else "must be positive"
            raise DataError(f"{column} is {values[row]} on {index[row].date()} for {ticker!r}; "
                            f"{column} {rule} and finite")
    return frame


def synthetic(kind: str = "random_walk", n: int = 1000, seed: int = 0,
              start: str = "2010-01-04", drift: float = 0.0003, volatility: float = 0.015,
              ticker: str = "SYN") -> pd.DataFrame:
    """A seeded synthetic price series on business days: a random walk or a noisy sine."""
    if kind not in SYNTHETIC_KINDS:
        raise DataError(f"synthetic kind {kind!r} is not one of {', '.join(SYNTHETIC_KINDS)}")
    if n < 1 or volatility < 0:
        raise DataError(f"synthetic series need n >= 1 and volatility >= 0, "
                        f"got n={n}, volatility={volatility}")
    rng = np.random.default_rng(seed)
    if kind == "random_walk":
        close = 100.0 * np.exp(np.cumsum(rng.normal(drift, volatility, n)))
    else:
        # A 60-day cycle of +-20% around 100 keeps every price well above zero.
        cycle = 1.0 + 0.2 * np.sin(2.0 * np.pi * np.arange(n) / 60.0)
        close = 100.0 * cycle * np.exp(rng.normal(0.0, volatility, n))
    previous = np.concatenate(([close[0]], close[:-1]))
    open_ = previous * np.exp(rng.normal(0.0, volatility / 4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, volatility / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, volatility / 2, n)))
    volume = np.round(rng.lognormal(np.log(1e6), 0.3, n))
    index = pd.bdate_range(start, periods=n, name="date")
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                          "volume": volume}, index=index)
    return _finish(frame, check_ticker(ticker), "synthetic", "equity")


def _finish(frame: pd.DataFrame, ticker: str, source: str,
            calendar: str | None = None) -> pd.DataFrame:
    frame = frame[list(COLUMNS)].astype("float64")
    frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
    if calendar is None:
        weekend = bool((frame.index.day_of_week >= 5).any())
        calendar = "crypto" if is_crypto(ticker) or weekend else "equity"
    frame.attrs = {"ticker": ticker, "source": source, "calendar": calendar,
                   "fetched_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    return validate(frame)


def _day(value: DateLike) -> str | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        raise DataError(f"{value!r} is not a date; expected a date like 2013-03-01") from None


def _between(frame: pd.DataFrame, start: DateLike, end: DateLike) -> pd.DataFrame:
    # Same convention as yfinance: start inclusive, end exclusive.
    start, end = _day(start), _day(end)
    keep = np.ones(len(frame), bool)
    if start is not None:
        keep &= frame.index >= pd.Timestamp(start)
    if end is not None:
        keep &= frame.index < pd.Timestamp(end)
    window = frame[keep].copy()
    window.attrs = dict(frame.attrs)
    if window.empty:
        raise DataError(f"no prices for {frame.attrs.get('ticker')!r} from {start} to {end} in "
                        f"the {frame.attrs.get('source')} data ({frame.index[0].date()} to "
                        f"{frame.index[-1].date()})")
    return window

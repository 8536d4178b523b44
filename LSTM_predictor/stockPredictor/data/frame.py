"""The one shape every price source returns, and the checks that hold it to that shape.

A frame of daily prices has a tz-naive DatetimeIndex named ``date`` of days, ascending and
unique; float64 columns ``COLUMNS`` (split- and dividend-adjusted); and ``frame.attrs`` with
``ticker``, ``source``, ``fetched_at`` (ISO-8601, UTC) and ``calendar`` (``equity``/``crypto``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..errors import DataError
from .tickers import is_crypto

COLUMNS = ("open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
# The days any date may name. pandas' Timestamp ends at 1677-09-22 and 2262-04-11, so a day
# outside them would fail deep in the price code; no market data here is older than 1900.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2200, 12, 31)

DateLike = str | dt.date | pd.Timestamp | None


def finish(frame: pd.DataFrame, ticker: str, source: str,
           calendar: str | None = None) -> pd.DataFrame:
    """``frame``'s COLUMNS as float64 on a nanosecond index named date, with fresh attrs; checked.

    The calendar is crypto for a crypto ticker or any weekend row, else equity, unless given.
    """
    frame = frame[list(COLUMNS)].astype("float64")
    frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
    if calendar is None:
        weekend = bool((frame.index.day_of_week >= 5).any())
        calendar = "crypto" if is_crypto(ticker) or weekend else "equity"
    frame.attrs = {"ticker": ticker, "source": source, "calendar": calendar,
                   "fetched_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    return validate(frame)


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
        _check_column(frame, column, ticker)
    return frame


def _check_column(frame: pd.DataFrame, column: str, ticker: str) -> None:
    if frame[column].dtype != np.float64:
        raise DataError(f"column {column!r} must be float64, found {frame[column].dtype}")
    values = frame[column].to_numpy()
    floor_ok = values >= 0 if column == "volume" else values > 0
    bad = ~(np.isfinite(values) & floor_ok)
    if bad.any():
        row = int(np.argmax(bad))
        rule = "must not be negative" if column == "volume" else "must be positive"
        raise DataError(f"{column} is {values[row]} on {frame.index[row].date()} for "
                        f"{ticker!r}; {column} {rule} and finite")


def day(value: DateLike) -> str | None:
    """``value`` as YYYY-MM-DD (None stays None), or a DataError naming it."""
    if value is None:
        return None
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        raise DataError(f"{value!r} is not a date; expected a date like 2013-03-01") from None


def between(frame: pd.DataFrame, start: DateLike, end: DateLike) -> pd.DataFrame:
    """The rows from ``start`` (inclusive) to ``end`` (exclusive), as yfinance has it."""
    start, end = day(start), day(end)
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

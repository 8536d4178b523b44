"""The dates stage: a date column's text (or unix times) read as tz-naive timestamps.

ISO dates are read in one pass; other formats are guessed from the first date, with day and month
swapped as a second try, and files short enough may have a format per row. Dates must lie
between FIRST_DATE and tomorrow; a cell that is not a date is one DataError naming it and its row.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ...errors import EXCERPT_CHARS, DataError, excerpt
from ..frame import FIRST_DAY

MAX_DATE_CHARS = 48  # "Wednesday, September 30, 2013 10:00:00 AM" is 41
MAX_MIXED_DATES = 1_000  # rows whose dates may each have a format of their own (<0.2 s)
FIRST_DATE = pd.Timestamp(FIRST_DAY)
_UNIX = r"[-+]?\d{9,14}(?:\.\d*)?"  # unix seconds (or milliseconds) since 1973
_DAY_NS = 86_400 * 10**9


def last_day() -> pd.Timestamp:
    """The latest date a file may hold: tomorrow in UTC, the date already in the furthest zone."""
    return pd.Timestamp(dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1))


def stamps(values: pd.Series | np.ndarray, name: str, rows: np.ndarray) -> pd.DatetimeIndex:
    """The dates (or unix times) of a date column as tz-naive nanosecond timestamps."""
    if isinstance(values, np.ndarray):
        return _unix(values, name, rows)
    text = values.fillna("").astype("str").str.strip()
    if not is_unix(text):
        return _dates(text, rows)
    seconds = pd.to_numeric(text, errors="coerce").to_numpy("float64")
    bad = np.isnan(seconds) & (text != "").to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{name} {excerpt(text.iloc[row])} in data row {rows[row]:,} is not a "
                        f"unix time like the rows above it")
    return _unix(seconds, name, rows)


def _unix(seconds: np.ndarray, name: str, rows: np.ndarray) -> pd.DatetimeIndex:
    if np.isnan(seconds).any():
        row = int(np.argmax(np.isnan(seconds)))
        raise DataError(f"{name} is missing in data row {rows[row]:,}")
    finite = seconds[np.isfinite(seconds)]
    # Milliseconds since 1970 pass 1e11 in 1973; seconds reach it in the year 5138.
    scale = 1000.0 if finite.size and np.median(np.abs(finite)) >= 1e11 else 1.0
    last = last_day()
    earliest = (FIRST_DATE - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    latest = (last + pd.Timedelta(days=1) - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    bad = ~((seconds / scale >= earliest) & (seconds / scale < latest))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{name} {seconds[row]:.15g} in data row {rows[row]:,} is not a unix "
                        f"time between {FIRST_DATE.date()} and {last.date()}")
    nanoseconds = np.round(seconds * (1e9 / scale)).astype("int64")
    return pd.DatetimeIndex(nanoseconds.view("datetime64[ns]"))


def _formats(first: str) -> list[str]:
    # ISO dates are the norm and fast; else the format of the first date (1/2/2013 from a
    # spreadsheet, "2 Jan 2013"), then the same with day and month swapped, each read for
    # every row at once.
    try:
        guessed = _guess(first) if 0 < len(first) <= EXCERPT_CHARS else None
    except (ValueError, TypeError, OverflowError):
        guessed = None
    if not guessed or guessed.startswith("%Y-%m-%d"):
        return ["ISO8601"]
    if "%m" not in guessed or "%d" not in guessed or guessed.startswith("%Y"):
        return [guessed, "ISO8601"]
    swapped = guessed.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")
    # 02.01.2013 is German (day first); 01/02/2013 is more often American (month first).
    day_first = "." in first and guessed.index("%m") < guessed.index("%d")
    return [*((swapped, guessed) if day_first else (guessed, swapped)), "ISO8601"]


def _guess(first: str) -> str | None:
    # guess_datetime_format warns when it reads 13/01/2013 day first, and so does the format
    # it returns; the warning is silenced here only, never for the whole process.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parsing dates in", category=UserWarning)
        return guess_datetime_format(first)


def _dates(text: pd.Series, rows: np.ndarray) -> pd.DatetimeIndex:
    long = (text.str.len() > MAX_DATE_CHARS).to_numpy()
    if long.any():  # dateutil takes minutes over a long string
        raise _not_a_date(text, long, rows, "; expected dates like 2013-03-01")
    formats = _formats(text.iloc[0] if len(text) else "")
    # "mixed" tries each row on its own, which for unusual text costs ~80 us a row, so only
    # short files get it, and only when no one format reads every row.
    formats += ["mixed"] if len(text) <= MAX_MIXED_DATES else []
    dates = None
    for fmt in formats:
        try:
            parsed = _to_datetime(text, fmt)
        except (ValueError, TypeError, OverflowError):
            continue
        if parsed.notna().all():
            dates = _day_or_month_first(text, parsed, fmt, formats)
            break
        if dates is None or parsed.notna().sum() > dates.notna().sum():
            dates = parsed
    bad = np.ones(len(text), bool) if dates is None else dates.isna().to_numpy()
    if bad.any():
        raise _not_a_date(text, bad, rows, "; expected dates like 2013-03-01")
    index = pd.DatetimeIndex(dates)
    index = index.tz_localize(None) if index.tz is not None else index
    # pandas holds dates beyond 1677-2262 at a coarser unit; the frame needs nanoseconds.
    last = last_day()
    bad = np.asarray((index < FIRST_DATE) | (index.normalize() > last))
    if bad.any():
        raise _not_a_date(text, bad, rows, f" between {FIRST_DATE.date()} and {last.date()}")
    return index.as_unit("ns")


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    try:
        return pd.to_datetime(text, errors="coerce", format=fmt)
    except ValueError:  # offsets that change (+01:00 in winter, +02:00 in summer): as UTC
        return pd.to_datetime(text, errors="coerce", format=fmt, utc=True)


def _day_or_month_first(text: pd.Series, parsed: pd.Series, fmt: str,
                        formats: list[str]) -> pd.Series:
    # When every day is 12 or less, 01/02 could be either; of the two readings, the one whose
    # days follow each other more closely is the file's.
    if fmt != formats[0] or "%m" not in fmt or formats[1] == "ISO8601":
        return parsed
    if not (pd.DatetimeIndex(parsed).day <= 12).all():
        return parsed
    other = pd.to_datetime(text, errors="coerce", format=formats[1])
    if other.notna().all() and _median_gap(pd.DatetimeIndex(other)) < _median_gap(
            pd.DatetimeIndex(parsed)):
        return other
    return parsed


def _median_gap(index: pd.DatetimeIndex) -> float:
    days = np.unique(index.normalize().asi8) if len(index) else np.array([], "int64")
    return float(np.median(np.diff(days))) / _DAY_NS if len(days) > 1 else 0.0


def _not_a_date(text: pd.Series, bad: np.ndarray, rows: np.ndarray, expected: str) -> DataError:
    row = int(np.argmax(bad))
    return DataError(f"{excerpt(text.iloc[row])} in data row {rows[row]:,} is not a "
                     f"date{expected}")


def peek(cells: list[str]) -> pd.DatetimeIndex:
    """The dates of a few cells, NaT where one does not read: a first look at a file's order
    and rows per day, never an error."""
    text = pd.Index(cells, dtype="object")
    try:
        if is_unix(cells):
            seconds = pd.to_numeric(text, errors="coerce")
            scale = 1000 if np.nanmedian(np.abs(seconds)) >= 1e11 else 1
            return pd.DatetimeIndex(pd.to_datetime(seconds / scale, unit="s", errors="coerce"))
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if parsed.isna().any():
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        return pd.DatetimeIndex(parsed).tz_localize(None) if parsed.tz else parsed
    except (ValueError, TypeError, OverflowError):
        return pd.DatetimeIndex([pd.NaT] * len(cells))


def is_unix(cells) -> bool:
    """True when the first date of a column (a Series or list of cells) is a unix time."""
    values = cells.iloc[:MAX_MIXED_DATES] if isinstance(cells, pd.Series) else cells
    for cell in values[:MAX_MIXED_DATES]:  # the first non-empty one, found in a few steps
        if isinstance(cell, str) and cell.strip():
            return re.fullmatch(_UNIX, cell.strip()) is not None
    return False

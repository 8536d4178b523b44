"""The price CSV layouts people bring (Yahoo export, Kaggle, Bitstamp) -> daily OHLCV rows.

``prices.read_csv`` is the public entry point; this module only parses and checks what only the
file can tell (its layout, its row order), and leaves the checks every source shares to
``prices.validate``.
"""

from __future__ import annotations

import gzip
import io
import os
from typing import IO

import numpy as np
import pandas as pd

from .errors import DataError

YAHOO = "Yahoo export"
YAHOO_PLAIN = "Yahoo export without Adj Close"
KAGGLE = "Kaggle"
BITSTAMP = "Bitstamp"

# Checked in this order; the column sets differ, so at most one matches.
LAYOUTS: dict[str, tuple[str, ...]] = {
    YAHOO: ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"),
    YAHOO_PLAIN: ("Date", "Open", "High", "Low", "Close", "Volume"),
    KAGGLE: ("Date", "Open", "High", "Low", "Close", "Volume", "OpenInt"),
    BITSTAMP: ("Timestamp", "Open", "High", "Low", "Close", "Volume_(BTC)", "Volume_(Currency)",
               "Weighted_Price"),
}

# Yahoo's export writes "null" on days it has no prices; spreadsheets write the others.
_MISSING = frozenset({"", "null", "nan", "na", "n/a", "none", "-"})
_GZIP_MAGIC = b"\x1f\x8b"

CsvSource = str | os.PathLike | IO[str] | IO[bytes]


def _key(name: object) -> str:
    # Header matching ignores case, spaces and underscores: "Adj Close", "adj_close", " ADJCLOSE".
    return "".join(str(name).replace("\ufeff", "").lower().replace("_", "").split())


def read_text(source: CsvSource) -> str:
    """The whole text of a CSV path or file object (text or binary, gzip or not)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                data: str | bytes = handle.read()
        except FileNotFoundError:
            raise DataError(f"no such CSV file: {os.fspath(source)!r}") from None
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise DataError(f"expected a CSV path or file object, got {type(source).__name__}")
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"the CSV file looks gzip-compressed but is damaged: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Windows save cp1252; the columns that matter are ASCII either way.
        return data.decode("latin-1")


def detect_layout(columns: list[str]) -> str:
    """The name of the layout whose columns are exactly ``columns``, or a DataError."""
    found = sorted(_key(c) for c in columns)
    for name, expected in LAYOUTS.items():
        if found == sorted(_key(c) for c in expected):
            return name
    accepted = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in LAYOUTS.items())
    raise DataError(f"unrecognised CSV columns {[str(c).strip() for c in columns]}; "
                    f"accepted layouts are {accepted}")


def parse(source: CsvSource) -> tuple[pd.DataFrame, str]:
    """Daily open/high/low/close/volume rows of a CSV, and the name of its layout."""
    text = read_text(source)
    if not text.strip():
        raise DataError("the CSV file is empty")
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"the file could not be read as CSV: {exc}") from None
    layout = detect_layout(list(raw.columns))
    by_key = {_key(c): c for c in LAYOUTS[layout]}
    raw.columns = [by_key[_key(c)] for c in raw.columns]
    if raw.empty:
        raise DataError("the CSV file has a header but no rows of prices")
    if layout == BITSTAMP:
        return _bitstamp(raw), layout
    return _daily(raw, layout), layout


def _numbers(raw: pd.DataFrame, column: str) -> np.ndarray:
    text = raw[column].astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING)
    values = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = values.isna() & ~missing
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(f"column {column!r} holds {text.iloc[row]!r} in data row {row + 1}, "
                        f"which is not a number")
    return values.to_numpy(dtype="float64")


def _dates(values: pd.Series) -> pd.DatetimeIndex:
    dates = None
    # ISO dates are the norm and fast; "mixed" rescues files a spreadsheet re-saved as 1/2/2013.
    for fmt in ("ISO8601", "mixed"):
        try:
            dates = pd.to_datetime(values.str.strip(), errors="coerce", format=fmt)
        except (ValueError, TypeError, OverflowError):
            continue
        if dates.notna().all():
            break
    bad = np.ones(len(values), bool) if dates is None else dates.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{values.iloc[row]!r} in data row {row + 1} is not a date; "
                        f"expected dates like 2013-03-01")
    index = pd.DatetimeIndex(dates)
    return index.tz_localize(None) if index.tz is not None else index


def _check_order(stamps: pd.DatetimeIndex, what: str) -> None:
    # A person's file in the wrong order is more likely a mistake than a choice: say so, don't sort.
    steps = np.diff(stamps.asi8)
    if (steps > 0).all():
        return
    row = int(np.argmax(steps <= 0)) + 1
    here, before = stamps[row], stamps[row - 1]
    if here == before:
        raise DataError(f"{what} {here} appears more than once (data rows {row} and {row + 1}); "
                        f"each needs exactly one row")
    raise DataError(f"{what}s are not in ascending order: data row {row + 1} ({here}) comes after "
                    f"data row {row} ({before}); sort the file oldest first")


def _daily(raw: pd.DataFrame, layout: str) -> pd.DataFrame:
    days = _dates(raw["Date"]).normalize()
    _check_order(days, "date")
    names = [c for c in ("Open", "High", "Low", "Close", "Adj Close") if c in LAYOUTS[layout]]
    columns = {name: _numbers(raw, name) for name in [*names, "Volume"]}
    for name in names:  # checked here, not in validate, to name the file's own column
        bad = ~(np.isfinite(columns[name]) & (columns[name] > 0))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{name} is {columns[name][row]} on {days[row].date()} (data row "
                            f"{row + 1}); prices must be positive numbers")
    # Yahoo's Close is split-adjusted only; Adj Close also takes out dividends.
    ratio = columns["Adj Close"] / columns["Close"] if layout == YAHOO else 1.0
    frame = {name.lower(): columns[name] * ratio for name in ("Open", "High", "Low", "Close")}
    return pd.DataFrame({**frame, "volume": columns["Volume"]},
                        index=pd.DatetimeIndex(days, name="date"))


def _bitstamp(raw: pd.DataFrame) -> pd.DataFrame:
    seconds = _numbers(raw, "Timestamp")
    if not np.isfinite(seconds).all():
        row = int(np.argmax(~np.isfinite(seconds)))
        raise DataError(f"Timestamp is missing in data row {row + 1}")
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s"))
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(f"Timestamp holds a value that is not unix seconds: {exc}") from None
    _check_order(stamps, "timestamp")
    minutes = pd.DataFrame({
        "open": _numbers(raw, "Open"), "high": _numbers(raw, "High"),
        "low": _numbers(raw, "Low"), "close": _numbers(raw, "Close"),
        "volume": np.nan_to_num(_numbers(raw, "Volume_(BTC)"), nan=0.0),
    }, index=stamps)
    # Bitstamp writes a NaN row for every minute without trades; those carry no prices.
    traded = np.isfinite(minutes[["open", "high", "low", "close"]].to_numpy()).all(axis=1)
    minutes = minutes[traded]
    if minutes.empty:
        raise DataError("the Bitstamp file has no rows with trades (every price is empty)")
    daily = minutes.groupby(minutes.index.normalize()).agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"),
        close=("close", "last"), volume=("volume", "sum"))
    daily.index = pd.DatetimeIndex(daily.index, name="date")
    return daily.astype("float64")

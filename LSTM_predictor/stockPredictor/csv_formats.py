"""The price CSV layouts people bring (Yahoo export, Kaggle, Bitstamp) -> daily OHLCV rows.

``prices.read_csv`` is the public entry point; this module only parses and checks what only the
file can tell (its layout, its row order), and leaves the checks every source shares to
``prices.validate``.

Every file is bounded before it is parsed: at most MAX_CSV_BYTES of (decompressed) text is ever
held, a header longer than MAX_HEADER_BYTES is refused before pandas sees it, and only the most
recent MAX_CSV_ROWS rows are parsed. Errors are one sentence that quotes at most
``errors.EXCERPT_CHARS`` characters of the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import itertools
import os
import re
import warnings
import zlib
from typing import IO

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from .errors import EXCERPT_CHARS, DataError, excerpt

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

# Bounds on what one file may cost. Measured with prices.read_csv on the 2-core dev machine
# (pandas 3.0), one fresh process per file: CPU seconds / tracemalloc peak / growth of max RSS.
#   Yahoo export of 100,000 rows, 5.2 MB plain or 1.8 MB gzip: before 0.48-0.51 s / 54 MiB /
#     120 MiB (pd.read_csv(dtype=str): a Python str per cell); now 0.015 s (gzip 0.036 s) /
#     5 MiB / 10 MiB: only the most recent MAX_DAILY_ROWS rows are parsed.
#   Bitstamp minutes, 10 MB, 100,000 rows: before 0.50 s / 92 MiB / 180 MiB; now 0.06 s / 22 MiB
#     / 38 MiB.
#   The worst file allowed, 16 MB of Bitstamp minutes cut to their last 250,000 rows: 0.16 s
#     (its 5.2 MB gzip 0.23 s) / 44 MiB / 63 MiB; with a bad number in its last row, which is
#     then looked for by halves, 0.33 s / 29 MiB / 55 MiB.
#   A 1 MB gzip bomb expanding to 1 GiB, or a 0.5 MB gzip of one 524 MB line: refused in
#     0.05 s, max RSS +15 MiB, a 63-character message (before: MemoryError after the worker grew
#     to 2-3.7 GB, or a 524 MB message; a header of 200,000 columns kept pandas busy > 5 min).
MAX_CSV_BYTES = 16_000_000  # text held, after decompression; more is refused
MAX_CSV_ROWS = 250_000  # rows parsed, the most recent; ~170 days of Bitstamp minutes
MAX_HEADER_BYTES = 1_000  # the longest layout's header, Bitstamp's, is 75 characters
MAX_DATE_CHARS = 48  # "Wednesday, September 30, 2013 10:00:00 AM" is 41
MAX_MIXED_DATES = 1_000  # rows whose dates may each have a format of their own (<0.2 s)
_CHUNK = 1 << 16  # bytes decompressed at a time
FIRST_DATE = pd.Timestamp("1900-01-01")

# Yahoo's export writes "null" on days it has no prices; spreadsheets write the others.
_MISSING = frozenset({"", "null", "nan", "na", "n/a", "none", "-"})
# The same markers in every casing, as pandas matches them (exactly, after leading spaces).
_NA_VALUES = sorted({"".join(form) for word in _MISSING
                     for form in itertools.product(*({c.lower(), c.upper()} for c in word))})
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
# The columns read as numbers; the others a layout has (OpenInt, Volume_(Currency),
# Weighted_Price) are not used, so whatever they hold is let be.
_NUMERIC = ("Timestamp", "Open", "High", "Low", "Close", "Adj Close", "Volume", "Volume_(BTC)")
_LOCATE_BYTES = 1 << 14  # rows read cell by cell to name a bad number
_BOOLEAN_LINES = 100  # lines with "true" or "false" looked at for one in a number column
_BLANK = re.compile(rb"\s*")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")

CsvSource = str | os.PathLike | IO[str] | IO[bytes]

# guess_datetime_format notes when it reads 13/01/2013 day first; so does the format it returns.
warnings.filterwarnings("ignore", message="Parsing dates in", category=UserWarning,
                        module=re.escape(__name__))


def _key(name: object) -> str:
    # Header matching ignores case, spaces and underscores: "Adj Close", "adj_close", " ADJCLOSE".
    return "".join(str(name).replace("\ufeff", "").lower().replace("_", "").split())


def _megabytes(size: int) -> str:
    return f"{size / 1e6:g} MB"


def last_day() -> pd.Timestamp:
    """The latest date a file may hold: tomorrow in UTC, the date already in the furthest zone."""
    return pd.Timestamp(dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1))


def read_bytes(source: CsvSource, limit: int | None = None) -> bytes | bytearray:
    """The raw bytes of a CSV path or file object, gunzipped; never more than ``limit`` of them.

    ``limit`` defaults to MAX_CSV_BYTES. A longer file, or one that decompresses to more, is a
    DataError; at most ``limit + 1`` bytes are ever read or decompressed to find that out.
    Text file objects come back encoded as UTF-8.
    """
    limit = MAX_CSV_BYTES if limit is None else limit
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            raise DataError(f"no such CSV file: {excerpt(os.fspath(source))}") from None
        except OSError as exc:
            raise DataError(f"the CSV file {excerpt(os.fspath(source))} cannot be read "
                            f"({exc.strerror or type(exc).__name__})") from None
    elif hasattr(source, "read"):
        data = source.read(limit + 1)
    else:
        raise DataError(f"expected a CSV path or file object, got {type(source).__name__}")
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not isinstance(data, (bytes, bytearray)):
        raise DataError(f"the file object gave {type(data).__name__}, not text or bytes")
    if len(data) > limit:
        raise DataError(f"the file is larger than {_megabytes(limit)}, the most a price file "
                        f"may be")
    if data[:2] == _GZIP_MAGIC:
        return _gunzip(data, limit)
    return data


def _gunzip(data: bytes, limit: int) -> bytearray:
    # Streamed, so a bomb costs `limit` bytes, not what it would expand to.
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while len(out) <= limit:
                chunk = stream.read(min(_CHUNK, limit + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
    except (OSError, EOFError, zlib.error):
        raise DataError("the file looks gzip-compressed but is damaged or cut short") from None
    if len(out) > limit:
        raise DataError(f"the file expands to more than {_megabytes(limit)} of text, the most a "
                        f"price file may hold")
    return out


def _content_end(data: bytes | bytearray, start: int) -> int:
    # Where the text ends once trailing blank lines and spaces are dropped, found a chunk at a time
    # from the end, so neither a copy of the file nor a byte-by-byte loop is needed.
    end = len(data)
    while end > start:
        low = max(start, end - _CHUNK)
        tail = bytes(data[low:end]).rstrip()
        if tail:
            return low + len(tail)
        end = low
    return start


def _encoding(data: bytes | bytearray) -> str:
    # Checked in slices, so a non-ASCII file never costs a second full-size copy as text.
    if data.isascii():
        return "utf-8"
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), 1 << 20):
            decoder.decode(view[start:start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        # Spreadsheets on Windows save cp1252; the columns that matter are ASCII either way.
        return "latin-1"
    return "utf-8"


def read_text(source: CsvSource, limit: int | None = None) -> str:
    """The whole text of a CSV path or file object (text or binary, gzip or not), bounded.

    At most ``limit`` (default MAX_CSV_BYTES) bytes of text; see ``read_bytes``.
    """
    data = read_bytes(source, limit)
    start = len(_BOM) if data[:len(_BOM)] == _BOM else 0
    return bytes(data[start:]).decode(_encoding(data))


def detect_layout(columns: list[str]) -> str:
    """The name of the layout whose columns are exactly ``columns``, or a DataError."""
    found = sorted(_key(c) for c in columns)
    for name, expected in LAYOUTS.items():
        if found == sorted(_key(c) for c in expected):
            return name
    # At most 200 characters: 140 of them fixed, 60 the columns found.
    raise DataError(f"the CSV columns {_column_list(columns, 60)} are not a price layout; "
                    f"expected Date, Open, High, Low, Close, Volume (Yahoo export, Kaggle) or "
                    f"Bitstamp's Timestamp layout")


def _column_list(columns: list[str], limit: int = EXCERPT_CHARS) -> str:
    # "'Day', 'Last'", cut to `limit` characters however many columns there are.
    text = ""
    for column in columns:
        text += (", " if text else "") + repr(str(column).strip()[:limit])
        if len(text) > limit:
            return text[:limit - 1] + "…"
    return text or "(none)"


def parse(source: CsvSource, max_days: int | None = None) -> tuple[pd.DataFrame, str]:
    """Daily open/high/low/close/volume rows of a CSV, and the name of its layout.

    Only the most recent MAX_CSV_ROWS rows of the file are parsed, and only the most recent
    ``max_days`` days kept (all when None): a daily layout has a row a day, so at most
    ``max_days`` of its rows are parsed. Each cut adds a sentence to ``frame.attrs["notices"]``.
    """
    data = read_bytes(source)
    encoding = _encoding(data)
    start = len(_BOM) if data[:len(_BOM)] == _BOM else 0
    start = _BLANK.match(data, start).end()  # blank lines before the header
    end = _content_end(data, start)
    if start >= end:
        raise DataError("the CSV file is empty")
    newline = b"\n" if data.find(b"\n", start, end) >= 0 else b"\r"
    header_end = data.find(newline, start, end)
    header_end = end if header_end < 0 else header_end
    if header_end - start > MAX_HEADER_BYTES:
        raise DataError(f"the first line of the file is longer than {MAX_HEADER_BYTES:,} "
                        f"characters, so it is not a header of price columns such as "
                        f"Date,Open,High,Low,Close,Volume")
    header = bytes(data[start:header_end]).decode(encoding).rstrip("\r")
    try:
        columns = next(csv.reader([header]), [])
    except csv.Error:
        raise DataError(f"the first line of the file, {excerpt(header)}, is not a CSV header "
                        f"of price columns") from None
    layout = detect_layout(columns)
    by_key = {_key(c): c for c in LAYOUTS[layout]}
    names = [by_key[_key(c)] for c in columns]
    body_start = header_end + 1
    if body_start >= end:
        raise DataError("the CSV file has a header but no rows of prices")
    limit = MAX_CSV_ROWS
    if layout != BITSTAMP and max_days is not None:
        limit = min(limit, max_days)
    rows = data.count(newline, body_start, end) + 1
    skipped = max(rows - limit, 0)
    cut = header_end
    if skipped:  # the row before the most recent `limit` ends at the cut
        cut = end
        for _ in range(limit):
            cut = data.rfind(newline, body_start, cut)
    body = bytes(memoryview(data)[cut + 1:end])
    del data
    raw = _read_rows(body, names, encoding, newline, skipped)
    del body
    if layout == BITSTAMP:
        frame = _bitstamp(raw, skipped)
    else:
        frame = _daily(raw, layout, skipped)
    notices = []
    if skipped:
        notices.append(f"The file holds {rows:,} rows of prices; the most recent "
                       f"{rows - skipped:,} were kept.")
    if max_days is not None and len(frame) > max_days:  # Bitstamp: many rows a day
        notices.append(f"The file's rows cover {len(frame):,} days; the most recent "
                       f"{max_days:,} were kept.")
        frame = frame.iloc[-max_days:]
    frame.attrs = {"notices": notices}
    return frame, layout


def _read_rows(body: bytes, names: list[str], encoding: str, newline: bytes,
               offset: int) -> pd.DataFrame:
    # The columns read as numbers are parsed by pandas in C into float64, with _NA_VALUES as the
    # missing ones; any other cell fails the whole read, and `_find_bad_number` then names it.
    options = _read_options(names, encoding)
    raw = _read(body, options, newline, offset)
    if not isinstance(raw.index, pd.RangeIndex):
        # Every row has a field more than the header, so pandas made the first one the index.
        # An empty last field is a comma at the end of each line: read again without an index.
        last = raw[names[-1]]
        extra = (last.notna() & (last.astype(object).astype(str).str.strip() != "")).to_numpy()
        if extra.any():
            raise DataError(f"data row {offset + int(np.argmax(extra)) + 1:,} has "
                            f"{len(names) + 1} fields but the header has {len(names)} columns")
        raw = _read(body, {**options, "index_col": False}, newline, offset)
    _refuse_booleans(raw, body, names, encoding, newline, offset)
    return raw


def _read(body: bytes, options: dict, newline: bytes, offset: int) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(body), **options)
    except pd.errors.ParserError as exc:
        raise _unreadable(exc, offset) from None
    except pd.errors.EmptyDataError:
        raise DataError("the CSV file has a header but no rows of prices") from None
    except ValueError as exc:
        if "Number of passed names" in str(exc):  # a first row longer than the header
            raise DataError(f"data row {offset + 1:,} has more fields than the header's "
                            f"{len(options['names'])} columns") from None
        _find_bad_number(body, options, newline, offset)
        raise DataError(f"the file could not be read as CSV ({excerpt(str(exc))})") from None


def _read_options(names: list[str], encoding: str) -> dict:
    numeric = [c for c in _NUMERIC if c in names]
    return dict(header=None, names=names, encoding=encoding, skip_blank_lines=True,
                skipinitialspace=True, keep_default_na=False,
                # the columns not used (OpenInt, Weighted_Price, ...) too, or their empty cells
                # would each become a Python string
                na_values={c: _NA_VALUES for c in names if c != "Date"},
                dtype={"Date": str, **{c: "float64" for c in numeric}})


def _unreadable(exc: pd.errors.ParserError, offset: int) -> DataError:
    fields = _FIELDS.search(str(exc))
    if fields:
        expected, line, saw = fields.groups()
        return DataError(f"data row {offset + int(line):,} has {saw} fields but the header has "
                         f"{expected} columns")
    return DataError(f"the file could not be read as CSV ({excerpt(str(exc))})")


def _refuse_booleans(raw: pd.DataFrame, body: bytes, names: list[str], encoding: str,
                     newline: bytes, offset: int) -> None:
    # pandas reads True/False, in any case, as 1/0 even in a float64 column. Only a file with a 0
    # or 1 in it can hold one; the lines with the word are then looked at one by one.
    numeric = [c for c in _NUMERIC if c in names]
    values = raw[numeric].to_numpy()
    if not ((values == 0.0) | (values == 1.0)).any():
        return
    lowered = body.lower()
    for word in ("true", "false"):
        position, looked = lowered.find(word.encode()), 0
        while position >= 0 and looked < _BOOLEAN_LINES:
            start = lowered.rfind(newline, 0, position) + 1
            end = lowered.find(newline, position)
            end = len(lowered) if end < 0 else end
            line = bytes(body[start:end]).decode(encoding).rstrip("\r")
            for name, cell in zip(names, next(csv.reader([line]), [])):
                if name in numeric and cell.strip().lower() == word:
                    row = offset + lowered.count(newline, 0, start) + 1
                    raise DataError(f"column {name!r} holds {excerpt(cell)} in data row {row:,}, "
                                    f"which is not a number")
            position, looked = lowered.find(word.encode(), end), looked + 1


def _find_bad_number(body: bytes, options: dict, newline: bytes, offset: int) -> None:
    """Raise a DataError naming the first cell of ``body`` that failed to read as a number.

    Only for a file that failed: halves of the rows are read again as numbers (no Python object
    per cell, ~one more read of the file in all) down to a few kB, and those rows as strings.
    """
    low, high = 0, len(body)
    while high - low > _LOCATE_BYTES:
        middle = body.find(newline, (low + high) // 2, high)
        if middle < 0:
            break
        try:
            pd.read_csv(io.BytesIO(body[low:middle + 1]), **options)
        except pd.errors.ParserError as exc:
            raise _unreadable(exc, offset) from None
        except pd.errors.EmptyDataError:  # blank lines only: nothing wrong there
            pass
        except ValueError:
            high = middle + 1
            continue
        offset += body.count(newline, low, middle + 1)
        low = middle + 1
    strings = {**options, "dtype": str, "na_values": None}
    try:
        text = pd.read_csv(io.BytesIO(body[low:high]), **strings)
    except pd.errors.ParserError as exc:
        raise _unreadable(exc, offset) from None
    except ValueError:
        return
    # The rule pandas applied, cell by cell: a number (spaces around it allowed) or a marker.
    for row in range(len(text)):
        for column in (c for c in _NUMERIC if c in text.columns):
            cell = text[column].iloc[row]
            if not isinstance(cell, str) or cell.lower() in _MISSING:  # a short row, or a marker
                continue
            if not np.isnan(pd.to_numeric(cell, errors="coerce")):
                continue
            raise DataError(f"column {column!r} holds {excerpt(cell)} in data row "
                            f"{offset + row + 1:,}, which is not a number")


def _dates(values: pd.Series, offset: int = 0) -> pd.DatetimeIndex:
    text = values.fillna("").str.strip()
    long = (text.str.len() > MAX_DATE_CHARS).to_numpy()
    if long.any():  # dateutil takes minutes over a long string
        raise _not_a_date(text, long, offset, "; expected dates like 2013-03-01")
    # ISO dates are the norm and fast; then the format of the first date (1/2/2013 from a
    # spreadsheet, "2 Jan 2013"), read for every row at once. "mixed" tries each row on its own,
    # which for unusual text costs ~80 us a row, so only short files get it.
    formats = ["ISO8601"]
    first = text.iloc[0] if len(text) else ""
    try:
        guessed = guess_datetime_format(first) if 0 < len(first) <= EXCERPT_CHARS else None
    except (ValueError, TypeError, OverflowError):
        guessed = None
    formats += [guessed] if guessed else []
    formats += ["mixed"] if len(text) <= MAX_MIXED_DATES else []
    dates = None
    for fmt in formats:
        try:
            parsed = pd.to_datetime(text, errors="coerce", format=fmt)
        except (ValueError, TypeError, OverflowError):
            continue
        if dates is None or parsed.notna().sum() > dates.notna().sum():
            dates = parsed
        if dates.notna().all():
            break
    bad = np.ones(len(values), bool) if dates is None else dates.isna().to_numpy()
    if bad.any():
        raise _not_a_date(text, bad, offset, "; expected dates like 2013-03-01")
    index = pd.DatetimeIndex(dates)
    index = index.tz_localize(None) if index.tz is not None else index
    # pandas holds dates beyond 1677-2262 at a coarser unit; the frame needs nanoseconds.
    last = last_day()
    bad = np.asarray((index < FIRST_DATE) | (index.normalize() > last))
    if bad.any():
        raise _not_a_date(text, bad, offset, f" between {FIRST_DATE.date()} and {last.date()}")
    return index.as_unit("ns")


def _not_a_date(text: pd.Series, bad: np.ndarray, offset: int, expected: str) -> DataError:
    # The first bad row, named as the person counts it (from the top of the file).
    row = int(np.argmax(bad))
    return DataError(f"{excerpt(text.iloc[row])} in data row {offset + row + 1:,} is not a "
                     f"date{expected}")


def _check_order(stamps: pd.DatetimeIndex, what: str, offset: int = 0) -> None:
    # A person's file in the wrong order is more likely a mistake than a choice: say so, don't sort.
    steps = np.diff(stamps.asi8)
    if (steps > 0).all():
        return
    row = int(np.argmax(steps <= 0)) + 1
    here, before = stamps[row], stamps[row - 1]
    first = offset + row
    if here == before:
        raise DataError(f"{what} {here} appears more than once (data rows {first:,} and "
                        f"{first + 1:,}); each needs exactly one row")
    raise DataError(f"{what}s are not in ascending order: data row {first + 1:,} ({here}) comes "
                    f"after data row {first:,} ({before}); sort the file oldest first")


def _daily(raw: pd.DataFrame, layout: str, offset: int = 0) -> pd.DataFrame:
    days = _dates(raw["Date"], offset).normalize()
    _check_order(days, "date", offset)
    names = [c for c in ("Open", "High", "Low", "Close", "Adj Close") if c in LAYOUTS[layout]]
    columns = {name: raw[name].to_numpy("float64") for name in [*names, "Volume"]}
    for name in names:  # checked here, not in validate, to name the file's own column
        bad = ~(np.isfinite(columns[name]) & (columns[name] > 0))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{name} is {columns[name][row]} on {days[row].date()} (data row "
                            f"{offset + row + 1:,}); prices must be positive numbers")
    # Yahoo's Close is split-adjusted only; Adj Close also takes out dividends.
    ratio = columns["Adj Close"] / columns["Close"] if layout == YAHOO else 1.0
    frame = {name.lower(): columns[name] * ratio for name in ("Open", "High", "Low", "Close")}
    return pd.DataFrame({**frame, "volume": columns["Volume"]},
                        index=pd.DatetimeIndex(days, name="date"))


def _bitstamp(raw: pd.DataFrame, offset: int = 0) -> pd.DataFrame:
    seconds = raw["Timestamp"].to_numpy("float64")
    if np.isnan(seconds).any():
        row = int(np.argmax(np.isnan(seconds)))
        raise DataError(f"Timestamp is missing in data row {offset + row + 1:,}")
    last = last_day()
    earliest = (FIRST_DATE - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    latest = (last + pd.Timedelta(days=1) - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    bad = ~((seconds >= earliest) & (seconds < latest))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"Timestamp {seconds[row]:.15g} in data row {offset + row + 1:,} is not "
                        f"a unix time between {FIRST_DATE.date()} and {last.date()}")
    stamps = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s")).as_unit("ns")
    _check_order(stamps, "timestamp", offset)
    minutes = pd.DataFrame({
        "open": raw["Open"].to_numpy("float64"), "high": raw["High"].to_numpy("float64"),
        "low": raw["Low"].to_numpy("float64"), "close": raw["Close"].to_numpy("float64"),
        "volume": np.nan_to_num(raw["Volume_(BTC)"].to_numpy("float64"), nan=0.0),
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

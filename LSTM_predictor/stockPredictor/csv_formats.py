"""The price CSV files people bring -> their rows, read in C; ``csv_columns`` makes them days.

Any file with a date (or unix time) column and a close or price column is read, whatever its
delimiter (comma, semicolon, tab, pipe), encoding (UTF-8 with or without BOM, UTF-16, else
cp1252 or latin-1), compression (gzip) or order. ``prices.read_csv`` is the public entry point;
this module reads the bytes, and leaves the checks every source shares to ``prices.validate``.

Every file is bounded before it is parsed: at most MAX_CSV_BYTES of (decompressed) text is ever
held, a header longer than MAX_HEADER_BYTES is refused before pandas sees it, and only the most
recent MAX_CSV_ROWS rows are parsed (of a long file, the chosen symbol's: only its symbol column
is read whole). Errors are one sentence that quotes at most ``errors.EXCERPT_CHARS`` characters
of the file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import zlib
from typing import IO

import numpy as np
import pandas as pd

from . import csv_columns
from .csv_columns import (FIRST_DATE, MAX_DATE_CHARS, MAX_MIXED_DATES,  # noqa: F401 (re-exported)
                          Plan, last_day)
from .errors import DataError, excerpt

YAHOO = "Yahoo export"
YAHOO_PLAIN = "Yahoo export without Adj Close"
KAGGLE = "Kaggle"
BITSTAMP = "Bitstamp"
NASDAQ = "Nasdaq export"
OTHER = "date and price columns"

# Layouts known by name; any other file with a date and a price column is OTHER.
LAYOUTS: dict[str, tuple[str, ...]] = {
    YAHOO: ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"),
    YAHOO_PLAIN: ("Date", "Open", "High", "Low", "Close", "Volume"),
    KAGGLE: ("Date", "Open", "High", "Low", "Close", "Volume", "OpenInt"),
    BITSTAMP: ("Timestamp", "Open", "High", "Low", "Close", "Volume_(BTC)", "Volume_(Currency)",
               "Weighted_Price"),
    NASDAQ: ("Date", "Close/Last", "Volume", "Open", "High", "Low"),
}

# Bounds on what one file may cost. Measured with prices.read_csv on the 2-core dev machine
# (pandas 3.1), one fresh process per file: CPU seconds / tracemalloc peak / growth of max RSS.
#   Yahoo export of 100,000 rows, 5.2 MB plain or 1.8 MB gzip: before 0.48-0.51 s / 54 MiB /
#     120 MiB (pd.read_csv(dtype=str): a Python str per cell); now 0.015 s (gzip 0.040 s) /
#     1.3 MiB (gzip 5.4 MiB) / 3 MiB (gzip 8 MiB): only the most recent MAX_DAILY_ROWS rows are
#     parsed. The same rows in UTF-16: 0.020 s / 6.5 MiB; as Nasdaq writes them ("$" prices,
#     MM/DD/YYYY, newest first): 0.023 s / 1.2 MiB.
#   Bitstamp minutes, 10 MB, 100,000 rows: before 0.50 s / 92 MiB / 180 MiB; now 0.07 s / 22 MiB
#     / 38 MiB.
#   The worst file allowed, 16 MB of Bitstamp minutes cut to their last 250,000 rows: 0.13 s
#     (its 5.2 MB gzip 0.20 s) / 45 MiB / 57 MiB; with a bad number in its last row, which is
#     then looked for by halves, 0.25 s / 30 MiB / 50 MiB. 16 MB of minutes written
#     "01/02/2024 09:30","$1,234.56" (230,000 rows): 0.66 s / 57 MiB / 97 MiB, most of it
#     pandas reading dates in a format of the file's own.
#   A long file of 16 MB, 348,000 rows of 39 symbols: 0.14 s / 18 MiB / 85 MiB; its symbol
#     column is read first, so only the chosen symbol's rows are parsed.
#   A 1 MB gzip bomb expanding to 1 GiB, or a 0.5 MB gzip of one 524 MB line: refused in
#     0.05 s, max RSS +15 MiB, a 63-character message (before: MemoryError after the worker grew
#     to 2-3.7 GB, or a 524 MB message; a header of 200,000 columns kept pandas busy > 5 min).
MAX_CSV_BYTES = 16_000_000  # text held, after decompression; more is refused
MAX_CSV_ROWS = 250_000  # rows parsed, the most recent; ~170 days of Bitstamp minutes
MAX_HEADER_BYTES = 1_000  # the longest layout's header, Bitstamp's, is 75 characters
_CHUNK = 1 << 16  # bytes decompressed at a time
_CHUNK_ROWS = 1 << 15  # rows read as text at a time when numbers need cleaning ("$1,234.56")
_PEEK_LINES = 32  # lines at each end read first, to learn the file's order and rows per day
_PEEK_BYTES = 1 << 14  # the most read of those lines
_LOCATE_BYTES = 1 << 14  # rows read as text to name a cell that is not a number

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
_BINARY = {b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
           b"\xd0\xcf\x11\xe0": "an Excel .xls workbook"}
_DELIMITERS = (",", ";", "\t", "|")
_BOOLEAN_LINES = 100  # lines with "true" or "false" looked at for one in a number column
_BLANK = re.compile(rb"\s*")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")

CsvSource = str | os.PathLike | IO[str] | IO[bytes]


def _key(name: object) -> str:
    # Layout matching ignores case, spaces and underscores: "Adj Close", "adj_close", " ADJCLOSE".
    return "".join(str(name).replace("\ufeff", "").lower().replace("_", "").split())


def _megabytes(size: int) -> str:
    return f"{size / 1e6:g} MB"


def file_name(source: object) -> str | None:
    """The base name of an uploaded file (a path, or a file object's filename or name), cut to
    80 characters, without any folder; None when the source has no name."""
    name = source if isinstance(source, (str, os.PathLike)) else (
        getattr(source, "filename", None) or getattr(source, "name", None))
    name = os.fspath(name) if isinstance(name, os.PathLike) else name
    if not isinstance(name, str):
        return None
    # A browser on Windows may send C:\fakepath\prices.csv.
    return re.split(r"[\\/]", name)[-1].strip()[:80] or None


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


def _utf16(data: bytes | bytearray) -> str | None:
    # Excel's "Unicode text" is UTF-16 with a BOM; without one, ASCII text in UTF-16 has a NUL
    # byte beside every character.
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = bytes(data[:2 * MAX_HEADER_BYTES])
    even, odd = sample[0::2], sample[1::2]
    if len(sample) < 4 or (even.count(0) == 0) == (odd.count(0) == 0):
        return None
    zeros = odd if even.count(0) == 0 else even
    if zeros.count(0) < 0.8 * len(zeros):
        return None
    return "utf-16-le" if zeros is odd else "utf-16-be"


def _as_utf8(data: bytes | bytearray) -> bytes | bytearray:
    # UTF-16 is transcoded a megabyte at a time: the text is at most 1.5 times the (bounded) file.
    codec = _utf16(data)
    if codec is None:
        return data
    decoder = codecs.getincrementaldecoder(codec)("replace")
    out, view = bytearray(), memoryview(data)
    for start in range(0, len(data), 1 << 20):
        out += decoder.decode(view[start:start + (1 << 20)]).encode("utf-8", "replace")
    out += decoder.decode(b"", final=True).encode("utf-8", "replace")
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


_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


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
        # Spreadsheets on Windows save cp1252 (its 0x80 is the euro sign, 0x92 the apostrophe
        # some write between thousands); a file with a byte cp1252 leaves undefined is latin-1.
        if any(data.find(byte) >= 0 for byte in _CP1252_UNDEFINED):
            return "latin-1"
        return "cp1252"
    return "utf-8"


def read_text(source: CsvSource, limit: int | None = None) -> str:
    """The whole text of a CSV path or file object (text or binary, gzip or not), bounded.

    At most ``limit`` (default MAX_CSV_BYTES) bytes of text; see ``read_bytes``.
    """
    data = _as_utf8(read_bytes(source, limit))
    start = len(_BOM) if data[:len(_BOM)] == _BOM else 0
    return bytes(data[start:]).decode(_encoding(data))


def layout_of(columns: list[str]) -> str:
    """The name of the known layout whose columns are exactly ``columns``, else OTHER."""
    found = sorted(_key(c) for c in columns)
    for name, expected in LAYOUTS.items():
        if found == sorted(_key(c) for c in expected):
            return name
    return OTHER


def parse(source: CsvSource, max_days: int | None = None,
          symbol: str | None = None) -> tuple[pd.DataFrame, str]:
    """Daily open/high/low/close/volume rows of a CSV, and the name of its layout.

    Only the most recent MAX_CSV_ROWS rows of the file are parsed, and only the most recent
    ``max_days`` days kept (all when None): a file with a row a day has at most ``max_days`` of
    its rows parsed. ``symbol`` (upper case) picks the rows of a file with a symbol column.
    Each cut or fix adds a sentence to ``frame.attrs["notices"]``; ``frame.attrs["symbol"]``
    is the symbol the rows hold ("" when the file has no symbol column).
    """
    data = _as_utf8(read_bytes(source))
    for magic, what in _BINARY.items():
        if data[:len(magic)] == magic:
            raise DataError(f"the file is {what}, not CSV text; save it as CSV and upload that")
    encoding = _encoding(data)
    start = len(_BOM) if data[:len(_BOM)] == _BOM else 0
    start = _BLANK.match(data, start).end()  # blank lines before the header
    end = _content_end(data, start)
    if start >= end:
        raise DataError("the CSV file is empty")
    newline = b"\n" if data.find(b"\n", start, end) >= 0 else b"\r"
    header_end, columns, delimiter = _header(data, start, end, encoding, newline)
    plan = Plan(columns, delimiter, encoding, newline)
    body_start = header_end + 1
    if body_start >= end:
        raise DataError("the CSV file has a header but no rows of prices")
    rows = data.count(newline, body_start, end) + 1
    first, last, offset, kept = _rows_to_read(data, body_start, end, rows, plan, max_days, symbol)
    body = b"".join((plan.prefix(), memoryview(data)[first:last]))
    del data
    for sign in plan.signs:  # "$1,234.56": the sign goes here, the comma in pandas
        body = body.replace(sign, b"")
    raw, numbers = _read_rows(body, plan, offset)
    del body
    chosen = ""
    if "symbol" in raw:
        keep, chosen = csv_columns.symbol_rows(raw.pop("symbol"), symbol, plan.names["symbol"])
        if keep is not None:
            raw = {role: values[keep] for role, values in raw.items()}
            numbers = numbers[keep]
    frame, notices = csv_columns.daily(raw, numbers, plan.names)
    if kept is not None:
        notices.insert(0, f"The file holds {rows:,} rows of prices; the most recent {kept:,} "
                          f"were kept.")
    if max_days is not None and len(frame) > max_days:
        notices.append(f"The file's rows cover {len(frame):,} days; the most recent "
                       f"{max_days:,} were kept.")
        frame = frame.iloc[-max_days:]
    frame.attrs = {"notices": notices, "symbol": chosen}
    return frame, layout_of(columns)


def _header(data: bytes | bytearray, start: int, end: int, encoding: str,
            newline: bytes) -> tuple[int, list[str], str]:
    """Where the header line ends, its columns and the file's delimiter.

    Excel's "sep=;" first line names the delimiter; a title line without any delimiter (a URL,
    as CryptoDataDownload writes) is skipped when the next line has one.
    """
    forced = None
    for _ in range(3):
        line_end = data.find(newline, start, end)
        line_end = end if line_end < 0 else line_end
        if line_end - start > MAX_HEADER_BYTES:
            raise DataError(f"the first line of the file is longer than {MAX_HEADER_BYTES:,} "
                            f"characters, so it is not a header of price columns such as "
                            f"Date,Open,High,Low,Close,Volume")
        header = bytes(data[start:line_end]).decode(encoding).strip("\r\n\ufeff")
        if "\x00" in header:
            raise DataError("the file holds binary data, not CSV text")
        lowered = header.strip().lower()
        if len(lowered) == 5 and lowered.startswith("sep="):
            forced, start = header.strip()[4], line_end + 1
            continue
        plain = not any(d in header for d in _DELIMITERS)
        stop = min(end, line_end + 1 + MAX_HEADER_BYTES)
        after = data.find(newline, line_end + 1, stop)
        following = bytes(data[line_end + 1:stop if after < 0 else after])
        if forced is None and plain and any(d.encode() in following for d in _DELIMITERS):
            start = line_end + 1
            continue
        break
    delimiter = forced or _delimiter(header)
    try:
        columns = next(csv.reader([header], delimiter=delimiter), [])
    except csv.Error:
        raise DataError(f"the first line of the file, {excerpt(header)}, is not a CSV header "
                        f"of price columns") from None
    return line_end, columns, delimiter


def _delimiter(header: str) -> str:
    # The delimiter that splits the header into the most fields; a comma when none splits it.
    counts = {}
    for delimiter in _DELIMITERS:
        try:
            counts[delimiter] = len(next(csv.reader([header], delimiter=delimiter), []))
        except csv.Error:
            counts[delimiter] = 0
    return max(_DELIMITERS, key=lambda d: (counts[d], -_DELIMITERS.index(d)))


def _rows_to_read(data: bytes | bytearray, body_start: int, end: int, rows: int, plan: Plan,
                  max_days: int | None, symbol: str | None) -> tuple[int, int, int, int | None]:
    """The bytes of the rows to parse (first, last), the rows above them, and how many rows
    are parsed when the file is cut (None when all that matter are).

    The most recent rows are kept: the last ones, or the first ones of a file listed newest
    first. A file with a row a day (no symbol column, no two rows on a day at its recent end)
    has at most ``max_days`` rows parsed; any other at most MAX_CSV_ROWS. A few rows at each
    end are read first, to learn this and how the file writes its numbers.
    """
    daily_limit = MAX_CSV_ROWS if max_days is None else min(MAX_CSV_ROWS, max_days)
    # Only lines that are read if the file is cut: a bad date in the others is no error.
    lines = min(_PEEK_LINES, daily_limit)
    head = _sample(data, body_start, end, plan, lines, at_start=True)
    tail = _sample(data, body_start, end, plan, lines, at_start=False) if rows > lines else []
    plan.unix = csv_columns.is_unix(_dates_of(head, plan))
    plan.read_numbers_like(head + tail)
    if rows <= daily_limit:
        return body_start, end, 0, None
    stamps = csv_columns.peek(_dates_of(head, plan) + _dates_of(tail, plan))
    head_days, tail_days = stamps[:len(head)].dropna(), stamps[len(head):].dropna()
    newest_first = bool(len(head_days) and len(tail_days) and head_days[0] > tail_days[-1])
    if "symbol" in plan.where:
        span = _symbol_span(data, body_start, end, plan, symbol)
        if span is not None:
            return _span_bytes(data, body_start, end, plan.newline, *span, newest_first)
    recent = head_days if newest_first else tail_days
    one_a_day = ("symbol" not in plan.where and len(recent) > 0
                 and recent.normalize().is_unique)
    limit = daily_limit if one_a_day else MAX_CSV_ROWS
    if rows <= limit:
        return body_start, end, 0, None
    if newest_first:  # the row after the most recent `limit` starts past the cut
        return body_start, _newline(data, body_start, end, plan.newline, limit, True), 0, limit
    # The row before the most recent `limit` ends at the cut.
    cut = _newline(data, body_start, end, plan.newline, limit, False) + 1
    return cut, end, rows - limit, limit


def _symbol_span(data: bytes | bytearray, body_start: int, end: int, plan: Plan,
                 symbol: str | None) -> tuple[int, int] | None:
    """The first and last line (from 0) holding a long file's chosen symbol; None for all.

    Only the symbol column of every row is read (as categories: no Python object a row), so
    a long file sorted by symbol is cut to its chosen symbol's rows before they are parsed,
    and the symbols it lists in an error are all of the file's.
    """
    at = plan.where["symbol"]
    prefix = plan.delimiter.join("0" * (at + 1)).encode() + plan.newline
    options = dict(header=None, names=[f"c{i}" for i in range(at + 1)], usecols=[at],
                   index_col=False, sep=plan.delimiter, encoding=plan.encoding,
                   skip_blank_lines=False, skipinitialspace=True, keep_default_na=False,
                   dtype={f"c{at}": "category"})
    body = b"".join((prefix, memoryview(data)[body_start:end]))
    try:
        cells = pd.read_csv(io.BytesIO(body), **options)[f"c{at}"]
    except (ValueError, pd.errors.ParserError):
        return None  # the full read says what is wrong
    del body
    keep, _ = csv_columns.symbol_rows(cells.iloc[1:], symbol, plan.names["symbol"])
    lines = np.flatnonzero(keep) if keep is not None else np.array([], "int64")
    return (int(lines[0]), int(lines[-1])) if len(lines) else None


def _span_bytes(data: bytes | bytearray, body_start: int, end: int, newline: bytes, top: int,
                bottom: int, newest_first: bool) -> tuple[int, int, int, int | None]:
    # Lines top..bottom, or the most recent MAX_CSV_ROWS of them.
    kept = None
    if bottom - top + 1 > MAX_CSV_ROWS:
        kept = MAX_CSV_ROWS
        top, bottom = (top, top + kept - 1) if newest_first else (bottom - kept + 1, bottom)
    first = body_start if top == 0 else _newline(data, body_start, end, newline, top, True) + 1
    return first, _newline(data, body_start, end, newline, bottom + 1, True), top, kept


def _newline(data: bytes | bytearray, start: int, end: int, newline: bytes, count: int,
             forward: bool) -> int:
    """Where the ``count``-th newline from the start (or the end) of data[start:end] is.

    Newlines are counted a chunk at a time in C; only the chunk that holds the one wanted is
    searched newline by newline.
    """
    low, high = start, end
    while high > low:
        chunk = (low, min(high, low + _CHUNK)) if forward else (max(low, high - _CHUNK), high)
        found = data.count(newline, *chunk)
        if found >= count:
            break
        count -= found
        low, high = (chunk[1], high) if forward else (low, chunk[0])
    else:
        return end if forward else start - 1
    position = chunk[0] - 1 if forward else chunk[1]
    for _ in range(count):
        position = (data.find(newline, position + 1, chunk[1]) if forward
                    else data.rfind(newline, chunk[0], position))
    return position


def _sample(data: bytes | bytearray, start: int, end: int, plan: Plan, lines: int,
            at_start: bool) -> list[list[str]]:
    """The cells of the first (or last) few lines, read with Python's csv module."""
    if at_start:
        chunk = bytes(data[start:min(end, start + _PEEK_BYTES)])
        text = chunk.decode(plan.encoding, "replace").split(plan.newline.decode())
        text = text[:lines] if len(text) > lines or start + _PEEK_BYTES >= end else text[:-1]
    else:
        chunk = bytes(data[max(start, end - _PEEK_BYTES):end])
        text = chunk.decode(plan.encoding, "replace").split(plan.newline.decode())
        text = text[-lines:] if len(text) > lines or end - _PEEK_BYTES <= start else text[1:]
    try:
        return [row for row in csv.reader(text, delimiter=plan.delimiter) if row]
    except csv.Error:
        return []


def _dates_of(rows: list[list[str]], plan: Plan) -> list[str]:
    # The date cells (with the time, if a column of its own) of sampled rows.
    at = [plan.where[r] for r in ("date", "time") if r in plan.where]
    return [" ".join(row[i].strip() for i in at if i < len(row)) for row in rows]


def _read_rows(body: bytes, plan: Plan, offset: int) -> tuple[dict, np.ndarray]:
    """The cells of each role, and the rows' numbers in the file.

    Prices are parsed by pandas in C into float64, with _NA_VALUES as the missing ones; when a
    cell is not a plain number ("$1,234.56", "123,45", or a typo), the rows are read again as
    text a chunk at a time and the numbers cleaned, or the bad cell named.
    """
    try:
        frame = pd.read_csv(io.BytesIO(body), **plan.options()).iloc[1:]
    except pd.errors.ParserError as exc:
        raise _unreadable(exc, offset) from None
    except ValueError:
        bad = _first_bad_cell(body, plan, offset)
        if bad is not None:  # a typo is named at once; "$1,234.56" is read as text below
            row, role, cell = bad
            csv_columns.numbers(pd.Series([cell], dtype="str"), plan.names[role], np.array([row]),
                                plan.delimiter, {}, volume=role == "volume")
        return _read_text(body, plan, offset)
    numbers = offset + frame.index.to_numpy()
    _refuse_extra_fields(frame, plan, numbers)
    _refuse_booleans(frame, body, plan, offset)
    raw = {role: plan.cells(frame, role) for role in plan.where}
    for role in [*plan.numeric, *(["date"] if plan.unix else [])]:
        raw[role] = raw[role].to_numpy("float64")
    return raw, numbers


def _read_text(body: bytes, plan: Plan, offset: int) -> tuple[dict, np.ndarray]:
    parts: dict[str, list] = {role: [] for role in plan.where}
    numbers, decimal_comma = [], {}
    try:
        chunks = pd.read_csv(io.BytesIO(body), **plan.options(text=True), chunksize=_CHUNK_ROWS)
        with chunks:
            for chunk in _chunks(chunks, offset):
                chunk = chunk[chunk.index > 0]  # the prefix line
                rows = offset + chunk.index.to_numpy()
                _refuse_extra_fields(chunk, plan, rows)
                for role in plan.where:
                    cells = plan.cells(chunk, role)
                    if role in plan.numeric:
                        cells = csv_columns.numbers(cells, plan.names[role], rows, plan.delimiter,
                                                    decimal_comma, volume=role == "volume")
                    parts[role].append(cells)
                numbers.append(rows)
    except pd.errors.ParserError as exc:
        raise _unreadable(exc, offset) from None
    raw = {role: (np.concatenate(values) if role in plan.numeric else pd.concat(values))
           for role, values in parts.items()}
    return raw, np.concatenate(numbers)


def _chunks(reader, offset: int):
    # pandas' own words ("could not convert string to float") never reach a message.
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except pd.errors.ParserError as exc:
            raise _unreadable(exc, offset) from None
        except ValueError:
            raise DataError("the file could not be read as CSV text; check that its fields are "
                            "separated and quoted the same way on every line") from None


def _first_bad_cell(body: bytes, plan: Plan, offset: int) -> tuple[int, str, str] | None:
    """The file row, role and text of the first price cell pandas cannot read as a number.

    Halves of the rows are read again as numbers (no Python object per cell, ~one more read
    of the file in all) down to a few kB, and those rows as text. None if none is found.
    """
    options, prefix, newline = plan.options(), plan.prefix(), plan.newline
    low, high = len(prefix), len(body)
    while high - low > _LOCATE_BYTES:
        middle = body.find(newline, (low + high) // 2, high)
        if middle < 0:
            break
        try:
            pd.read_csv(io.BytesIO(b"".join((prefix, memoryview(body)[low:middle + 1]))),
                        **options)
        except pd.errors.ParserError:
            return None
        except ValueError:
            high = middle + 1
            continue
        offset += body.count(newline, low, middle + 1)
        low = middle + 1
    try:
        text = pd.read_csv(io.BytesIO(prefix + body[low:high]), **plan.options(text=True))
    except (ValueError, pd.errors.ParserError):
        return None
    found = []
    for role in [*plan.numeric, *(["date"] if plan.unix else [])]:
        cells = plan.cells(text, role).iloc[1:]
        numbers = pd.to_numeric(cells.str.strip(), errors="coerce")
        bad = (numbers.isna() & cells.notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            found.append((offset + int(cells.index[row]), role, str(cells.iloc[row])))
    return min(found, default=None)


def _unreadable(exc: pd.errors.ParserError, offset: int) -> DataError:
    # pandas counts the prefix line as row 0: its row 1 is the first data row.
    quote = _OPEN_QUOTE.search(str(exc))
    if quote:
        return DataError(f"a quote opened in data row {offset + int(quote.group(1)):,} is never "
                         f"closed")
    return DataError("the file could not be read as CSV text; check that its fields are "
                     "separated and quoted the same way on every line")


def _refuse_extra_fields(frame: pd.DataFrame, plan: Plan, rows: np.ndarray) -> None:
    # A row with more fields than the header is most often a price written 1,234.56 without
    # quotes in a comma-separated file: every later column would be shifted.
    count = len(plan.columns)
    one, two = frame[f"c{count}"].notna().to_numpy(), frame[f"c{count + 1}"].notna().to_numpy()
    if one.any() or two.any():
        row = int(np.argmax(one | two))
        fields = f"more than {count + 1}" if two[row] else f"{count + 1}"
        hint = "; a number written 1,234.56 needs quotes" if plan.delimiter == "," else ""
        raise DataError(f"data row {rows[row]:,} has {fields} fields but the header has {count} "
                        f"columns{hint}")


def _refuse_booleans(frame: pd.DataFrame, body: bytes, plan: Plan, offset: int) -> None:
    # pandas reads True/False, in any case, as 1/0 even in a float64 column. Only a file with a 0
    # or 1 in it can hold one; the lines with the word are then looked at one by one.
    numeric = {plan.where[role]: plan.names[role] for role in plan.numeric}
    values = frame[[f"c{at}" for at in numeric]].to_numpy("float64")
    if not ((values == 0.0) | (values == 1.0)).any():
        return
    lowered, newline = body.lower(), plan.newline
    for word in ("true", "false"):
        position, looked = lowered.find(word.encode()), 0
        while position >= 0 and looked < _BOOLEAN_LINES:
            start = lowered.rfind(newline, 0, position) + 1
            end = lowered.find(newline, position)
            end = len(lowered) if end < 0 else end
            line = bytes(body[start:end]).decode(plan.encoding).rstrip("\r")
            cells = next(csv.reader([line], delimiter=plan.delimiter), [])
            for at, name in numeric.items():
                if at < len(cells) and cells[at].strip().lower() == word:
                    row = offset + lowered.count(newline, 0, start)
                    raise DataError(f"column {name!r} holds {excerpt(cells[at])} in data row "
                                    f"{row:,}, which is not a number")
            position, looked = lowered.find(word.encode(), end), looked + 1

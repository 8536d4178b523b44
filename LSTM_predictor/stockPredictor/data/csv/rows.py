"""The rows stage: which of a price CSV's rows to parse, found without parsing the others.

A few lines at each end are read first (``peek``), to learn the file's order, whether it has a
row a day, and how it writes numbers. Of a long file only the most recent rows are parsed: at
most ``max_days`` of a file with a row a day, MAX_CSV_ROWS of any other; of a file with a symbol
column, only the chosen symbol's (``symbol_rows``), found by reading that column alone.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from ...errors import DataError, excerpt
from ..tickers import is_ticker
from .dates import peek as peek_dates
from .layout import MISSING, Plan, is_name_column

MAX_CSV_ROWS = 250_000  # rows parsed, the most recent; ~170 days of Bitstamp minutes
MAX_SYMBOLS_LISTED = 10
_CHUNK = 1 << 16  # bytes searched for newlines at a time
_PEEK_LINES = 32  # lines at each end read first, to learn the file's order and rows per day
_PEEK_BYTES = 1 << 14  # the most read of those lines


def _daily_limit(max_days: int | None) -> int:
    return MAX_CSV_ROWS if max_days is None else min(MAX_CSV_ROWS, max_days)


def peek(data: bytes | bytearray, body_start: int, end: int, plan: Plan, rows: int,
         max_days: int | None) -> tuple[list[list[str]], list[list[str]]]:
    """The cells of the first and the last few lines of the body (the last: none when the
    first few are all the rows). Only lines that are parsed if the file is cut are read, so a
    bad date in the others is no error."""
    lines = min(_PEEK_LINES, _daily_limit(max_days))
    head = _sample(data, body_start, end, plan, lines, at_start=True)
    tail = _sample(data, body_start, end, plan, lines, at_start=False) if rows > lines else []
    return head, tail


def dates_of(rows: list[list[str]], plan: Plan) -> list[str]:
    """The date cells (with the time, if a column of its own) of sampled rows."""
    at = [plan.where[r] for r in ("date", "time") if r in plan.where]
    return [" ".join(row[i].strip() for i in at if i < len(row)) for row in rows]


def to_read(data: bytes | bytearray, body_start: int, end: int, rows: int, plan: Plan,
            sample: tuple[list, list], max_days: int | None,
            symbol: str | None) -> tuple[int, int, int, int | None]:
    """The bytes of the rows to parse (first, last), the rows above them, and how many rows
    are parsed when the file is cut (None when all that matter are).

    The most recent rows are kept: the last ones, or the first ones of a file listed newest
    first. A file with a row a day (no symbol column, no two rows on a day at its recent end)
    has at most ``max_days`` rows parsed; any other at most MAX_CSV_ROWS. ``sample`` is what
    ``peek`` read.
    """
    daily_limit = _daily_limit(max_days)
    if rows <= daily_limit:
        return body_start, end, 0, None
    head, tail = sample
    stamps = peek_dates(dates_of(head, plan) + dates_of(tail, plan))
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
    keep, _ = symbol_rows(cells.iloc[1:], symbol, plan.names["symbol"])
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


def symbol_rows(symbols: pd.Series, wanted: str | None,
                column: str = "Symbol") -> tuple[np.ndarray | None, str]:
    """Which rows a long file keeps (None: all), and the symbol they hold.

    ``wanted`` (upper case) picks the symbol; without it the file must hold one symbol only.
    BTC/USD is read as BTC-USD. A file of one symbol in a Name ``column``, or of one that is
    not ticker-like ("Apple Inc."), is taken whole whatever ``wanted`` is: it names the company
    ("Bitcoin" for BTC-USD), not necessarily its ticker.
    """
    # Each distinct name is cleaned once, not each row: a long file repeats a few symbols.
    codes = symbols.astype("category").cat
    cleaned = (pd.Series(codes.categories.astype("str")).str.strip().str.upper()
               .str.replace("/", "-", regex=False))
    names, inverse = np.unique(cleaned.to_numpy("str"), return_inverse=True)
    row_codes = np.where(codes.codes.to_numpy() >= 0, inverse[codes.codes.to_numpy()], -1)
    present = np.bincount(row_codes[row_codes >= 0], minlength=len(names)) > 0
    listed = [n for n in names[present] if n and n.lower() not in MISSING]
    if not listed:
        return None, ""
    if wanted is None and len(listed) == 1:
        wanted = listed[0]
    elif wanted is None:
        raise DataError(f"the file holds prices for {len(listed):,} symbols "
                        f"({_symbol_list(listed)}); choose one in the ticker field")
    elif wanted not in listed:
        if len(listed) == 1 and (is_name_column(column) or not is_ticker(listed[0])):
            return None, ""
        raise DataError(f"the file holds no prices for {excerpt(wanted, 20)}; its symbols are "
                        f"{_symbol_list(listed)}")
    return row_codes == int(np.searchsorted(names, wanted)), str(wanted)


def _symbol_list(names: list[str], budget: int = 100) -> str:
    # At most ten, each cut to 12 characters, all to about `budget`: the sentence stays short.
    shown = []
    for name in names[:MAX_SYMBOLS_LISTED]:
        text = "".join(c if c.isprintable() else "?" for c in name[:12])
        shown.append(text + ("…" if len(name) > 12 else ""))
        if len(", ".join(shown)) > budget:
            shown.pop()
            break
    return ", ".join(shown) + (", …" if len(shown) < len(names) else "")

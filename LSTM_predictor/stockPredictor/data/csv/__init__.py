"""The price CSV files people bring, read in stages: bytes -> layout -> rows -> cells -> dates ->
days, through one entry, ``parse`` (and ``read_csv``, which makes its rows a price frame).

Any file with a date (or unix time) column and a close or price column is read, whatever its
delimiter (comma, semicolon, tab, pipe), encoding (UTF-8 with or without BOM, UTF-16, else
cp1252 or latin-1), compression (gzip) or order: a Yahoo export, Kaggle's, Nasdaq's, Bitstamp's
minutes (combined into days), Date+Close only, a long file with a symbol column. Every file is
bounded before it is parsed (rawbytes.py: bytes; rows.py: rows), and errors are one sentence
that quotes at most ``errors.EXCERPT_CHARS`` characters of the file.
"""

from __future__ import annotations

import pandas as pd

from ...errors import DataError
from ..calendar import MAX_HORIZON
from ..frame import finish
from ..tickers import check_ticker, is_ticker
from . import cells, days, layout, rawbytes, rows
from .dates import FIRST_DATE, MAX_DATE_CHARS, MAX_MIXED_DATES, is_unix
from .dates import peek as peek_dates
from .layout import BITSTAMP, KAGGLE, LAYOUTS, NASDAQ, OTHER, YAHOO, YAHOO_PLAIN, layout_of
from .naming import ticker_from_name
from .rawbytes import (MAX_CSV_BYTES, MAX_HEADER_BYTES, MAX_UPLOAD_BYTES, CsvSource, file_name,
                       read_bytes, read_text)
from .rows import MAX_CSV_ROWS

__all__ = ["BITSTAMP", "FIRST_DATE", "KAGGLE", "LAYOUTS", "MAX_CSV_BYTES", "MAX_CSV_ROWS",
           "MAX_DAILY_ROWS", "MAX_DATE_CHARS", "MAX_HEADER_BYTES", "MAX_MIXED_DATES",
           "MAX_UPLOAD_BYTES", "NASDAQ", "OTHER", "YAHOO", "YAHOO_PLAIN", "CsvSource",
           "file_name", "layout_of", "parse", "read_bytes", "read_csv", "read_text"]

# Days of an uploaded CSV file kept, the most recent: a forecast's cost grows with the days it
# scores. 5,000 trading days are 20 years; read_csv says in attrs["notices"] when it cut a file.
# The web's bound only: the command line reads a local file whole (read_csv(whole=True)).
MAX_DAILY_ROWS = 5_000
# A cut file keeps its newest days unless an as_of asked for lies before them or within this
# many days of their start: a forecast reads about 1,300 days before its as_of (its input
# window, tables.LOOKBACK = 280 earlier origins whose errors calibrate its band, and the
# bands.LONG_RUN_RETURNS = 1,000 returns of their long-run variance), so with 1,500 it is the
# forecast the whole file gives. Otherwise the MAX_DAILY_ROWS days that end at the as_of are
# kept, and the MAX_HORIZON after it, whose closes are its outcomes: at most 5,030 days.
AS_OF_HISTORY = 1_500


def parse(source: CsvSource, max_days: int | None = None,
          symbol: str | None = None, as_of=None) -> tuple[pd.DataFrame, str]:
    """Daily open/high/low/close/volume rows of a CSV, and the name of its layout.

    Only the most recent MAX_CSV_ROWS rows of the file are parsed, and only the most recent
    ``max_days`` days kept (all when None): a file with a row a day has at most ``max_days`` of
    its rows parsed. With ``as_of`` (a date; one that is not is ignored), the days kept are
    those around it when the newest lack it (``cut``), and all MAX_CSV_ROWS may be parsed to
    find them. ``symbol`` (upper case) picks the rows of a file with a symbol column.
    Each cut or fix adds a sentence to ``frame.attrs["notices"]``; ``frame.attrs["symbol"]``
    is the symbol the rows hold ("" when the file has no symbol column).
    """
    wanted = _day(as_of) if max_days is not None else None
    data = rawbytes.as_utf8(rawbytes.read_bytes(source))
    start, end = rawbytes.content(data)
    encoding = rawbytes.encoding_of(data)
    newline = b"\n" if data.find(b"\n", start, end) >= 0 else b"\r"
    header_end, columns, delimiter = layout.header(data, start, end, encoding, newline)
    plan = layout.Plan.of(columns, delimiter, encoding, newline)
    body_start = header_end + 1
    if body_start >= end:
        raise DataError("the CSV file has a header but no rows of prices")
    count = data.count(newline, body_start, end) + 1
    sample = rows.peek(data, body_start, end, plan, count, max_days)
    row_days = max_days
    # The days around an as_of before the file's newest day may lie anywhere in it: its rows
    # are read up to the bound every file has (MAX_CSV_ROWS; a web upload is at most
    # MAX_UPLOAD_BYTES, 0.15 s), then cut by date. A later as_of reads the newest, as without.
    if wanted is not None and not wanted >= peek_dates(rows.dates_of(
            sample[0] + sample[1], plan)).max():
        row_days = None
        sample = rows.peek(data, body_start, end, plan, count, row_days)
    plan = plan.learned(unix=is_unix(rows.dates_of(sample[0], plan)),
                        **cells.number_style(plan, sample[0] + sample[1]))
    first, last, offset, kept = rows.to_read(data, body_start, end, count, plan, sample,
                                             row_days, symbol)
    body = b"".join((plan.prefix(), memoryview(data)[first:last]))
    del data
    for sign in plan.signs:  # "$1,234.56": the sign goes here, the comma in pandas
        body = body.replace(sign, b"")
    raw, numbers = cells.read_rows(body, plan, offset)
    del body
    chosen = ""
    if "symbol" in raw:
        keep, chosen = rows.symbol_rows(raw.pop("symbol"), symbol, plan.names["symbol"])
        if keep is not None:
            raw = {role: values[keep] for role, values in raw.items()}
            numbers = numbers[keep]
    frame, notices = days.daily(raw, numbers, plan.names)
    if kept is not None:
        notices.insert(0, f"The file holds {count:,} rows of prices; the most recent {kept:,} "
                          f"were kept.")
    if max_days is not None and len(frame) > max_days:
        frame, sentence = cut(frame, max_days, wanted)
        notices.append(sentence)
    frame.attrs = {"notices": notices, "symbol": chosen}
    return frame, layout_of(columns)


def _day(as_of) -> pd.Timestamp | None:
    # A date the forecast would read; anything else is left for the forecast to refuse.
    if as_of is None or isinstance(as_of, str) and not as_of.strip():
        return None
    try:
        day = pd.Timestamp(as_of)
    except (TypeError, ValueError, OverflowError):
        return None
    if day is pd.NaT:
        return None
    return (day.tz_localize(None) if day.tzinfo is not None else day).normalize()


def cut(frame: pd.DataFrame, max_days: int, as_of: pd.Timestamp | None = None
        ) -> tuple[pd.DataFrame, str]:
    """The days kept of a daily ``frame`` longer than ``max_days``, and the sentence saying so.

    The newest ``max_days``, unless ``as_of`` lies before them or within AS_OF_HISTORY days of
    their start: then the ``max_days`` that end on its last day on or before ``as_of`` (the
    first ``max_days`` for an earlier one) and the MAX_HORIZON days after it.
    """
    days = len(frame)
    at = -1 if as_of is None else int(frame.index.searchsorted(as_of, side="right")) - 1
    if as_of is None or at >= days - max_days + AS_OF_HISTORY:
        newest = f"The file's rows cover {days:,} days; the most recent {max_days:,} were kept."
        return frame.iloc[-max_days:], newest
    end = min(days, max(at + 1, max_days) + MAX_HORIZON)
    kept = frame.iloc[max(0, end - max_days - MAX_HORIZON):end]
    first, last = (f"{day:%Y-%m-%d}" for day in kept.index[[0, -1]])
    return kept, (f"The file covers {days:,} days; the {len(kept):,} around the as-of date "
                  f"{as_of:%Y-%m-%d} ({first} to {last}) were kept.")


def read_csv(source: CsvSource, ticker: str | None = None,
             whole: bool = False, as_of=None) -> pd.DataFrame:
    """Prices from a CSV path or file object with a date column and a close or price column.

    Any delimiter, encoding and row order; a long file with a symbol column gives the rows of
    ``ticker``, or of its only symbol. Bounded: at most MAX_CSV_BYTES of text and MAX_CSV_ROWS
    rows are read, and the most recent MAX_DAILY_ROWS days kept, the web's cost bound (with
    ``whole``, as the command line reads a local file, every day; with ``as_of``, the days
    around it when the newest lack it: see ``cut``). ``attrs["notices"]`` lists,
    one sentence each, what was cut or fixed (empty when nothing was); ``attrs["file_name"]``
    is the file's base name (None without one). The ticker is ``ticker``, else the file's
    symbol, else one taken from the file name.
    """
    chosen = check_ticker(ticker) if ticker is not None and str(ticker).strip() else None
    frame, shape = parse(source, max_days=None if whole else MAX_DAILY_ROWS, symbol=chosen,
                         as_of=as_of)
    notices = list(frame.attrs.get("notices", []))
    symbol = str(frame.attrs.get("symbol") or "")
    if chosen is None and is_ticker(symbol):
        chosen = symbol.upper()
    if chosen is None:
        chosen = ticker_from_name(source, shape)
    calendar = "crypto" if shape == BITSTAMP else None
    frame = finish(frame, chosen, "csv", calendar)
    frame.attrs["notices"] = notices  # finish sets attrs afresh
    frame.attrs["file_name"] = file_name(source)
    return frame

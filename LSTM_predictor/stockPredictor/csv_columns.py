"""What a price CSV's columns mean, and its rows made into one daily frame.

``csv_formats`` reads the bytes; this module says which column holds the date, the price and the
symbol (``roles``, and the ``Plan`` that pandas reads them by), reads numbers as people write them
("$1,234.56", "123,45"), and turns the rows into daily
open/high/low/close/volume: one symbol's rows, sorted, rows without a price dropped, intraday rows
combined into days. Each fix adds a sentence to the notices; what cannot be fixed (weekly data,
two different prices for one day) is one DataError sentence naming the row or column.
Everything here is vectorised: per-cell Python runs only to word an error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from .errors import EXCERPT_CHARS, DataError, excerpt

MAX_DATE_CHARS = 48  # "Wednesday, September 30, 2013 10:00:00 AM" is 41
MAX_MIXED_DATES = 1_000  # rows whose dates may each have a format of their own (<0.2 s)
MAX_DAILY_GAP = 4  # median days between rows of daily prices: a long weekend fits
MAX_SYMBOLS_LISTED = 10
FIRST_DATE = pd.Timestamp("1900-01-01")

# Header names as _role_key writes them, best first. The close prefers the adjusted price.
ROLES: dict[str, tuple[str, ...]] = {
    "date": ("date", "datetime", "timestamp", "time", "day", "dates", "tradedate", "tradingdate",
             "observationdate", "gmttime", "localtime", "opentime", "timeopen", "unixtimestamp",
             "unixtime", "unix"),
    "adj": ("adjclose", "adjustedclose", "adjcloseprice", "adjustedcloseprice", "closeadj"),
    "close": ("close", "closelast", "closeprice", "closingprice", "price", "last", "lastprice"),
    "open": ("open", "openprice", "openingprice"),
    "high": ("high", "highprice"),
    "low": ("low", "lowprice"),
    "volume": ("volume", "vol", "totalvolume"),
    "symbol": ("symbol", "ticker", "name", "code", "tickersymbol", "sym"),
}
NUMERIC_ROLES = ("adj", "close", "open", "high", "low", "volume")
# Yahoo's export writes "null" on days it has no prices; spreadsheets write the others.
MISSING = frozenset({"", "null", "nan", "na", "n/a", "none", "-"})
# The same markers in every casing, as pandas matches them (exactly, after leading spaces).
_NA_VALUES = sorted({"".join(form) for word in MISSING
                     for form in itertools.product(*({c.lower(), c.upper()} for c in word))})

_BRACKETED = re.compile(r"\(.*?\)|\[.*?\]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_UNIX = r"[-+]?\d{9,14}(?:\.\d*)?"  # unix seconds (or milliseconds) since 1973
# Currency signs, spaces (thin and non-breaking too) and Swiss apostrophes inside a number.
_SIGNS = "$€£¥"
_DECORATION = r"[\s$€£¥'\u00a0\u202f]"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_THOUSANDS = r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"  # 1,234.56
_DECIMAL_COMMA = r"[-+]?(?:\d{1,3}(?:\.\d{3})+|\d*),\d+"  # 1.234,56 or 123,45
_SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9}  # volumes as Investing.com writes them: 1.23M
_DAY_NS = 86_400 * 10**9

# guess_datetime_format notes when it reads 13/01/2013 day first; so does the format it returns.
warnings.filterwarnings("ignore", message="Parsing dates in", category=UserWarning,
                        module=re.escape(__name__))


def _role_key(name: object) -> str:
    # "Adj Close**" -> adjclose, "Close/Last" -> closelast, "Time (UTC)" -> time.
    text = _BRACKETED.sub("", str(name).replace("\ufeff", "").lower())
    return _NOT_ALNUM.sub("", text)


def roles(columns: list[str]) -> dict[str, int]:
    """The position of the column playing each role (date, close, ...); a DataError without
    a date column or a price column. A separate Time column beside Date becomes role "time"."""
    keys = [_role_key(c) for c in columns]
    found: dict[str, int] = {}
    for role, names in ROLES.items():
        for name in names:
            if name in keys and keys.index(name) not in found.values():
                found[role] = keys.index(name)
                break
    if "date" in found and keys[found["date"]] == "date" and "time" in keys:
        found["time"] = keys.index("time")  # Date,Time,Open,...: MetaTrader and Kibot exports
    if "close" not in found and "adj" in found:
        found["close"], found["price"] = found["adj"], found.pop("adj")
    else:
        found["price"] = found.get("adj", found.get("close", -1))
    if "date" in found and found["price"] >= 0:
        return found
    listed = _column_list(columns)
    if "date" in found:
        raise DataError(f"the CSV columns {listed} have no price column; expected one named "
                        f"Close, Adj Close, Close/Last or Price")
    if found["price"] >= 0:
        raise DataError(f"the CSV columns {listed} have no date column; expected one named "
                        f"Date, Datetime, Time or Timestamp")
    raise DataError(f"the CSV columns {listed} are not price columns; expected a Date (or "
                    f"Timestamp) column and a Close (or Price) column")


def _column_list(columns: list[str], limit: int = 60) -> str:
    # "'Day', 'Last'", cut to `limit` characters however many columns there are.
    text = ""
    for column in columns:
        text += (", " if text else "") + repr(str(column).strip()[:limit])
        if len(text) > limit:
            return text[:limit - 1] + "…"
    return text or "(none)"


def header_name(columns: list[str], position: int) -> str:
    """A column's name as the file writes it, cut short for a message."""
    return str(columns[position]).replace("\ufeff", "").strip()[:30] or f"column {position + 1}"


class Plan:
    """How one file is read: its delimiter, encoding, columns and which column plays each role."""

    def __init__(self, columns: list[str], delimiter: str, encoding: str, newline: bytes):
        self.columns, self.delimiter, self.encoding = columns, delimiter, encoding
        self.newline = newline
        self.where = roles(columns)
        self.where.pop("price")
        self.names = {role: header_name(columns, at) for role, at in self.where.items()}
        self.numeric = [role for role in NUMERIC_ROLES if role in self.where]
        self.unix = False  # the date column holds unix times: read as float64
        # How prices are written, from a sample: currency signs to drop, thousands separator.
        self.signs: list[bytes] = []
        self.thousands: str | None = None
        self.decimal = "."

    def read_numbers_like(self, rows: list[list[str]]) -> None:
        """Learn from a few rows' price cells the currency signs, thousands separator and
        decimal mark the file writes its prices with ("$1,234.56", "1.234,56")."""
        signs, commas, grouped = set(), [], False
        for row in rows:
            for role in self.numeric:
                cell = row[self.where[role]] if self.where[role] < len(row) else ""
                bare = re.sub(_DECORATION, "", cell)
                if bare != cell.strip() and re.fullmatch(_NUMBER, bare.replace(",", "")):
                    signs |= set(cell) & set(_SIGNS)
                commas += [bare] if "," in bare else []
                grouped |= bool(re.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3})+,\d*", bare))
        self.signs = [s.encode(self.encoding) for s in sorted(signs)
                      if s.encode(self.encoding, "ignore")]
        if commas and self.delimiter != "," and all(
                re.fullmatch(_DECIMAL_COMMA, c) for c in commas):
            self.decimal, self.thousands = ",", "." if grouped else None
        elif commas and all(re.fullmatch(_THOUSANDS, c) for c in commas):
            self.thousands = ","

    def prefix(self) -> bytes:
        # A first line with a field for every column and two more: pandas checks `usecols`
        # against the first line, and the two extra columns catch rows with too many fields.
        return (self.delimiter.join("0" * (len(self.columns) + 2))).encode() + self.newline

    def options(self, text: bool = False) -> dict:
        """pd.read_csv options for the columns used and the two extra ones; prices as float64,
        or as text to be cleaned when ``text``."""
        count = len(self.columns)
        dtype, na_values = {}, {}
        for role, at in self.where.items():
            if role in NUMERIC_ROLES or (role == "date" and self.unix):
                dtype[f"c{at}"] = "str" if text else "float64"
                na_values[f"c{at}"] = _NA_VALUES
            else:
                dtype[f"c{at}"] = "category" if role == "symbol" else "str"
        usecols = [*sorted(set(self.where.values())), count, count + 1]
        for extra in usecols[-2:]:  # almost always empty: objects cost least
            dtype[f"c{extra}"], na_values[f"c{extra}"] = "object", [""]
        numbers = {} if text else {"thousands": self.thousands, "decimal": self.decimal}
        return dict(header=None, names=[f"c{i}" for i in range(count + 2)], usecols=usecols,
                    index_col=False, sep=self.delimiter, encoding=self.encoding,
                    skip_blank_lines=True, skipinitialspace=True, keep_default_na=False,
                    na_values=na_values, dtype=dtype, **numbers)

    def cells(self, frame: pd.DataFrame, role: str) -> pd.Series:
        return frame[f"c{self.where[role]}"]


# --- numbers ----------------------------------------------------------------------------------

def numbers(cells: pd.Series, name: str, rows: np.ndarray, delimiter: str,
            decimal_comma: dict[str, bool], volume: bool = False) -> np.ndarray:
    """float64 of text cells written as people write prices: "$1,234.56", " 12 ", "123,45".

    A comma is a thousands separator (1,234.56) unless the file is not comma-separated and
    the column's first commas read as decimal commas (1.234,56); that choice is remembered in
    ``decimal_comma`` for the column's later chunks. Missing markers are NaN; any other cell that
    is not a number is a DataError naming it and its row (``rows``: file rows of ``cells``).
    """
    text = cells.astype("str").str.strip()
    missing = (cells.isna() | text.str.lower().isin(MISSING)).to_numpy()
    text = text.str.replace(_DECORATION, "", regex=True)
    commas = text.str.contains(",", regex=False).fillna(False).to_numpy(bool)
    if commas.any():
        if name not in decimal_comma:
            decimal_comma[name] = (delimiter != "," and bool(
                text[commas].str.fullmatch(_DECIMAL_COMMA).all()))
        if decimal_comma[name]:
            fixed = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            good = text.str.fullmatch(_DECIMAL_COMMA).fillna(False).to_numpy(bool)
        else:
            fixed = text.str.replace(",", "", regex=False)
            good = text.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(bool)
        # A comma in any other place is left in, so the cell fails below.
        text = text.where(~(commas & good), fixed)
    values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy("float64", copy=True)
    bad = np.isnan(values) & ~missing
    if volume and bad.any():
        parts = text[bad].str.extract(r"^([-+]?\d*\.?\d+)([KMBkmb])$")
        scale = parts[1].str.upper().map(_SUFFIXES).to_numpy("float64")
        values[bad] = pd.to_numeric(parts[0], errors="coerce").to_numpy("float64") * scale
        bad = np.isnan(values) & ~missing
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"column {name!r} holds {excerpt(cells.iloc[row])} in data row "
                        f"{rows[row]:,}, which is not a number")
    return values


# --- dates --------------------------------------------------------------------------------------

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
        guessed = guess_datetime_format(first) if 0 < len(first) <= EXCERPT_CHARS else None
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


# --- symbols --------------------------------------------------------------------------------

def symbol_rows(symbols: pd.Series, wanted: str | None,
                column: str = "Symbol") -> tuple[np.ndarray | None, str]:
    """Which rows a long file keeps (None: all), and the symbol they hold.

    ``wanted`` (upper case) picks the symbol; without it the file must hold one symbol only.
    BTC/USD is read as BTC-USD. A file of one symbol in a Name ``column``, or of one that is
    not ticker-like ("Apple Inc."), is taken whole whatever ``wanted`` is: it names the company
    ("Bitcoin" for BTC-USD), not necessarily its ticker.
    """
    from .prices import TICKER_PATTERN  # prices imports this module's caller

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
        if len(listed) == 1 and (_role_key(column) == "name"
                                 or not TICKER_PATTERN.match(listed[0])):
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


# --- rows -> days ---------------------------------------------------------------------------

def daily(raw: dict, rows: np.ndarray, names: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Daily prices from a file's rows, and a sentence for each fix made to them.

    ``raw`` maps a role to its cells: float64 arrays for prices and volume, text (or unix
    seconds) for the date, and an optional "time". ``rows`` are the rows' numbers in the file,
    ``names`` the columns' names as the file writes them. Rows without a price are dropped,
    missing open/high/low become the close, Adj Close / Close adjusts OHLC, rows are sorted,
    repeated rows dropped, intraday rows combined into days; weekly or monthly prices, two prices
    for one day, and prices that are not positive are DataErrors.
    """
    notices: list[str] = []
    price_role = "adj" if "adj" in raw else "close"
    price = raw[price_role]
    missing = np.isnan(price)
    if missing.all():
        raise DataError(f"no row of the file has a price in column {names[price_role]!r}")
    if missing.any():
        keep = ~missing
        raw = {role: values[keep] for role, values in raw.items()}
        rows, price = rows[keep], price[keep]
        count = int(missing.sum())
        notices.append(f"{_rows(count)} without a price in column {names[price_role]!r} "
                       f"{'were' if count > 1 else 'was'} left out.")
    dates = raw["date"]
    if "time" in raw:
        dates = dates.fillna("").str.strip() + " " + raw["time"].fillna("").str.strip()
    when = stamps(dates, names["date"], rows)
    _check_positive(raw, names, when, rows)
    columns, filled = _ohlc(raw, price)
    if filled:
        notices.append(f"{_rows(filled)} had no open, high or low price; the close stands in "
                       f"for {'them' if filled > 1 else 'it'}.")
    when, columns, rows = _sorted(when, columns, rows, notices)
    when, columns = _unique(when, columns, rows, notices)
    days, columns = _days(when, columns, notices)
    gap = float(np.median(np.diff(days.asi8))) / _DAY_NS if len(days) > 1 else 0.0
    if gap > MAX_DAILY_GAP:
        raise DataError(_not_daily(gap))
    return pd.DataFrame(columns, index=pd.DatetimeIndex(days, name="date")), notices


def _rows(count: int) -> str:
    return f"{count:,} row{'s' if count > 1 else ''}"


def _check_positive(raw: dict, names: dict[str, str], when: pd.DatetimeIndex,
                    rows: np.ndarray) -> None:
    # Checked here, not in validate, to name the file's own column and row.
    for role in ("open", "high", "low", "close", "adj"):
        if role not in raw:
            continue
        values = raw[role]
        bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{names[role]} is {values[row]} on {when[row].date()} (data row "
                            f"{rows[row]:,}); prices must be positive numbers")


def _ohlc(raw: dict, price: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    # Yahoo's Close is split-adjusted only; Adj Close also takes out dividends.
    ratio = raw["adj"] / raw["close"] if "adj" in raw and "close" in raw else 1.0
    columns, gaps = {}, np.zeros(len(price), bool)
    for role in ("open", "high", "low"):
        values = raw[role] * ratio if role in raw else price
        missing = np.isnan(values)
        gaps |= missing
        columns[role] = np.where(missing, price, values)
    columns["close"] = price
    volume = raw.get("volume")
    columns["volume"] = np.zeros(len(price)) if volume is None else np.nan_to_num(volume, nan=0.0)
    return columns, int(gaps.sum())


def _sorted(when: pd.DatetimeIndex, columns: dict, rows: np.ndarray, notices: list[str]):
    steps = np.diff(when.asi8)
    if not (steps < 0).any():
        return when, columns, rows
    order = np.argsort(when.asi8, kind="stable")
    if (steps <= 0).all():
        notices.append("The file lists the newest prices first; its rows were sorted oldest "
                       "first.")
    else:
        notices.append("The file's rows were not in date order; they were sorted oldest first.")
    return when[order], {k: v[order] for k, v in columns.items()}, rows[order]


def _unique(when: pd.DatetimeIndex, columns: dict, rows: np.ndarray, notices: list[str]):
    # Repeated rows (two exports pasted together) are dropped; two prices for one time refused.
    repeat = np.diff(when.asi8) == 0
    if not repeat.any():
        return when, columns
    values = np.column_stack(list(columns.values()))
    clash = repeat & ~(values[1:] == values[:-1]).all(axis=1)
    if clash.any():
        row = int(np.argmax(clash))
        stamp = when[row]
        what, label = ("date", stamp.date()) if stamp == stamp.normalize() else ("time", stamp)
        raise DataError(f"{what} {label} appears more than once with different prices (data rows "
                        f"{rows[row]:,} and {rows[row + 1]:,}); each {what} needs one row")
    keep = np.concatenate(([True], ~repeat))
    notices.append(f"{_rows(int(repeat.sum()))} repeating an earlier row "
                   f"{'were' if repeat.sum() > 1 else 'was'} left out.")
    return when[keep], {k: v[keep] for k, v in columns.items()}


def _days(when: pd.DatetimeIndex, columns: dict, notices: list[str]):
    # Several rows a day (Bitstamp's minutes, hourly bars) become one: first open, highest high,
    # lowest low, last close, summed volume.
    days = when.normalize()
    same_day = np.diff(days.asi8) == 0
    if not same_day.any():
        return days, columns
    starts = np.flatnonzero(np.concatenate(([True], ~same_day)))
    ends = np.concatenate((starts[1:], [len(days)])) - 1
    steps = np.diff(when.asi8)[same_day]
    notices.append(f"The file's {_interval(float(np.median(steps)) / 1e9)} rows were combined "
                   f"into daily prices.")
    return days[starts], {
        "open": columns["open"][starts], "high": np.maximum.reduceat(columns["high"], starts),
        "low": np.minimum.reduceat(columns["low"], starts), "close": columns["close"][ends],
        "volume": np.add.reduceat(columns["volume"], starts)}


def _interval(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        count = seconds / size
        if count >= 1 and abs(count - round(count)) < 0.01:
            return "hourly" if (unit, round(count)) == ("hour", 1) else f"{round(count)}-{unit}"
    return "intraday"


def _not_daily(gap: float) -> str:
    kinds = (("weekly", 5, 10), ("monthly", 25, 35), ("quarterly", 80, 100),
             ("yearly", 350, 380))
    kind = next((name for name, low, high in kinds if low <= gap <= high), None)
    if kind:
        return (f"these prices are {kind} (a median of {round(gap)} days between rows); the "
                f"models forecast daily prices")
    return f"these prices are a median of {gap:g} days apart; the models forecast daily prices"

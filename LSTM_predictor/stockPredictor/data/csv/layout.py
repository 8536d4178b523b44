"""The second stage: a price CSV's header, its delimiter, and which column plays which role.

``header`` finds the header line (past Excel's "sep=;" line or a title line), ``Plan.of`` says
which column holds the date, the price and the symbol, and ``Plan.options`` how pandas reads
them. A file with no date or no price column is one DataError naming its columns.
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass, field, replace

from ...errors import DataError, excerpt
from .rawbytes import MAX_HEADER_BYTES

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
DELIMITERS = (",", ";", "\t", "|")

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
NA_VALUES = sorted({"".join(form) for word in MISSING
                    for form in itertools.product(*({c.lower(), c.upper()} for c in word))})

_BRACKETED = re.compile(r"\(.*?\)|\[.*?\]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def _key(name: object) -> str:
    # Layout matching ignores case, spaces and underscores: "Adj Close", "adj_close", " ADJCLOSE".
    return "".join(str(name).replace("\ufeff", "").lower().replace("_", "").split())


def layout_of(columns: list[str]) -> str:
    """The name of the known layout whose columns are exactly ``columns``, else OTHER."""
    found = sorted(_key(c) for c in columns)
    for name, expected in LAYOUTS.items():
        if found == sorted(_key(c) for c in expected):
            return name
    return OTHER


def header(data: bytes | bytearray, start: int, end: int, encoding: str,
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
        text = bytes(data[start:line_end]).decode(encoding).strip("\r\n\ufeff")
        if "\x00" in text:
            raise DataError("the file holds binary data, not CSV text")
        lowered = text.strip().lower()
        if len(lowered) == 5 and lowered.startswith("sep="):
            forced, start = text.strip()[4], line_end + 1
            continue
        plain = not any(d in text for d in DELIMITERS)
        stop = min(end, line_end + 1 + MAX_HEADER_BYTES)
        after = data.find(newline, line_end + 1, stop)
        following = bytes(data[line_end + 1:stop if after < 0 else after])
        if forced is None and plain and any(d.encode() in following for d in DELIMITERS):
            start = line_end + 1
            continue
        break
    delimiter = forced or _delimiter(text)
    try:
        columns = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        raise DataError(f"the first line of the file, {excerpt(text)}, is not a CSV header "
                        f"of price columns") from None
    return line_end, columns, delimiter


def _delimiter(text: str) -> str:
    # The delimiter that splits the header into the most fields; a comma when none splits it.
    counts = {}
    for delimiter in DELIMITERS:
        try:
            counts[delimiter] = len(next(csv.reader([text], delimiter=delimiter), []))
        except csv.Error:
            counts[delimiter] = 0
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def _role_key(name: object) -> str:
    # "Adj Close**" -> adjclose, "Close/Last" -> closelast, "Time (UTC)" -> time.
    text = _BRACKETED.sub("", str(name).replace("\ufeff", "").lower())
    return _NOT_ALNUM.sub("", text)


def is_name_column(name: str) -> bool:
    """True for a symbol column headed Name, which names a company rather than its ticker."""
    return _role_key(name) == "name"


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


@dataclass(frozen=True)
class Plan:
    """How one file is read: its delimiter, encoding, columns, which column plays each role,
    and how it writes dates and numbers (learned from a few rows: ``learned``)."""

    columns: tuple[str, ...]
    delimiter: str
    encoding: str
    newline: bytes
    where: dict = field(default_factory=dict)  # role -> column position
    names: dict = field(default_factory=dict)  # role -> the column's name in the file
    numeric: tuple[str, ...] = ()
    unix: bool = False  # the date column holds unix times: read as float64
    signs: tuple[bytes, ...] = ()  # currency signs to drop before pandas reads a number
    thousands: str | None = None
    decimal: str = "."

    @classmethod
    def of(cls, columns: list[str], delimiter: str, encoding: str, newline: bytes) -> "Plan":
        """The plan of a file with this header, before any row is read."""
        where = roles(columns)
        where.pop("price")
        return cls(tuple(columns), delimiter, encoding, newline, where,
                   {role: header_name(columns, at) for role, at in where.items()},
                   tuple(role for role in NUMERIC_ROLES if role in where))

    def learned(self, **how) -> "Plan":
        """This plan with what a sample of rows showed: ``unix``, ``signs``, ``thousands``,
        ``decimal``."""
        return replace(self, **how)

    def prefix(self) -> bytes:
        """A first line with a field for every column and two more.

        pandas checks ``usecols`` against the first line, and the two extra columns catch rows
        with too many fields.
        """
        return (self.delimiter.join("0" * (len(self.columns) + 2))).encode() + self.newline

    def options(self, text: bool = False) -> dict:
        """pd.read_csv options for the columns used and the two extra ones; prices as float64,
        or as text to be cleaned when ``text``."""
        count = len(self.columns)
        dtype, na_values = {}, {}
        for role, at in self.where.items():
            if role in NUMERIC_ROLES or (role == "date" and self.unix):
                dtype[f"c{at}"] = "str" if text else "float64"
                na_values[f"c{at}"] = NA_VALUES
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

    def cells(self, frame, role: str):
        """The column of ``frame`` (read with ``options``) that plays ``role``."""
        return frame[f"c{self.where[role]}"]

"""The cells stage: the rows to keep parsed by pandas in C, and prices read as people write them.

Prices are parsed into float64 with the file's missing markers as NaN; when a cell is not a plain
number ("$1,234.56", "123,45", or a typo), the rows are read again as text a chunk at a time and
cleaned, or the bad cell is named with its row. A row with more fields than the header, or a
True/False in a price column, is refused.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from ...errors import DataError, excerpt
from .layout import MISSING, Plan

# Currency signs, spaces (thin and non-breaking too) and Swiss apostrophes inside a number.
_SIGNS = "$€£¥"
_DECORATION = r"[\s$€£¥'\u00a0\u202f]"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_THOUSANDS = r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"  # 1,234.56
_DECIMAL_COMMA = r"[-+]?(?:\d{1,3}(?:\.\d{3})+|\d*),\d+"  # 1.234,56 or 123,45
_SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9}  # volumes as Investing.com writes them: 1.23M
_CHUNK_ROWS = 1 << 15  # rows read as text at a time when numbers need cleaning ("$1,234.56")
_LOCATE_BYTES = 1 << 14  # rows read as text to name a cell that is not a number
_BOOLEAN_LINES = 100  # lines with "true" or "false" looked at for one in a number column
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def number_style(plan: Plan, rows: list[list[str]]) -> dict:
    """How a few rows write their prices: the currency ``signs`` to drop, the ``thousands``
    separator and the ``decimal`` mark ("$1,234.56", "1.234,56"), for ``Plan.learned``."""
    signs, commas, grouped = set(), [], False
    for row in rows:
        for role in plan.numeric:
            cell = row[plan.where[role]] if plan.where[role] < len(row) else ""
            bare = re.sub(_DECORATION, "", cell)
            if bare != cell.strip() and re.fullmatch(_NUMBER, bare.replace(",", "")):
                signs |= set(cell) & set(_SIGNS)
            commas += [bare] if "," in bare else []
            grouped |= bool(re.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3})+,\d*", bare))
    style = {"signs": tuple(s.encode(plan.encoding) for s in sorted(signs)
                            if s.encode(plan.encoding, "ignore")),
             "thousands": None, "decimal": "."}
    if commas and plan.delimiter != "," and all(
            re.fullmatch(_DECIMAL_COMMA, c) for c in commas):
        style.update(decimal=",", thousands="." if grouped else None)
    elif commas and all(re.fullmatch(_THOUSANDS, c) for c in commas):
        style["thousands"] = ","
    return style


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


def read_rows(body: bytes, plan: Plan, offset: int) -> tuple[dict, np.ndarray]:
    """The cells of each role, and the rows' numbers in the file.

    Prices are parsed by pandas in C into float64, with the file's missing markers as NaN; when a
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
            numbers(pd.Series([cell], dtype="str"), plan.names[role], np.array([row]),
                    plan.delimiter, {}, volume=role == "volume")
        return _read_text(body, plan, offset)
    rows = offset + frame.index.to_numpy()
    _refuse_extra_fields(frame, plan, rows)
    _refuse_booleans(frame, body, plan, offset)
    raw = {role: plan.cells(frame, role) for role in plan.where}
    for role in [*plan.numeric, *(["date"] if plan.unix else [])]:
        raw[role] = raw[role].to_numpy("float64")
    return raw, rows


def _read_text(body: bytes, plan: Plan, offset: int) -> tuple[dict, np.ndarray]:
    parts: dict[str, list] = {role: [] for role in plan.where}
    row_numbers, decimal_comma = [], {}
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
                        cells = numbers(cells, plan.names[role], rows, plan.delimiter,
                                        decimal_comma, volume=role == "volume")
                    parts[role].append(cells)
                row_numbers.append(rows)
    except pd.errors.ParserError as exc:
        raise _unreadable(exc, offset) from None
    raw = {role: (np.concatenate(values) if role in plan.numeric else pd.concat(values))
           for role, values in parts.items()}
    return raw, np.concatenate(row_numbers)


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
        parsed = pd.to_numeric(cells.str.strip(), errors="coerce")
        bad = (parsed.isna() & cells.notna()).to_numpy()
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

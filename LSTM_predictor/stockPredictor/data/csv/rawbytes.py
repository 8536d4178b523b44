"""The first stage of reading a price CSV: its bytes, bounded, gunzipped and turned into UTF-8.

Every file is bounded before it is parsed: at most MAX_CSV_BYTES of (decompressed) text is ever
held, and a gzip bomb costs that much, never what it would expand to. UTF-16 (Excel's "Unicode
text") becomes UTF-8; other text is read as UTF-8 with or without BOM, else cp1252 or latin-1.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
import zlib
from typing import IO

from ...errors import DataError, excerpt

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
# What a person may send over the web (gzip allowed): a decade of daily prices is ~300 kB. The
# web app refuses a larger body before reading it, and the store keeps no larger upload.
MAX_UPLOAD_BYTES = 5_000_000
MAX_HEADER_BYTES = 1_000  # the longest layout's header, Bitstamp's, is 75 characters
_CHUNK = 1 << 16  # bytes decompressed at a time
_GZIP_MAGIC = b"\x1f\x8b"
BOM = codecs.BOM_UTF8
_BINARY = {b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
           b"\xd0\xcf\x11\xe0": "an Excel .xls workbook"}
_BLANK = re.compile(rb"\s*")

CsvSource = str | os.PathLike | IO[str] | IO[bytes]


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


def as_utf8(data: bytes | bytearray) -> bytes | bytearray:
    """``data`` as UTF-8 when it is UTF-16 text, else ``data`` itself."""
    # Transcoded a megabyte at a time: the text is at most 1.5 times the (bounded) file.
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


def encoding_of(data: bytes | bytearray) -> str:
    """The encoding ``data`` reads in: utf-8, else cp1252, else latin-1."""
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
    data = as_utf8(read_bytes(source, limit))
    start = len(BOM) if data[:len(BOM)] == BOM else 0
    return bytes(data[start:]).decode(encoding_of(data))


def content(data: bytes | bytearray) -> tuple[int, int]:
    """Where the text of ``data`` starts and ends: past a BOM and blank lines, before trailing
    blanks. A DataError for a binary workbook or an empty file."""
    for magic, what in _BINARY.items():
        if data[:len(magic)] == magic:
            raise DataError(f"the file is {what}, not CSV text; save it as CSV and upload that")
    start = len(BOM) if data[:len(BOM)] == BOM else 0
    start = _BLANK.match(data, start).end()  # blank lines before the header
    end = _content_end(data, start)
    if start >= end:
        raise DataError("the CSV file is empty")
    return start, end

"""Every CSV is bounded before it is parsed, and every error about it is one short sentence."""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import zlib

import numpy as np
import pandas as pd
import pytest

from stockPredictor.data import csv as price_csv
from stockPredictor.data.csv import read_csv
from stockPredictor.data.frame import COLUMNS
from stockPredictor.errors import DataError

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
BITSTAMP_HEADER = "Timestamp,Open,High,Low,Close,Volume_(BTC),Volume_(Currency),Weighted_Price"
LONGEST_MESSAGE = 200


def gzip_stream(chunk: bytes, times: int) -> bytes:
    """gzip of ``chunk * times``, built a chunk at a time so the test never holds the expansion."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [packer.compress(chunk) for _ in range(times)]
    return b"".join([*parts, packer.flush()])


@pytest.fixture(scope="module")
def bomb():
    """About 1 MB of gzip that expands to 200 MB of zeros."""
    return gzip_stream(b"0" * (1 << 20), 200)


def yahoo_csv(days: pd.DatetimeIndex) -> bytes:
    n = len(days)
    close = 100.0 + np.arange(n) % 50
    rows = [f"{day:%Y-%m-%d},{c},{c + 1},{c - 1},{c},{c / 2},{1000 + i}"
            for i, (day, c) in enumerate(zip(days, close))]
    return ("\n".join([YAHOO_HEADER, *rows]) + "\n").encode()


def bitstamp_csv(stamps) -> bytes:
    rows = [f"{s},10,11,9,10.5,1.5,15,10.2" for s in stamps]
    return ("\n".join([BITSTAMP_HEADER, *rows]) + "\n").encode()


def refusal(data: bytes | str) -> str:
    source = io.StringIO(data) if isinstance(data, str) else io.BytesIO(data)
    with pytest.raises(DataError) as info:
        read_csv(source, ticker="X")
    return str(info.value)


def assert_one_short_sentence(message: str) -> None:
    assert len(message) <= LONGEST_MESSAGE and "\n" not in message


# --- decompressed and plain size -----------------------------------------------------------

def test_a_gzip_bomb_is_refused_quickly_holding_no_more_than_the_cap(bomb):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refusal(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 5
    assert message == "the file expands to more than 16 MB of text, the most a price file may hold"
    # The compressed file, the capped text and a chunk: nowhere near the 200 MB it expands to.
    assert peak < len(bomb) + price_csv.MAX_CSV_BYTES * 1.2


def test_the_cap_is_a_module_constant(bomb, monkeypatch):
    monkeypatch.setattr(price_csv.rawbytes, "MAX_CSV_BYTES", 1_000_000)
    tracemalloc.start()
    try:
        message = refusal(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than 1 MB" in message
    assert peak < len(bomb) + 1_500_000


def test_plain_files_and_text_are_bounded_too(tmp_path, monkeypatch):
    monkeypatch.setattr(price_csv.rawbytes, "MAX_CSV_BYTES", 1000)
    big = yahoo_csv(pd.bdate_range("2010-01-04", periods=100))
    assert len(big) > 1000
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    for source in (path, io.BytesIO(big), io.StringIO(big.decode())):
        with pytest.raises(DataError, match=r"^the file is larger than 0.001 MB, the most"):
            read_csv(source, ticker="X")
    with pytest.raises(DataError, match="larger than"):
        price_csv.read_text(io.BytesIO(big))
    assert price_csv.read_text(io.BytesIO(big[:900])) == big[:900].decode()


def test_a_damaged_gzip_is_one_sentence_without_zlib_internals():
    whole = gzip.compress(yahoo_csv(pd.bdate_range("2010-01-04", periods=50)))
    for damaged in (whole[:40], whole[:20] + b"\x00" * 40 + whole[60:]):
        message = refusal(damaged)
        assert message == "the file looks gzip-compressed but is damaged or cut short"


# --- a huge header, huge cells --------------------------------------------------------------

def test_one_huge_header_line_in_a_gzip_gives_a_short_message():
    message = refusal(gzip_stream(b"name,colour," * 10_000, 1_000))  # 120 MB, one line
    assert len(message) < 300 and "16 MB" in message


def test_a_long_first_line_is_refused_before_pandas_reads_it():
    started = time.perf_counter()
    message = refusal(b"x," * 2_000_000 + b"\n1\n")
    assert time.perf_counter() - started < 2
    assert_one_short_sentence(message)
    assert "first line" in message and "Date" in message


def test_unknown_columns_are_listed_briefly():
    message = refusal(",".join(f"column number {i}" for i in range(40)) + "\n1\n")
    assert_one_short_sentence(message)
    assert message.startswith("the CSV columns 'column number 0', ")
    assert "…" in message and "Date" in message and "Close" in message
    assert "'name', 'colour' are not price columns" in refusal("name,colour\nsky,blue\n")


@pytest.mark.parametrize("row, words", [
    ("2013-01-02,10,11,9," + "9" * 1_000_000 + "x,5,100", ["'Close'", "data row 1"]),
    ("2013" * 100_000 + ",10,11,9,10,5,100", ["not a date", "data row 1"]),
    ("2013-01-02,10,11,9,tRuE,5,100", ["'Close'", "'tRuE'", "data row 1"]),
    ("2013-01-02,10,11,9,10,nul ,100", ["'Adj Close'", "'nul '"]),
    ("2013-01-02,10,11,9,10,5,100,7", ["8 fields", "7 columns"]),
])
def test_errors_about_cells_quote_little_of_the_file(row, words):
    message = refusal(f"{YAHOO_HEADER}\n{row}\n")
    assert_one_short_sentence(message)
    for word in words:
        assert word in message


# --- rows -------------------------------------------------------------------------------------

def test_a_long_daily_history_keeps_the_most_recent_days_and_says_so():
    days = pd.bdate_range("1995-01-02", periods=price_csv.MAX_DAILY_ROWS + 1000)
    frame = read_csv(io.BytesIO(yahoo_csv(days)), ticker="X")
    assert len(frame) == price_csv.MAX_DAILY_ROWS
    assert frame.index[-1] == days[-1] and frame.index[0] == days[1000]
    assert frame.attrs["notices"] == [
        f"The file holds {len(days):,} rows of prices; the most recent "
        f"{price_csv.MAX_DAILY_ROWS:,} were kept."]
    assert frame.attrs["ticker"] == "X" and frame.attrs["source"] == "csv"


def test_a_short_history_has_no_notices():
    frame = read_csv(io.BytesIO(yahoo_csv(pd.bdate_range("2010-01-04", periods=30))))
    assert frame.attrs["notices"] == []


def test_errors_count_rows_from_the_start_of_the_file_after_a_cut(monkeypatch):
    monkeypatch.setattr(price_csv, "MAX_DAILY_ROWS", 10)
    lines = yahoo_csv(pd.bdate_range("2010-01-04", periods=30)).decode().splitlines()
    fields = lines[28].split(",")
    lines[28] = ",".join([fields[0], "abc", *fields[2:]])
    message = refusal("\n".join(lines) + "\n")
    assert "'Open' holds 'abc' in data row 28" in message
    # Rows cut off are never read: a bad one there is no error.
    text = yahoo_csv(pd.bdate_range("2010-01-04", periods=30)).decode().splitlines()
    text[1] = "0001-01-01,1,1,1,1,1,1"
    frame = read_csv(io.StringIO("\n".join(text)), ticker="X")
    assert len(frame) == 10 and frame.attrs["notices"][0].startswith("The file holds 30 rows")


def test_bitstamp_rows_and_days_are_capped_the_most_recent_kept(monkeypatch):
    start = int(pd.Timestamp("2021-01-01").timestamp())
    stamps = [start + 3600 * 8 * i for i in range(30)]  # three rows a day for ten days
    monkeypatch.setattr(price_csv.rows, "MAX_CSV_ROWS", 24)
    frame = read_csv(io.BytesIO(bitstamp_csv(stamps)))
    assert frame.attrs["notices"] == [
        "The file holds 30 rows of prices; the most recent 24 were kept.",
        "The file's 8-hour rows were combined into daily prices."]
    assert frame.index[-1] == pd.Timestamp("2021-01-10") and len(frame) == 8
    monkeypatch.setattr(price_csv, "MAX_DAILY_ROWS", 5)
    frame = read_csv(io.BytesIO(bitstamp_csv(stamps)))
    assert len(frame) == 5 and frame.index[0] == pd.Timestamp("2021-01-06")
    assert frame.attrs["notices"][2] == ("The file's rows cover 8 days; the most recent 5 were "
                                         "kept.")


@pytest.mark.parametrize("rows", [1, 2])
def test_one_or_two_rows_make_a_normal_frame(rows):
    days = pd.bdate_range("2013-01-02", periods=rows)
    frame = read_csv(io.BytesIO(yahoo_csv(days).rstrip(b"\n")), ticker="X")
    assert len(frame) == rows and list(frame.columns) == list(COLUMNS)
    assert frame.attrs["notices"] == []
    minutes = read_csv(io.BytesIO(bitstamp_csv([1609459200 + 60 * i for i in range(rows)])))
    assert len(minutes) == 1 and minutes.attrs["calendar"] == "crypto"


# --- dates and timestamps ---------------------------------------------------------------------

def test_a_date_pandas_cannot_hold_is_a_data_error_naming_row_and_value():
    message = refusal(f"{YAHOO_HEADER}\n0001-01-01,1,1,1,1,1,1\n2013-01-02,1,1,1,1,1,1\n")
    last = price_csv.dates.last_day().date()
    assert message == f"'0001-01-01' in data row 1 is not a date between 1900-01-01 and {last}"


@pytest.mark.parametrize("value, row", [("9999-12-31", 2), ("1899-12-31", 2), ("2262-04-12", 2)])
def test_dates_outside_1900_to_tomorrow_are_refused(value, row):
    message = refusal(f"{YAHOO_HEADER}\n2013-01-02,1,1,1,1,1,1\n{value},1,1,1,1,1,1\n")
    assert f"'{value}' in data row {row} is not a date between 1900-01-01" in message


def test_tomorrow_is_still_a_date():
    tomorrow = price_csv.dates.last_day()
    frame = read_csv(io.StringIO(f"{YAHOO_HEADER}\n{tomorrow:%Y-%m-%d},1,1,1,1,1,1\n"))
    assert frame.index[-1] == tomorrow


@pytest.mark.parametrize("value, shown", [("1e20", "1e+20"), ("-1e20", "-1e+20"),
                                          ("-9999999999", "-9999999999"), ("9" * 400, "inf")])
def test_unix_timestamps_out_of_range_are_a_data_error_naming_the_row(value, shown):
    text = bitstamp_csv([1609459200]).decode() + f"{value},10,11,9,10.5,1.5,15,10.2\n"
    message = refusal(text)
    assert message.startswith(f"Timestamp {shown} in data row 2 is not a unix time between "
                              f"1900-01-01 and ")


# --- what the faster parse still accepts ------------------------------------------------------

def test_spaces_and_a_comma_at_the_end_of_every_line_read_as_before():
    rows = ["2013-01-02, 10, 11, 9, 10, 5, 100,", "2013-01-03,10,12,9,11,5.5, 200 ,",
            '"2013-01-04",11,12,10,12,6,300,']
    frame = read_csv(io.StringIO("\n".join([YAHOO_HEADER, *rows]) + "\n"), ticker="X")
    np.testing.assert_allclose(frame["close"], [5, 5.5, 6])
    np.testing.assert_allclose(frame["volume"], [100, 200, 300])


@pytest.mark.parametrize("marker", ["null", "NULL", "NaN", "nan", "N/A", "n/a", "-", "", "None",
                                    " null", "null "])
def test_missing_markers_in_any_case_are_missing_not_bad_numbers(marker):
    # A missing open is stood in for by the close; a row without a price is left out.
    frame = read_csv(io.StringIO(
        f"{YAHOO_HEADER}\n2013-01-02,10,11,9,10,5,100\n2013-01-03,{marker},11,9,10,5,100\n"
        f"2013-01-04,10,11,9,{marker},{marker},100\n"), ticker="X")
    assert frame.index.tolist() == [pd.Timestamp("2013-01-02"), pd.Timestamp("2013-01-03")]
    assert frame["open"].tolist() == [5.0, 5.0]  # 10 * 5/10 on the 2nd; the close, 5, on the 3rd
    assert frame.attrs["notices"] == [
        "1 row without a price in column 'Adj Close' was left out.",
        "1 row had no open, high or low price; the close stands in for it."]

"""The price files people really have: any delimiter, encoding, order and price column.

Every expected value below comes from the rows each test writes, never from the parser.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from werkzeug.datastructures import FileStorage

from stockPredictor.data import csv as price_csv
from stockPredictor.data.csv import read_csv
from stockPredictor.data.frame import COLUMNS, validate
from stockPredictor.errors import DataError

# Five weekdays and their closes, used by most files below.
DAYS = ["2013-01-02", "2013-01-03", "2013-01-04", "2013-01-07", "2013-01-08"]
CLOSES = [10.5, 11.25, 10.75, 12.0, 12.5]
LONGEST_MESSAGE = 200
INTERNALS = ("Expected", "in line", "float", "Traceback", "Error tokenizing", "C error", "dtype",
             "pandas", "could not convert")


def read(data: str | bytes, name: str | None = None, ticker: str | None = None) -> pd.DataFrame:
    raw = data.encode() if isinstance(data, str) else data
    source = FileStorage(stream=io.BytesIO(raw), filename=name) if name else io.BytesIO(raw)
    return read_csv(source, ticker=ticker)


def refusal(data: str | bytes, ticker: str | None = None) -> str:
    with pytest.raises(DataError) as info:
        read(data, ticker=ticker)
    return str(info.value)


def days(values) -> list[pd.Timestamp]:
    return [pd.Timestamp(v) for v in values]


def assert_short_and_plain(message: str) -> None:
    assert len(message) <= LONGEST_MESSAGE and "\n" not in message
    for word in INTERNALS:
        assert word not in message, message


# --- columns -------------------------------------------------------------------------------

def test_date_and_close_only():
    text = "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in zip(DAYS, CLOSES))
    frame = read(text, ticker="IBM")
    assert frame.index.tolist() == days(DAYS)
    assert frame["close"].tolist() == CLOSES
    for column in ("open", "high", "low"):  # no such columns: the close stands in
        assert frame[column].tolist() == CLOSES
    assert frame["volume"].tolist() == [0.0] * len(DAYS)
    assert all(frame[c].dtype == np.float64 for c in COLUMNS)
    assert frame.attrs["notices"] == [] and frame.attrs["calendar"] == "equity"
    validate(frame)


@pytest.mark.parametrize("header", ["Day,Price", "date,close price", "DATE,LAST", "Date,Close*",
                                    "Time (UTC),Close (USD)", "trade_date,CLOSE_PRICE"])
def test_price_and_date_columns_go_by_many_names(header):
    text = header + "\n" + "".join(f"{d},{c}\n" for d, c in zip(DAYS, CLOSES))
    assert read(text, ticker="X")["close"].tolist() == CLOSES


def test_adj_close_is_preferred_and_adjusts_open_high_low():
    header = "Date,Open,High,Low,Close,Adj Close,Volume"
    rows = [f"{d},{2 * c},{2 * c + 2},{2 * c - 2},{2 * c},{c},{100 + i}"
            for i, (d, c) in enumerate(zip(DAYS, CLOSES))]
    frame = read("\n".join([header, *rows]) + "\n", ticker="X")
    assert frame["close"].tolist() == CLOSES  # Adj Close, not Close (twice as much)
    np.testing.assert_allclose(frame["high"], [c + 1 for c in CLOSES])  # (2c + 2) * c / 2c
    np.testing.assert_allclose(frame["low"], [c - 1 for c in CLOSES])
    assert frame["volume"].tolist() == [100.0 + i for i in range(len(DAYS))]


def test_only_an_adjusted_close_is_enough():
    text = "Date,Adj Close\n" + "".join(f"{d},{c}\n" for d, c in zip(DAYS, CLOSES))
    assert read(text, ticker="X")["close"].tolist() == CLOSES


def test_unknown_extra_columns_are_ignored():
    text = "Date,Comment,Close,Change %\n" + "".join(
        f'{d},"note, with a comma",{c},0.5%\n' for d, c in zip(DAYS, CLOSES))
    assert read(text, ticker="X")["close"].tolist() == CLOSES


def test_no_date_or_no_price_column_is_one_sentence_naming_the_columns():
    message = refusal("When,Close\n2013-01-02,10\n")
    assert message.startswith("the CSV columns 'When', 'Close' have no date column")
    message = refusal("Date,Opinion\n2013-01-02,good\n")
    assert message.startswith("the CSV columns 'Date', 'Opinion' have no price column")
    assert "Close" in message and "Price" in message
    assert_short_and_plain(refusal(",".join(f"column {'x' * 30} {i}" for i in range(20)) + "\n"))


# --- order and gaps --------------------------------------------------------------------------

def test_newest_first_is_sorted_with_a_notice():
    text = "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in reversed(list(zip(DAYS, CLOSES))))
    frame = read(text, ticker="X")
    assert frame.index.tolist() == days(DAYS) and frame["close"].tolist() == CLOSES
    assert frame.attrs["notices"] == ["The file lists the newest prices first; its rows were "
                                      "sorted oldest first."]


def test_rows_in_no_order_are_sorted_with_a_notice():
    order = [2, 0, 4, 1, 3]
    text = "Date,Close\n" + "".join(f"{DAYS[i]},{CLOSES[i]}\n" for i in order)
    frame = read(text, ticker="X")
    assert frame["close"].tolist() == CLOSES
    assert frame.attrs["notices"] == ["The file's rows were not in date order; they were sorted "
                                      "oldest first."]


def test_a_long_newest_first_file_keeps_its_most_recent_days(monkeypatch):
    monkeypatch.setattr(price_csv, "MAX_DAILY_ROWS", 3)
    text = "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in reversed(list(zip(DAYS, CLOSES))))
    frame = read(text, ticker="X")
    assert frame.index.tolist() == days(DAYS[-3:]) and frame["close"].tolist() == CLOSES[-3:]
    assert frame.attrs["notices"] == [
        "The file holds 5 rows of prices; the most recent 3 were kept.",
        "The file lists the newest prices first; its rows were sorted oldest first."]


def test_yahoo_null_rows_are_dropped_saying_how_many():
    # Yahoo's export writes "null" in every column on a day it has no prices.
    header = "Date,Open,High,Low,Close,Adj Close,Volume"
    rows = [f"{d},{c},{c},{c},{c},{c},1000" for d, c in zip(DAYS, CLOSES)]
    nulls = ["2013-01-09,null,null,null,null,null,null", "2013-01-10,null,null,null,null,null,null"]
    frame = read("\n".join([header, rows[0], nulls[0], *rows[1:], nulls[1]]) + "\n", ticker="X")
    assert frame.index.tolist() == days(DAYS) and frame["close"].tolist() == CLOSES
    assert frame.attrs["notices"] == [f"{len(nulls)} rows without a price in column 'Adj Close' "
                                      f"were left out."]


def test_repeated_identical_rows_are_dropped_but_two_prices_for_a_day_are_refused():
    rows = [f"{d},{c}" for d, c in zip(DAYS, CLOSES)]
    frame = read("\n".join(["Date,Close", *rows, rows[1]]) + "\n", ticker="X")
    assert frame["close"].tolist() == CLOSES
    assert frame.attrs["notices"][-1] == "1 row repeating an earlier row was left out."
    message = refusal("\n".join(["Date,Close", *rows, f"{DAYS[1]},99"]) + "\n")
    assert message == (f"date {DAYS[1]} appears more than once with different prices (data rows "
                       f"2 and {len(DAYS) + 1}); each date needs one row")


# --- delimiters, encodings, numbers ------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_semicolons_tabs_and_pipes_separate_columns(delimiter):
    header = delimiter.join(["Date", "Open", "High", "Low", "Close", "Volume"])
    rows = [delimiter.join([d, str(c - 1), str(c + 1), str(c - 2), str(c), "500"])
            for d, c in zip(DAYS, CLOSES)]
    frame = read("\n".join([header, *rows]) + "\n", ticker="X")
    assert frame["close"].tolist() == CLOSES
    assert frame["open"].tolist() == [c - 1 for c in CLOSES]
    assert frame["volume"].tolist() == [500.0] * len(DAYS)


def test_excel_sep_line_and_european_decimal_commas():
    rows = [f"{pd.Timestamp(d):%d.%m.%Y};{str(c).replace('.', ',')}" for d, c in zip(DAYS, CLOSES)]
    frame = read("sep=;\nDatum;Close\n".replace("Datum", "Date") + "\n".join(rows) + "\n",
                 ticker="X")
    assert frame.index.tolist() == days(DAYS) and frame["close"].tolist() == CLOSES


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", "\ufeff"), ("utf-16-be", "\ufeff"),
                                           ("utf-8", "\ufeff"), ("utf-16-le", "")])
def test_utf16_and_byte_order_marks(encoding, bom):
    text = bom + "Date\tClose\n" + "".join(f"{d}\t{c}\n" for d, c in zip(DAYS, CLOSES))
    frame = read(text.encode(encoding), ticker="X")
    assert frame.index.tolist() == days(DAYS) and frame["close"].tolist() == CLOSES


def test_nasdaq_close_last_export_with_dollars_and_thousands():
    # Nasdaq's historical-data export: newest first, MM/DD/YYYY, "$" prices; above 1,000 the
    # price is quoted, since its thousands separator is the delimiter.
    quotes = [("01/08/2013", 1234.56, 1200.5, 1250.0, 1190.25, 3000),
              ("01/07/2013", 999.5, 990.0, 1001.0, 985.75, 2000),
              ("01/04/2013", 1010.0, 1000.0, 1020.0, 995.0, 1000)]

    def dollars(value: float) -> str:
        text = f"${value:,.2f}"
        return f'"{text}"' if "," in text else text

    rows = [f"{d},{dollars(c)},{v},{dollars(o)},{dollars(h)},{dollars(lo)}"
            for d, c, o, h, lo, v in quotes]
    frame = read("\n".join(["Date,Close/Last,Volume,Open,High,Low", *rows]) + "\n",
                 name="HistoricalData_1700000000.csv", ticker="BKNG")
    oldest_first = quotes[::-1]
    assert frame.index.tolist() == [pd.Timestamp(q[0]) for q in oldest_first]
    assert frame["close"].tolist() == [q[1] for q in oldest_first]
    assert frame["open"].tolist() == [q[2] for q in oldest_first]
    assert frame["high"].tolist() == [q[3] for q in oldest_first]
    assert frame["volume"].tolist() == [float(q[5]) for q in oldest_first]
    assert frame.attrs["ticker"] == "BKNG"
    assert frame.attrs["notices"] == ["The file lists the newest prices first; its rows were "
                                      "sorted oldest first."]


def test_spaces_around_prices_are_read():
    text = "Date,Close\n" + "".join(f"{d},  {c}  \n" for d, c in zip(DAYS, CLOSES))
    assert read(text, ticker="X")["close"].tolist() == CLOSES


# --- long files with a symbol column ------------------------------------------------------------

def long_file(symbols: list[str]) -> str:
    rows = [f"{s},{d},{c + 100 * i}" for i, s in enumerate(symbols)
            for d, c in zip(DAYS, CLOSES)]
    return "\n".join(["symbol,date,price", *rows]) + "\n"


def test_a_long_file_gives_the_rows_of_the_ticker_chosen():
    frame = read(long_file(["AAPL", "IBM", "MSFT"]), ticker="ibm")
    assert frame["close"].tolist() == [c + 100 for c in CLOSES]  # IBM's rows: the second symbol
    assert frame.attrs["ticker"] == "IBM"


def test_a_long_file_of_one_symbol_is_titled_by_it():
    frame = read(long_file(["msft"]), name="export.csv")
    assert frame["close"].tolist() == CLOSES and frame.attrs["ticker"] == "MSFT"


def test_a_long_file_of_several_symbols_asks_for_one_listing_at_most_ten():
    symbols = [f"SYM{i:02d}" for i in range(12)]
    message = refusal(long_file(symbols))
    assert message == ("the file holds prices for 12 symbols (SYM00, SYM01, SYM02, SYM03, SYM04, "
                       "SYM05, SYM06, SYM07, SYM08, SYM09, …); choose one in the ticker field")
    assert_short_and_plain(message)
    long_names = [f"{'X' * 14}{i:02d}" for i in range(12)]
    assert_short_and_plain(refusal(long_file(long_names)))


def test_a_ticker_the_long_file_does_not_hold_is_named_with_the_file_symbols():
    message = refusal(long_file(["AAPL", "IBM"]), ticker="TSLA")
    assert message == "the file holds no prices for 'TSLA'; its symbols are AAPL, IBM"


def test_a_crypto_symbol_gets_the_crypto_calendar():
    text = "Ticker,Date,Close\n" + "".join(f"BTC/USD,{d},{c}\n" for d, c in zip(DAYS, CLOSES))
    frame = read(text)
    assert frame.attrs["ticker"] == "BTC-USD" and frame.attrs["calendar"] == "crypto"


# --- not daily ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dates, kind", [
    (pd.date_range("2013-01-04", periods=12, freq="7D"), "weekly"),
    (pd.date_range("2013-01-01", periods=12, freq="MS"), "monthly"),
])
def test_weekly_and_monthly_prices_are_refused_in_one_sentence(dates, kind):
    text = "Date,Close\n" + "".join(f"{d:%Y-%m-%d},{10 + i}\n" for i, d in enumerate(dates))
    median = round(float(np.median(np.diff(dates.values).astype("timedelta64[D]").astype(int))))
    assert refusal(text) == (f"these prices are {kind} (a median of {median} days between "
                             f"rows); the models forecast daily prices")


def test_intraday_rows_are_combined_into_days_with_a_notice():
    # Five-minute bars over two days: open first, high highest, low lowest, close last.
    bars = {"2013-01-02": [(10, 11, 9, 10.5, 100), (10.5, 12, 10, 11, 200), (11, 11.5, 8, 9, 50)],
            "2013-01-03": [(9, 9.5, 8.5, 9.25, 10), (9.25, 10, 9, 9.75, 20)]}
    rows = []
    for day, day_bars in bars.items():
        for i, (o, h, lo, c, v) in enumerate(day_bars):
            rows.append(f"{day} 09:{30 + 5 * i:02d},{o},{h},{lo},{c},{v}")
    frame = read("\n".join(["Datetime,Open,High,Low,Close,Volume", *rows]) + "\n", ticker="X")
    assert frame.index.tolist() == days(bars)
    for day, day_bars in bars.items():
        got = frame.loc[day]
        assert got["open"] == day_bars[0][0] and got["close"] == day_bars[-1][3]
        assert got["high"] == max(b[1] for b in day_bars)
        assert got["low"] == min(b[2] for b in day_bars)
        assert got["volume"] == sum(b[4] for b in day_bars)
    assert frame.attrs["notices"] == ["The file's 5-minute rows were combined into daily prices."]


def test_unix_seconds_in_any_layout_are_read():
    stamps = [int(pd.Timestamp(d).timestamp()) for d in DAYS]
    text = "time,price\n" + "".join(f"{s},{c}\n" for s, c in zip(stamps, CLOSES))
    frame = read(text, ticker="X")
    assert frame.index.tolist() == days(DAYS) and frame["close"].tolist() == CLOSES


def test_separate_date_and_time_columns_are_read_together():
    rows = [f"{d},{t},{c}" for d in DAYS[:2] for t, c in (("10:00", 1.0), ("11:00", 2.0))]
    frame = read("\n".join(["Date,Time,Close", *rows]) + "\n", ticker="X")
    assert frame.index.tolist() == days(DAYS[:2]) and frame["close"].tolist() == [2.0, 2.0]
    assert frame.attrs["notices"] == ["The file's hourly rows were combined into daily prices."]


# --- names and titles ----------------------------------------------------------------------------

def test_the_file_name_is_kept_without_folders_and_cut_to_80_characters(tmp_path):
    text = "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in zip(DAYS, CLOSES))
    assert read(text, name="C:\\fakepath\\ibm.csv").attrs["file_name"] == "ibm.csv"
    assert read(text, name="ibm.csv").attrs["ticker"] == "IBM"
    long_name = "a" * 100 + ".csv"
    assert read(text, name=long_name).attrs["file_name"] == long_name[:80]
    path = tmp_path / "msft_prices.csv"
    path.write_text(text)
    frame = read_csv(path)
    assert frame.attrs["file_name"] == "msft_prices.csv" and frame.attrs["ticker"] == "MSFT"
    assert read(text).attrs["file_name"] is None


@pytest.mark.parametrize("name, ticker, expected", [
    ("ibm.csv", "aapl", "AAPL"),      # the ticker field first
    ("ibm.csv", None, "IBM"),         # then a ticker-like file name
    ("csv.csv", None, "UPLOAD"),      # never "CSV"
])
def test_titles_come_from_the_ticker_field_then_the_file(name, ticker, expected):
    text = "Date,Close\n" + "".join(f"{d},{c}\n" for d, c in zip(DAYS, CLOSES))
    assert read(text, name=name, ticker=ticker).attrs["ticker"] == expected


# --- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ('Date,Close\n2013-01-02,"10\n2013-01-03,11\n', ["quote", "data row 1"]),
    ("Date,Close\n2013-01-02,10\n2013-01-03,1,234.5\n", ["data row 2", "3 fields", "quotes"]),
    ("Date,Close\n2013-01-02,10\n2013-01-03,$abc\n", ["'Close'", "'$abc'", "data row 2"]),
    ("Date,Close\n2013-01-02,10\n2013-01-03," + "7" * 5000 + "x\n", ["'Close'", "data row 2"]),
    ("Date,Close\n2013-01-02,10\nsoon,11\n", ["'soon'", "data row 2", "not a date"]),
    ("Date,Close\n2013-01-02,10\n2013-01-03,-4\n", ["Close is -4.0", "data row 2"]),
    ("Date,Close\n2013-01-02,\n", ["no row", "'Close'"]),
    ("Date,Close\n", ["no rows"]),
    (b"PK\x03\x04\x14\x00\x06\x00", ["Excel", "CSV"]),
    ("Date,Close,Volume\n2013-01-02,10,lots\n", ["'Volume'", "'lots'"]),
])
def test_broken_files_get_one_short_sentence_without_internals(text, words):
    message = refusal(text)
    assert_short_and_plain(message)
    for word in words:
        assert word in message, message


def test_a_long_file_past_the_row_limit_is_cut_to_its_symbol_and_lists_all_symbols(monkeypatch):

    monkeypatch.setattr(price_csv, "MAX_DAILY_ROWS", 3)
    monkeypatch.setattr(price_csv.rows, "MAX_CSV_ROWS", 8)
    text = long_file(["AAPL", "IBM", "MSFT"])  # 15 rows, sorted by symbol
    frame = read(text, ticker="IBM")
    assert frame.index.tolist() == days(DAYS[-3:])
    assert frame["close"].tolist() == [c + 100 for c in CLOSES[-3:]]
    assert frame.attrs["notices"] == ["The file's rows cover 5 days; the most recent 3 were "
                                      "kept."]
    # The symbols named are all of the file's, not only those of the rows parsed.
    assert "(AAPL, IBM, MSFT)" in refusal(text)


def test_investing_com_export_with_quoted_dates_and_suffixed_volumes():
    rows = [('"Jan 08, 2013"', "1,234.50", "1.23M"), ('"Jan 07, 2013"', "1,230.00", "-"),
            ('"Jan 04, 2013"', "1,228.25", "850.5K")]
    text = '"Date","Price","Open","High","Low","Vol.","Change %"\n' + "".join(
        f'{d},"{c}","{c}","{c}","{c}","{v}","0.10%"\n' for d, c, v in rows)
    frame = read(text, ticker="X")
    assert frame.index.tolist() == days(["2013-01-04", "2013-01-07", "2013-01-08"])
    assert frame["close"].tolist() == [1228.25, 1230.0, 1234.5]
    assert frame["volume"].tolist() == [850_500.0, 0.0, 1_230_000.0]


def test_european_thousands_and_decimal_commas_in_a_semicolon_file():
    closes = [1234.5, 1240.25, 1238.0]
    rows = [f"{d};{c:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
            for d, c in zip(DAYS, closes)]
    frame = read("Date;Close\n" + "\n".join(rows) + "\n", ticker="X")
    assert frame["close"].tolist() == closes


def test_a_windows_spreadsheet_in_cp1252_with_euro_prices_is_read():
    # Excel on Windows saves cp1252: the euro sign is byte 0x80, not valid UTF-8.
    rows = [f"{d};{str(c).replace('.', ',')} \u20ac" for d, c in zip(DAYS, CLOSES)]
    frame = read(("Date;Close\n" + "\n".join(rows) + "\n").encode("cp1252"))
    assert list(frame.index) == days(DAYS)
    np.testing.assert_allclose(frame["close"], CLOSES)

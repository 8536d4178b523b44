"""Price sources -> one normalized frame. Yahoo is never called: yfinance is faked at its edges."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import subprocess
import sys
import types
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from stockPredictor import settings
from stockPredictor.data import yahoo
from stockPredictor.data.csv import read_csv
from stockPredictor.data.csv.naming import ticker_from_name
from stockPredictor.data.frame import COLUMNS, validate
from stockPredictor.data.sample import SAMPLE_TICKERS, from_sample
from stockPredictor.data.sources import load as load_prices
from stockPredictor.data.synthetic import SYNTHETIC_KINDS, synthetic
from stockPredictor.data.tickers import TICKER_PATTERN, check_ticker, is_crypto
from stockPredictor.data.yahoo import from_yahoo
from stockPredictor.errors import (DataError, SettingError, SourceUnavailableError,
                                   UnknownTickerError)
from tests.fakes import history_frame

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


# --- fixtures and fakes -----------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_price_source_env(monkeypatch):
    """Tests choose their source; an ambient PRICE_SOURCE must not change what they test."""
    monkeypatch.delenv("PRICE_SOURCE", raising=False)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def daily_csv(header=YAHOO_HEADER, rows=None):
    rows = rows or ["2013-01-02,10,11,9,10,5,100", "2013-01-03,10,12,9,11,5.5,200",
                    "2013-01-04,11,12,10,12,6,300"]
    return "\n".join([header, *rows]) + "\n"


def log_returns(series):
    return np.diff(np.log(series.to_numpy()))


# --- tickers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [(" ibm ", "IBM"), ("BRK-B", "BRK-B"),
                                           ("^GSPC", "^GSPC"), ("eurusd=x", "EURUSD=X"),
                                           ("7203.T", "7203.T"), ("A" * 15, "A" * 15)])
def test_check_ticker_accepts_and_upper_cases(raw, expected):
    assert check_ticker(raw) == expected


@pytest.mark.parametrize("raw", ["../etc", "A" * 16, "IBM;rm", "", "IBM RM", "<b>", "ibm/x"])
def test_check_ticker_rejects_naming_value_and_pattern(raw):
    with pytest.raises(DataError) as info:
        check_ticker(raw)
    assert repr(raw) in str(info.value) and TICKER_PATTERN.pattern in str(info.value)


def test_is_crypto():
    assert is_crypto("BTC-USD") and is_crypto("eth-usdt")
    assert not any(map(is_crypto, ["IBM", "BRK-B", "EURUSD=X", "^GSPC"]))


# --- CSV layouts ---------------------------------------------------------------------------------

def test_yahoo_export_is_adjusted_by_adj_close(tmp_path):
    frame = read_csv(write(tmp_path, "ibm.csv", daily_csv()))
    assert frame.attrs["ticker"] == "IBM" and frame.attrs["source"] == "csv"
    assert frame.attrs["calendar"] == "equity"
    assert list(frame.columns) == list(COLUMNS) and frame.index.name == "date"
    np.testing.assert_allclose(frame["close"], [5, 5.5, 6])
    # Open scaled by the same Adj Close / Close ratio as close: 10 * 5/10, 10 * 5.5/11, 11 * 6/12.
    np.testing.assert_allclose(frame["open"], [5, 5, 5.5])
    np.testing.assert_allclose(frame["volume"], [100, 200, 300])
    assert frame.index[0] == pd.Timestamp("2013-01-02")


def test_header_matching_ignores_case_and_spaces(tmp_path):
    header = " date , OPEN,high,Low , close,adj_close ,VOLUME"
    frame = read_csv(write(tmp_path, "x.csv", daily_csv(header)), ticker="msft")
    assert frame.attrs["ticker"] == "MSFT"
    np.testing.assert_allclose(frame["close"], [5, 5.5, 6])


def test_yahoo_export_without_adj_close(tmp_path):
    rows = ["2013-01-02,10,11,9,10,100", "2013-01-03,10,12,9,11,200"]
    text = daily_csv("Date,Open,High,Low,Close,Volume", rows)
    frame = read_csv(write(tmp_path, "spy.csv", text))
    np.testing.assert_allclose(frame["close"], [10, 11])
    np.testing.assert_allclose(frame["high"], [11, 12])


def test_kaggle_layout(tmp_path):
    rows = ["1984-09-07,0.42388,0.42902,0.41874,0.42388,23220030,0",
            "1984-09-10,0.42388,0.42516,0.41366,0.42134,18022532,0"]
    text = daily_csv("Date,Open,High,Low,Close,Volume,OpenInt", rows)
    frame = read_csv(write(tmp_path, "aapl.us.txt", text))
    assert frame.attrs["ticker"] == "AAPL.US"
    np.testing.assert_allclose(frame["close"], [0.42388, 0.42134])
    assert frame.index.tolist() == [pd.Timestamp("1984-09-07"), pd.Timestamp("1984-09-10")]


def bitstamp_rows():
    """Minutes over 2021-01-01 (Fri), -02 (Sat), -03 (Sun), NaN minutes, and a NaN-only -04."""
    rng = np.random.default_rng(1)
    rows = []
    for day in ("2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"):
        start = int(pd.Timestamp(day).timestamp())
        for minute in range(6):
            stamp = start + 60 * minute + 3600 * 5
            if day == "2021-01-04" or minute in (0, 3):
                rows.append((stamp, *[np.nan] * 7))
                continue
            price = 29000 + rng.normal(0, 50)
            rows.append((stamp, price, price + 20, price - 20, price + 5,
                         rng.uniform(0.1, 2.0), rng.uniform(1e3, 5e4), price))
    return pd.DataFrame(rows, columns=["Timestamp", "Open", "High", "Low", "Close",
                                       "Volume_(BTC)", "Volume_(Currency)", "Weighted_Price"])


def test_bitstamp_minutes_become_days(tmp_path):
    minutes = bitstamp_rows()
    path = tmp_path / "bitstampUSD_1-min_data_2012-01-01_to_2021-03-31.csv"
    minutes.to_csv(path, index=False)
    frame = read_csv(path)
    assert frame.attrs["calendar"] == "crypto" and frame.attrs["ticker"] == "BTC-USD"
    assert frame.index.tolist() == list(pd.date_range("2021-01-01", periods=3))  # -04 had no trades
    traded = minutes.dropna().assign(day=pd.to_datetime(minutes.dropna()["Timestamp"], unit="s")
                                     .dt.normalize())
    for day, rows in traded.groupby("day"):
        got = frame.loc[day]
        assert got["open"] == pytest.approx(rows["Open"].iloc[0])
        assert got["close"] == pytest.approx(rows["Close"].iloc[-1])
        assert got["high"] == pytest.approx(rows["High"].max())
        assert got["low"] == pytest.approx(rows["Low"].min())
        assert got["volume"] == pytest.approx(rows["Volume_(BTC)"].sum())


def test_upload_file_objects_binary_text_and_gzip():
    text = daily_csv()
    as_bytes = io.BytesIO(("\ufeff" + text).encode("utf-8"))  # Excel's byte-order mark
    frame = read_csv(as_bytes, ticker="ibm")
    assert frame.attrs["ticker"] == "IBM" and len(frame) == 3
    assert len(read_csv(io.StringIO(text))) == 3
    assert read_csv(io.StringIO(text)).attrs["ticker"] == "UPLOAD"  # no file name
    zipped = read_csv(io.BytesIO(gzip.compress(text.encode())), ticker="IBM")
    pd.testing.assert_frame_equal(zipped, frame)


def test_flask_upload_names_the_ticker_after_the_file():
    from werkzeug.datastructures import FileStorage

    upload = FileStorage(stream=io.BytesIO(daily_csv().encode()), filename="msft.csv")
    assert read_csv(upload).attrs["ticker"] == "MSFT"


@pytest.mark.parametrize("text, words", [
    (daily_csv("Date,Colour,Volume", ["2013-01-02,red,100"]),
     ["'Colour'", "no price column", "Close", "Price"]),
    (daily_csv(rows=["2013-01-02,10,11,9,10,5,100", "2013-01-02,10,11,9,10,6,100"]),
     ["2013-01-02", "more than once", "data rows 1 and 2"]),
    (daily_csv(rows=["2013-01-02,10,11,9,10,5,100", "2013-01-03,0,11,9,10,5,100"]),
     ["Open is 0.0", "2013-01-03", "positive"]),
    (daily_csv(rows=["2013-01-02,10,11,9,null,null,100", "2013-01-03,10,11,9,null,null,100"]),
     ["no row", "'Adj Close'"]),
    (daily_csv("Date,Open,High,Low,Close,Volume,OpenInt",
               ["2013-01-02,10,11,9,10,100,0", "2013-01-03,10,11,9,inf,100,0"]),
     ["Close is inf on 2013-01-03"]),
    (daily_csv(rows=["2013-01-02,10,11,9,10,5,100", "2013-01-03,10,11,9,10,5,-1"]),
     ["volume is -1.0 on 2013-01-03"]),
    (daily_csv(rows=["2013-01-02,10,11,9,10,5,100", "2013-01-03,10,11,9,abc,5,100"]),
     ["'Close'", "'abc'", "row 2"]),
    (daily_csv(rows=["2013-01-02,10,11,9,10,5,100", "yesterday,10,11,9,10,5,100"]),
     ["'yesterday'", "not a date"]),
    ("", ["empty"]),
    (YAHOO_HEADER + "\n", ["no rows"]),
])
def test_bad_csv_errors_name_the_problem(tmp_path, text, words):
    with pytest.raises(DataError) as info:
        read_csv(write(tmp_path, "bad.csv", text))
    for word in words:
        assert word in str(info.value)


def test_unknown_columns_error_names_what_was_found(tmp_path):
    with pytest.raises(DataError, match=r"columns 'Day', 'Colour' have no price column"):
        read_csv(write(tmp_path, "odd.csv", "Day,Colour\n2013-01-02,red\n"))


def test_bitstamp_out_of_order_timestamps_are_sorted_saying_so(tmp_path):
    minutes = bitstamp_rows()
    minutes.to_csv(tmp_path / "in_order.csv", index=False)
    minutes.iloc[[1, 2]] = minutes.iloc[[2, 1]].to_numpy()
    minutes.to_csv(tmp_path / "btc.csv", index=False)
    frame = read_csv(tmp_path / "btc.csv")
    pd.testing.assert_frame_equal(frame, read_csv(tmp_path / "in_order.csv"))
    assert ("The file's rows were not in date order; they were sorted oldest first."
            in frame.attrs["notices"])


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such CSV file"):
        read_csv(tmp_path / "nope.csv")


# --- validate ----------------------------------------------------------------------------------

def test_validate_counts_rows():
    frame = synthetic(n=3)
    assert validate(frame, min_rows=3) is frame
    with pytest.raises(DataError, match=r"only 3 rows of prices for 'SYN'; at least 10 are needed"):
        validate(frame, min_rows=10)


def test_validate_rejects_broken_frames():
    frame = synthetic(n=5)
    with pytest.raises(DataError, match="not ascending"):
        validate(frame.iloc[::-1])
    with pytest.raises(DataError, match="more than once"):
        validate(pd.concat([frame, frame.iloc[[-1]]]))
    with pytest.raises(DataError, match="found"):
        validate(frame[["close", "open", "high", "low", "volume"]])
    broken = frame.copy()
    broken.iloc[2, broken.columns.get_loc("close")] = np.inf
    with pytest.raises(DataError, match=f"close is inf on {broken.index[2].date()}"):
        validate(broken)


# --- bundled sample ------------------------------------------------------------------------------

def test_sample_has_all_tickers_up_to_2013_03_01():
    for ticker in SAMPLE_TICKERS:
        frame = from_sample(ticker.lower())
        assert frame.attrs["ticker"] == ticker and frame.attrs["source"] == "sample"
        assert frame.index[-1] <= pd.Timestamp("2013-03-01") and len(frame) > 150
        assert frame.index.is_monotonic_increasing and frame.index.is_unique
        assert frame.index.tz is None and (frame.dtypes == np.float64).all()
        fetched = dt.datetime.fromisoformat(frame.attrs["fetched_at"])
        assert fetched.utcoffset() == dt.timedelta(0)


def test_sample_adjusts_aapl_2005_split():
    path = resources.files("stockPredictor.data") / "sample_data" / "prices.csv.gz"
    with path.open("rb") as handle:
        raw = pd.read_csv(handle, compression="gzip", parse_dates=["date"])
    raw = raw[raw["ticker"] == "AAPL"].set_index("date")["2005-02-14":"2005-03-14"]
    adjusted = from_sample("AAPL")["2005-02-14":"2005-03-14"]
    assert len(adjusted) == len(raw) > 15
    assert log_returns(raw["close"]).min() < np.log(0.55)  # the unadjusted fake crash
    assert np.abs(log_returns(adjusted["close"])).max() < 0.1
    assert np.abs(log_returns(adjusted["open"])).max() < 0.1


def test_sample_unknown_ticker_names_the_bundled_ones():
    with pytest.raises(UnknownTickerError) as info:
        load_prices("TSLA", "sample")
    assert "'TSLA'" in str(info.value) and all(t in str(info.value) for t in SAMPLE_TICKERS)


def test_sample_date_window_start_inclusive_end_exclusive():
    frame = load_prices("IBM", "sample", start="2013-02-01", end="2013-03-01")
    assert frame.index[0] == pd.Timestamp("2013-02-01")
    assert frame.index[-1] == pd.Timestamp("2013-02-28")
    assert frame.attrs["ticker"] == "IBM"


# --- Yahoo ---------------------------------------------------------------------------------------

def test_yahoo_history_frame_is_normalized(fake_yahoo):
    days = pd.bdate_range("2024-03-01", periods=10)
    calls = fake_yahoo(history_frame(days))
    frame = from_yahoo("ibm")
    assert calls == [dict(ticker="IBM", period="max", interval="1d", start=None, end=None,
                          auto_adjust=True)]
    assert list(frame.columns) == list(COLUMNS)
    assert frame.index.tz is None and frame.index.name == "date"
    assert frame.index.tolist() == days.tolist()  # 2024-03-10 DST switch moves no day
    np.testing.assert_allclose(frame["close"], np.linspace(100, 110, 10))
    assert frame.attrs["source"] == "yahoo" and frame.attrs["calendar"] == "equity"


def test_yahoo_keeps_the_exchange_day_in_asian_time_zones(fake_yahoo):
    days = pd.bdate_range("2024-03-04", periods=3)
    fake_yahoo(history_frame(days, tz="Asia/Tokyo"))
    assert from_yahoo("7203.T").index.tolist() == days.tolist()


def test_yahoo_crypto_has_crypto_calendar(fake_yahoo):
    fake_yahoo(history_frame(pd.date_range("2024-03-01", periods=7), tz="UTC"))
    frame = from_yahoo("BTC-USD")
    assert frame.attrs["calendar"] == "crypto" and len(frame) == 7


def test_yahoo_start_end_are_passed_on(fake_yahoo):
    calls = fake_yahoo(history_frame(pd.bdate_range("2024-03-01", periods=3)))
    load_prices("IBM", "yahoo", start=dt.date(2024, 3, 1), end="2024-03-06")
    assert calls[0]["start"] == "2024-03-01" and calls[0]["end"] == "2024-03-06"


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_yahoo_download_multiindex_frame(yf, fake_yahoo):
    days = pd.bdate_range("2024-03-01", periods=5)
    fake_yahoo(history_frame(days))
    # The real yf.download, fed by the fake Ticker, builds its real column MultiIndex.
    raw = yf.download("IBM", progress=False, threads=False, auto_adjust=True)
    assert list(raw.columns.names) == ["Price", "Ticker"]
    frame = yahoo._from_yfinance_frame(raw, "IBM")
    np.testing.assert_allclose(frame["close"], np.linspace(100, 110, 5))
    np.testing.assert_allclose(frame["open"], np.linspace(100, 110, 5) * 0.99)
    assert frame.index.tolist() == days.tolist()
    both = yf.download(["IBM", "MSFT"], progress=False, threads=False)
    np.testing.assert_allclose(yahoo._from_yfinance_frame(both, "MSFT")["high"],
                               np.linspace(100, 110, 5) * 1.01)
    with pytest.raises(UnknownTickerError, match="'AAPL' among"):
        yahoo._from_yfinance_frame(both, "AAPL")


def test_yahoo_multiindex_from_history_goes_through_from_yahoo(fake_yahoo):
    flat = history_frame(pd.bdate_range("2024-03-01", periods=4))
    multi = flat.copy()
    multi.columns = pd.MultiIndex.from_product([flat.columns, ["IBM"]], names=["Price", "Ticker"])
    fake_yahoo(flat)
    expected = from_yahoo("IBM")
    fake_yahoo(multi)
    pd.testing.assert_frame_equal(from_yahoo("IBM"), expected, check_like=False)


def test_yahoo_empty_frame_is_unknown_ticker(yf, fake_yahoo):
    fake_yahoo(yf.utils.empty_df())  # what history() returns after logging "possibly delisted"
    with pytest.raises(UnknownTickerError, match="no price data for ticker 'XYZ' on Yahoo"):
        from_yahoo("XYZ")


def http_error(status):
    from curl_cffi.requests.exceptions import HTTPError
    return HTTPError(f"HTTP Error {status}", response=types.SimpleNamespace(status_code=status))


@pytest.mark.parametrize("make_error, expected", [
    (lambda e: e.YFRateLimitError(), SourceUnavailableError),
    (lambda e: e.YFTzMissingError("XYZ"), UnknownTickerError),
    (lambda e: e.YFPricesMissingError("XYZ", ""), UnknownTickerError),
    (lambda e: __import__("curl_cffi").requests.exceptions.ConnectionError("down"),
     SourceUnavailableError),
    (lambda e: OSError("network unreachable"), SourceUnavailableError),
    (lambda e: http_error(404), UnknownTickerError),
    (lambda e: http_error(503), SourceUnavailableError),
    (lambda e: KeyError("exchangeTimezoneName"), SourceUnavailableError),
])
def test_yahoo_failures_map_to_our_errors(yf, fake_yahoo, make_error, expected):
    fake_yahoo(make_error(yf.exceptions))
    with pytest.raises(expected):
        from_yahoo("XYZ")


def test_auto_falls_back_to_sample_when_rate_limited(yf, fake_yahoo):
    fake_yahoo(yf.exceptions.YFRateLimitError())
    frame = load_prices("MSFT", "auto")
    assert frame.attrs["source"] == "sample" and frame.attrs["ticker"] == "MSFT"
    pd.testing.assert_frame_equal(frame, from_sample("MSFT"))


def test_auto_falls_back_to_sample_when_yahoo_does_not_know_it(yf, fake_yahoo):
    fake_yahoo(yf.utils.empty_df())
    assert load_prices("FB").attrs["source"] == "sample"


def test_auto_without_sample_reraises(yf, fake_yahoo):
    fake_yahoo(yf.exceptions.YFRateLimitError())
    with pytest.raises(SourceUnavailableError, match="only has AAPL"):
        load_prices("TSLA")
    fake_yahoo(yf.utils.empty_df())
    with pytest.raises(UnknownTickerError):
        load_prices("TSLA")


def test_yahoo_source_does_not_fall_back(yf, fake_yahoo):
    fake_yahoo(yf.exceptions.YFRateLimitError())
    with pytest.raises(SourceUnavailableError, match="rate limit"):
        load_prices("IBM", "yahoo")


def test_price_source_env_is_honoured(yf, fake_yahoo, monkeypatch):
    calls = fake_yahoo(AssertionError("Yahoo must not be asked"))
    monkeypatch.setenv("PRICE_SOURCE", "sample")
    assert load_prices("IBM").attrs["source"] == "sample" and calls == []
    # The environment is read once per process (or command): a new one reads it again.
    monkeypatch.setenv("PRICE_SOURCE", "yahoo")
    assert load_prices("IBM").attrs["source"] == "sample"
    settings.reset()
    fake_yahoo(history_frame(pd.bdate_range("2024-03-01", periods=3)))
    assert load_prices("IBM").attrs["source"] == "yahoo"
    monkeypatch.setenv("PRICE_SOURCE", "bloomberg")
    settings.reset()
    with pytest.raises(SettingError, match="PRICE_SOURCE='bloomberg'.*auto, yahoo, sample"):
        load_prices("IBM")


def test_import_yfinance_sets_cache_and_loads_curl_cffi_first(yf):
    assert "curl_cffi" in sys.modules
    location = yf.cache._TzDBManager.get_location()
    assert location.endswith("yfinance") and "cache" in location
    assert yf.config.debug.hide_exceptions is False


def test_importing_prices_does_not_import_yfinance():
    code = "import sys, stockPredictor.data.sources; assert 'yfinance' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": ":".join(sys.path)})


# --- synthetic ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", SYNTHETIC_KINDS)
def test_synthetic_is_seeded_positive_and_consistent(kind):
    first, again = synthetic(kind, n=300, seed=7), synthetic(kind, n=300, seed=7)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["close"], synthetic(kind, n=300, seed=8)["close"])
    assert (first.to_numpy() > 0).all() and len(first) == 300
    assert (first["high"] >= first[["open", "close"]].max(axis=1)).all()
    assert (first["low"] <= first[["open", "close"]].min(axis=1)).all()
    assert (first.index.day_of_week < 5).all() and first.index[0] == pd.Timestamp("2010-01-04")
    assert first.attrs["source"] == "synthetic" and first.attrs["calendar"] == "equity"


def test_synthetic_drift_shows_in_the_trend():
    up = synthetic(n=2000, drift=0.002, volatility=0.01, seed=3)["close"]
    down = synthetic(n=2000, drift=-0.002, volatility=0.01, seed=3)["close"]
    assert up.iloc[-1] > 10 * up.iloc[0] and down.iloc[-1] < up.iloc[0] / 10


def test_synthetic_rejects_unknown_kind():
    with pytest.raises(DataError, match="'square'"):
        synthetic("square")


# --- tickers from upload file names ------------------------------------------------------------

def five_days_csv():
    """A Yahoo export of five ascending days, as a person downloads it."""
    return daily_csv(rows=[f"2013-01-0{day},10,11,9,10,10,100" for day in (2, 3, 4, 7, 8)])


@pytest.mark.parametrize("file_name, expected", [
    ("msft_prices_2013_2017.csv", "MSFT"),
    ("AAPL.csv", "AAPL"),
    ("ibm-daily.csv", "IBM"),
    ("BTC-USD.csv", "BTC-USD"),
    ("^GSPC.csv", "^GSPC"),
    ("7203.T.csv", "7203.T"),
    ("BRK-B_prices.csv", "BRK-B"),
    ("Download Data - STOCK_US_XNAS_AAPL.csv", "AAPL"),
    ("ibm daily.csv.gz", "IBM"),
    ("aapl.us.txt", "AAPL.US"),      # Kaggle's Stooq files keep their name, as before
    # Nasdaq's export: no word is a ticker, so the stem stands, cut to 15 characters without '_'
    ("HistoricalData_1700000000.csv", "HISTORICALDATA1"),
    ("prices.csv", "PRICES"),        # a common word, but it is the whole stem
    ("csv.csv", "UPLOAD"),           # never the word CSV
    ("%%%.csv", "UPLOAD"),           # nothing of the stem fits a ticker
])
def test_ticker_from_file_name(file_name, expected):
    assert ticker_from_name(file_name, "Yahoo") == expected
    assert check_ticker(expected) == expected


def test_bitstamp_name_without_a_ticker_is_btc_usd():
    from stockPredictor.data.csv import BITSTAMP

    name = "bitstampUSD_1-min_data_2012-01-01_to_2021-03-31.csv"
    assert ticker_from_name(name, BITSTAMP) == "BTC-USD"
    assert ticker_from_name("eth-usd.csv", BITSTAMP) == "ETH-USD"
    assert ticker_from_name(name, "Yahoo") == "BITSTAMPUSD1-MI"  # the stem, cut to 15


@pytest.mark.parametrize("file_name, expected", [
    ("msft_prices_2013_2017.csv", "MSFT"),
    ("ibm-daily.csv", "IBM"),
    ("HistoricalData_1700000000.csv", "HISTORICALDATA1"),
    ("prices.csv", "PRICES"),
])
def test_read_csv_titles_the_frame_after_the_file(tmp_path, file_name, expected):
    frame = read_csv(write(tmp_path, file_name, five_days_csv()))
    assert frame.attrs["ticker"] == expected and len(frame) == 5


def test_flask_upload_with_a_long_name_gets_its_ticker():
    from werkzeug.datastructures import FileStorage

    upload = FileStorage(stream=io.BytesIO(five_days_csv().encode()),
                         filename="Download Data - STOCK_US_XNAS_AAPL.csv")
    assert read_csv(upload).attrs["ticker"] == "AAPL"

"""Many tickers' prices at once (issue 22): the stored frames a watchlist page reads, and the
batched refresh through the real yf.download over a fake Ticker, with a rate limit in the middle
(back-off with jitter, the limited tickers alone asked again, one download per attempt)."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, select

from stockPredictor.data import yahoo_batch
from stockPredictor.data.sources import PriceCache
from stockPredictor.errors import DataError, UnknownTickerError
from stockPredictor.store import database_url, engine_for, upgrade
from stockPredictor.store.models import FetchState, Price
from stockPredictor.store.price_batch import (NotStoredError, due, refresh_many,
                                              stored_frames)
from stockPredictor.store.price_bounds import SOURCE_ROW
from stockPredictor.store.prices import PriceStore
from tests.fakes import download_frame, fake_tickers, history_frame

TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE"]
LIMITED = {"DDD", "EEE"}
FIRST = pd.Timestamp("2024-03-01")  # the first Yahoo answer ends the day before
BACKOFF = dt.timedelta(seconds=90)


def _close(ticker: str, days: pd.DatetimeIndex) -> np.ndarray:
    # A close that depends on the day alone, so every answer agrees on the days they share.
    offset = 10.0 * TICKERS.index(ticker) if ticker in TICKERS else 0.0
    return 100.0 + offset + np.asarray((days - pd.Timestamp("2023-01-01")).days, float) / 10


def _answer(ticker: str, until: pd.Timestamp) -> pd.DataFrame:
    days = pd.bdate_range("2023-01-02", until - pd.Timedelta(days=1))
    return history_frame(days, close=_close(ticker, days))


@pytest.fixture
def world(tmp_path, monkeypatch, yf):
    """A SQLite price store with a movable clock, its PriceCache, and a way to fake Yahoo."""
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    url = database_url("", tmp_path / "instance")
    upgrade(url)
    engine = engine_for(url)
    clock = {"now": dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)}
    whole = []  # tickers the store asked Yahoo for whole, outside the batch

    def single(ticker, start=None, **kwargs):
        whole.append(ticker)
        return yahoo_batch.download_many([ticker], None, deadline=5)[0][ticker]

    store = PriceStore(engine, single, clock=lambda: clock["now"], source_backoff=BACKOFF,
                       recheck=dt.timedelta(minutes=15), max_tickers=50)
    cache = PriceCache("yahoo", store=store, deadline=5.0)
    undo = []

    def fake(answers):
        ticker_class, off = fake_tickers(yf, answers)
        undo.append(off)
        return ticker_class

    yield dict(engine=engine, clock=clock, cache=cache, fake=fake, whole=whole, yf=yf)
    for off in undo:
        off()
    engine.dispose()


def _stored(engine, ticker):
    with engine.connect() as connection:
        return [row.day for row in connection.execute(
            select(Price.day).where(Price.ticker == ticker).order_by(Price.day))]


def _sleeps():
    slept = []
    return slept, slept.append


def test_the_real_download_shapes_several_tickers_as_spec22_says(yf):
    from yfinance.exceptions import YFRateLimitError

    days = pd.bdate_range("2024-01-01", periods=4)
    tokyo = pd.bdate_range("2024-01-03", periods=4)
    raw = download_frame(yf, {"MSFT": history_frame(days), "7203.T": history_frame(
        tokyo, tz="Asia/Tokyo"), "SLOW": YFRateLimitError()})
    assert raw.columns.names == ["Price", "Ticker"]
    assert raw.index.name == "Date" and raw.index.tz is None
    assert list(raw.index) == list(days.union(tokyo))  # the union of the tickers' days
    assert list(raw.columns.get_level_values(0)) == sorted(raw.columns.get_level_values(0))
    # A failed ticker is all NaN, and the only one with an Adj Close (yfinance's empty frame).
    assert raw.xs("SLOW", axis=1, level="Ticker").isna().all().all()
    assert {p for p, t in raw.columns if p == "Adj Close"} == {"Adj Close"}
    assert [t for p, t in raw.columns if p == "Adj Close"] == ["SLOW"]


def test_download_many_splits_frames_and_says_why_each_failure(world):
    from yfinance.exceptions import YFRateLimitError, YFTzMissingError

    answers = {"AAA": _answer("AAA", FIRST), "ZZZ": YFTzMissingError("ZZZ"),
               "EEE": YFRateLimitError()}
    ticker_class = world["fake"](lambda ticker, call: answers[ticker])
    frames, failures = yahoo_batch.download_many(["aaa", "ZZZ", "EEE"], None, deadline=5)
    assert ticker_class.call == 1  # one download for the three
    assert list(frames) == ["AAA"] and frames["AAA"].attrs["source"] == "yahoo"
    expected = _answer("AAA", FIRST)
    assert list(frames["AAA"].index) == list(expected.index.tz_localize(None))
    np.testing.assert_array_equal(frames["AAA"]["close"], expected["Close"])
    assert failures == {"ZZZ": "no price data for ticker 'ZZZ' on Yahoo (it may be delisted "
                               "or misspelt)", "EEE": "Yahoo Finance is rate limiting requests"}


def test_a_rate_limit_in_the_middle_retries_the_limited_tickers_alone(world):
    from yfinance.exceptions import YFRateLimitError

    later = FIRST + pd.Timedelta(days=6)

    def answers(ticker, call):
        if call == 1:
            return _answer(ticker, FIRST)
        if call == 2 and ticker in LIMITED:
            return YFRateLimitError()
        return _answer(ticker, later)

    ticker_class = world["fake"](answers)
    slept, sleep = _sleeps()
    first = refresh_many(world["cache"], TICKERS, sleep=sleep, rng=random.Random(3))
    assert first == dict.fromkeys(TICKERS) and not slept
    assert ticker_class.calls[0]["period"] == "max"  # nothing stored: whole histories
    # Six days on, past the recheck: the second download rate-limits two of the five.
    world["clock"]["now"] += dt.timedelta(days=6)
    second = refresh_many(world["cache"], TICKERS, sleep=sleep, rng=random.Random(3))
    assert second == dict.fromkeys(TICKERS)
    assert ticker_class.call == 3  # one download per attempt
    asked = [{c["ticker"] for c in ticker_class.calls if c["call"] == n} for n in (1, 2, 3)]
    assert asked == [set(TICKERS), set(TICKERS), LIMITED]
    # The stored tickers were asked from a week before their last stored day, not whole.
    starts = {c["start"] for c in ticker_class.calls if c["call"] > 1}
    assert starts == {dt.date(2024, 2, 29) - dt.timedelta(days=7)}
    assert len(slept) == 1 and 2.0 * 0.5 <= slept[0] <= 2.0 * 1.5
    for ticker in TICKERS:  # all five end stored to the new last day, nothing refetched whole
        assert _stored(world["engine"], ticker)[-1] == dt.date(2024, 3, 6)
    assert not world["whole"]
    frames = stored_frames(world["cache"], TICKERS)
    assert not due(frames)
    assert all(not f.attrs["stale"] and not f.attrs["refresh_due"] for f in frames.values())


def test_a_rate_limit_that_lasts_backs_off_the_source_and_keeps_stale_rows(world):
    from yfinance.exceptions import YFRateLimitError

    def answers(ticker, call):
        if call > 1 and ticker in LIMITED:
            return YFRateLimitError()
        return _answer(ticker, FIRST + pd.Timedelta(days=6 if call > 1 else 0))

    ticker_class = world["fake"](answers)
    refresh_many(world["cache"], TICKERS, sleep=lambda s: None)
    world["clock"]["now"] += dt.timedelta(days=6)
    slept, sleep = _sleeps()
    result = refresh_many(world["cache"], TICKERS, sleep=sleep, rng=random.Random(5))
    assert ticker_class.call == 1 + 4  # the first refresh, then four attempts
    assert [{c["ticker"] for c in ticker_class.calls if c["call"] == n} for n in (3, 4, 5)] \
        == [LIMITED] * 3
    assert len(slept) == 3
    for attempt, seconds in enumerate(slept):  # 2, 4, 8 s, each jittered by ±50 %
        assert 0.5 * 2 * 2 ** attempt <= seconds <= 1.5 * 2 * 2 ** attempt
    assert {t for t, why in result.items() if why is None} == set(TICKERS) - LIMITED
    for ticker in LIMITED:
        assert "rate limiting" in result[ticker]
        assert _stored(world["engine"], ticker)[-1] == dt.date(2024, 2, 29)  # kept, stale
    with world["engine"].connect() as connection:
        source = connection.execute(select(FetchState).where(
            FetchState.ticker == SOURCE_ROW)).one()
    retry = source.retry_after.replace(tzinfo=dt.timezone.utc)
    assert retry == world["clock"]["now"] + BACKOFF  # YAHOO_BACKOFF for every worker
    frames = stored_frames(world["cache"], TICKERS)
    assert sorted(due(frames)) == sorted(LIMITED)
    assert all(frames[t].attrs["stale"] for t in LIMITED)
    # Backed off: a refresh now asks Yahoo nothing and says when it will.
    again = refresh_many(world["cache"], sorted(LIMITED), sleep=sleep)
    assert ticker_class.call == 5
    assert all("rate limiting" in why and " s" in why for why in again.values())


def test_a_re_adjusted_history_is_fetched_whole_as_the_store_does_one_at_a_time(world):
    def answers(ticker, call):
        frame = _answer(ticker, FIRST + pd.Timedelta(days=6 if call > 1 else 0))
        if call > 1 and ticker == "BBB":  # a split: every earlier close rescaled
            frame[["Open", "High", "Low", "Close"]] /= 2
        return frame

    world["fake"](answers)
    refresh_many(world["cache"], ["AAA", "BBB"], sleep=lambda s: None)
    world["clock"]["now"] += dt.timedelta(days=6)
    assert refresh_many(world["cache"], ["AAA", "BBB"], sleep=lambda s: None) == \
        {"AAA": None, "BBB": None}
    assert world["whole"] == ["BBB"]
    frames = stored_frames(world["cache"], ["AAA", "BBB"])
    halved = _answer("BBB", FIRST + pd.Timedelta(days=6))["Close"].to_numpy() / 2
    np.testing.assert_allclose(frames["BBB"]["close"].to_numpy(), halved, rtol=1e-12)


def test_stored_frames_reads_the_store_in_two_queries_and_never_yahoo(world):
    from yfinance.exceptions import YFTzMissingError

    world["fake"](lambda t, call: YFTzMissingError(t) if t == "ZZZ" else _answer(t, FIRST))
    refresh_many(world["cache"], ["AAA", "BBB", "ZZZ"], sleep=lambda s: None)
    statements = []
    event.listen(world["engine"], "before_cursor_execute",
                 lambda *args: statements.append(args[2].split()[0]))
    frames = stored_frames(world["cache"], ["BBB", "AAA", "NEW", "ZZZ", "bad ticker!"])
    assert statements.count("SELECT") == 2  # the fetch states, then every ticker's rows
    assert set(statements) <= {"SELECT", "BEGIN"}  # and nothing written
    assert list(frames) == ["bad ticker!", "BBB", "AAA", "NEW", "ZZZ"]
    assert isinstance(frames["bad ticker!"], DataError)
    assert isinstance(frames["NEW"], NotStoredError)
    assert isinstance(frames["ZZZ"], UnknownTickerError)
    for ticker in ("AAA", "BBB"):
        frame = frames[ticker]
        assert frame.attrs["ticker"] == ticker and frame.attrs["source"] == "yahoo"
        assert frame.attrs["fetched_at"] == "2024-03-01T12:00:00+00:00"
        assert frame.attrs["stale"] is False and frame.attrs["refresh_due"] is False
        np.testing.assert_array_equal(frame["close"], _answer(ticker, FIRST)["Close"])
    assert due(frames) == ["NEW"]
    world["clock"]["now"] += dt.timedelta(minutes=16)  # past the recheck: due, not stale
    later = stored_frames(world["cache"], ["AAA"])
    assert later["AAA"].attrs["refresh_due"] and not later["AAA"].attrs["stale"]


def test_the_sample_source_reads_the_bundled_frames(world):
    frames = stored_frames(PriceCache("sample"), ["IBM", "NOPE"])
    assert frames["IBM"].attrs["source"] == "sample" and len(frames["IBM"]) > 1000
    assert isinstance(frames["NOPE"], UnknownTickerError)
    assert due(frames) == []


def test_a_second_read_of_an_unchanged_list_reads_no_price_rows(world):
    world["fake"](lambda t, call: _answer(t, FIRST))
    refresh_many(world["cache"], ["AAA", "BBB"], sleep=lambda s: None)
    world["cache"].store.frames.clear()
    statements = []
    event.listen(world["engine"], "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    first = stored_frames(world["cache"], ["AAA", "BBB"])
    assert sum("FROM prices" in s for s in statements) == 1
    statements.clear()
    again = stored_frames(world["cache"], ["AAA", "BBB"])
    selects = [s for s in statements if not s.startswith("BEGIN")]
    assert len(selects) == 1 and "FROM fetch_state" in selects[0]  # the fetch states alone
    assert all(s.split()[0] in ("BEGIN", "SELECT") for s in statements)  # nothing written
    for ticker in ("AAA", "BBB"):
        np.testing.assert_array_equal(again[ticker]["close"], first[ticker]["close"])
    # BBB's rows change (a later refresh adds days): it alone is read again.
    world["clock"]["now"] += dt.timedelta(days=7)
    world["fake"](lambda t, call: _answer(t, FIRST + pd.Timedelta(days=7)))
    refresh_many(world["cache"], ["BBB"], sleep=lambda s: None)
    statements.clear()
    later = stored_frames(world["cache"], ["AAA", "BBB"])
    reads = [s for s in statements if "FROM prices" in s]
    assert len(reads) == 1 and reads[0].count("?") == 2  # the source and one ticker: BBB
    np.testing.assert_array_equal(later["BBB"]["close"],
                                  _answer("BBB", FIRST + pd.Timedelta(days=7))["Close"])
    assert len(later["AAA"]) == len(first["AAA"])


def test_stored_frames_marks_what_it_reads_once_a_day(world):
    world["fake"](lambda t, call: _answer(t, FIRST))
    refresh_many(world["cache"], ["AAA"], sleep=lambda s: None)

    def read_on():
        with world["engine"].connect() as connection:
            return connection.execute(select(FetchState.read_on).where(
                FetchState.ticker == "AAA")).scalar_one()

    assert read_on() == dt.date(2024, 3, 1)  # the fetch itself counts as a read
    world["clock"]["now"] += dt.timedelta(days=2)
    statements = []
    event.listen(world["engine"], "before_cursor_execute",
                 lambda *args: statements.append(args[2].split()[0]))
    stored_frames(world["cache"], ["AAA"])
    assert read_on() == dt.date(2024, 3, 3) and statements.count("UPDATE") == 1
    statements.clear()
    stored_frames(world["cache"], ["AAA"])  # the same day again: a poll writes nothing
    assert "UPDATE" not in statements

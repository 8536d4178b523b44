"""The shared price store, on SQLite and a real PostgreSQL: incremental fetches, one fetch per
ticker across workers, a shared back-off with stale prices, and a refetch after a split."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from stockPredictor.data.frame import COLUMNS
from stockPredictor.data.yahoo import from_yahoo
from stockPredictor.errors import SourceUnavailableError, UnknownTickerError
from stockPredictor.store import engine_for
from stockPredictor.store.models import FetchState
from stockPredictor.store.prices import LEASE, OVERLAP, PriceStore
from tests.fakes import history_frame

START = dt.datetime(2024, 4, 1, 21, 0, tzinfo=dt.timezone.utc)
RECHECK, BACKOFF = dt.timedelta(minutes=15), dt.timedelta(minutes=5)


class Clock:
    """A fake clock that moves only when told."""

    def __init__(self):
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


class Yahoo:
    """Yahoo's daily history behind the real from_yahoo, answering only from ``start``."""

    def __init__(self, install, days: int = 60):
        # error: what Yahoo answers instead of prices (an exception, or an empty frame).
        self.install, self.starts, self.error, self.delay = install, [], None, 0.0
        self.closes = 100.0 + 0.5 * np.arange(days)
        self.lock = threading.Lock()

    def grow(self, days: int) -> None:
        """Add ``days`` trading days after the last."""
        self.closes = np.concatenate([self.closes, self.closes[-1] + 0.5 * np.arange(1, days + 1)])

    def days(self) -> pd.DatetimeIndex:
        return pd.bdate_range("2024-01-02", periods=len(self.closes))

    def fetch(self, ticker: str, start: dt.date | None = None) -> pd.DataFrame:
        with self.lock:
            self.starts.append(start)
            time.sleep(self.delay)  # a slow Yahoo, so a second worker arrives mid-fetch
            if self.error is not None:
                self.install(self.error)
            else:
                full = history_frame(self.days(), close=self.closes)
                keep = full.index.tz_localize(None) >= pd.Timestamp(start or "1900-01-01")
                self.install(full[keep])
            return from_yahoo(ticker, start)


@pytest.fixture
def yahoo(fake_yahoo):
    """A fake Yahoo with 60 trading days of IBM from 2024-01-02."""
    return Yahoo(fake_yahoo)


_ENGINES = []


@pytest.fixture(autouse=True)
def _dispose_engines():
    """Every engine a test's workers made is closed at its end: no connection left open."""
    yield
    while _ENGINES:
        _ENGINES.pop().dispose()


def _store(url, yahoo, clock, **kwargs):
    """A worker's store on ``url``, asking the fake Yahoo."""
    _ENGINES.append(engine_for(url))
    return PriceStore(_ENGINES[-1], yahoo.fetch, recheck=RECHECK, backoff=BACKOFF,
                      clock=clock, **kwargs)


def test_first_load_fetches_the_whole_history_then_recheck_spares_yahoo(url, yahoo):
    clock = Clock()
    store = _store(url, yahoo, clock)
    frame = store.load("ibm")
    assert yahoo.starts == [None]
    assert len(frame) == 60 and tuple(frame.columns) == COLUMNS
    assert frame.index.tz is None and (frame.dtypes == "float64").all()
    assert frame.attrs["ticker"] == "IBM" and frame.attrs["source"] == "yahoo"
    assert frame.attrs["stale"] is False
    assert frame.attrs["fetched_at"] == START.isoformat(timespec="seconds")
    np.testing.assert_allclose(frame["close"], yahoo.closes)

    clock.advance(RECHECK - dt.timedelta(seconds=1))
    again = _store(url, yahoo, clock).load("IBM")  # another worker, within recheck
    assert yahoo.starts == [None]
    pd.testing.assert_frame_equal(again, frame)


def test_after_recheck_only_the_new_days_are_asked_for(url, yahoo):
    clock = Clock()
    store = _store(url, yahoo, clock)
    last = store.load("IBM").index[-1].date()
    yahoo.grow(3)
    clock.advance(RECHECK)
    frame = store.load("IBM")
    # The days after the last stored one, plus a short overlap that would show a re-adjustment.
    assert yahoo.starts == [None, last - OVERLAP]
    assert len(frame) == 63
    np.testing.assert_allclose(frame["close"], yahoo.closes)
    assert frame.attrs["fetched_at"] == clock.now.isoformat(timespec="seconds")


def test_a_split_in_the_new_data_refetches_the_whole_series(url, yahoo):
    clock = Clock()
    store = _store(url, yahoo, clock)
    last = store.load("IBM").index[-1].date()
    yahoo.closes = yahoo.closes / 2  # a 2:1 split: Yahoo re-adjusts every earlier close
    yahoo.grow(2)
    clock.advance(RECHECK)
    frame = store.load("IBM")
    assert yahoo.starts == [None, last - OVERLAP, None]
    assert len(frame) == 62
    np.testing.assert_allclose(frame["close"], yahoo.closes)  # no stitched jump


def test_a_first_fetch_that_died_holds_the_ticker_only_for_the_lease(url, yahoo):
    clock = Clock()
    dead = _store(url, yahoo, clock, wait=0.0)
    assert dead._claim("IBM", clock.now)  # claimed, then the worker was killed mid-fetch
    with pytest.raises(SourceUnavailableError, match="being fetched by another worker"):
        _store(url, yahoo, clock, wait=0.0).load("IBM")
    assert yahoo.starts == []
    clock.advance(LEASE)
    frame = _store(url, yahoo, clock, wait=0.0).load("IBM")
    assert yahoo.starts == [None] and len(frame) == 60


def test_todays_unfinished_session_is_never_stored(url, yahoo):
    clock = Clock()  # 2024-04-01, 21:00 UTC: Yahoo's last row is today's, at the latest price
    yahoo.grow(5)
    assert yahoo.days()[-1] == pd.Timestamp(clock.now.date())
    store = _store(url, yahoo, clock)
    frame = store.load("IBM")
    assert frame.index[-1] == pd.Timestamp("2024-03-29") and len(frame) == 64
    # Later that session the price moves: still nothing of today stored, and no refetch of
    # the whole series as though the history had been re-adjusted.
    yahoo.closes[-1] += 3.0
    clock.advance(RECHECK)
    assert store.load("IBM").index[-1] == pd.Timestamp("2024-03-29")
    assert yahoo.starts == [None, dt.date(2024, 3, 22)]
    # The next UTC day the session has closed: its final close is stored.
    clock.advance(dt.timedelta(hours=4))
    frame = store.load("IBM")
    assert frame.index[-1] == pd.Timestamp("2024-04-01")
    assert frame["close"].iloc[-1] == pytest.approx(yahoo.closes[-1])


def test_new_closes_score_the_ledger_even_after_a_split(url, yahoo, tiny_artifact):
    from sqlalchemy.orm import Session

    from stockPredictor.forecast import report
    from stockPredictor.store import ledger

    clock = Clock()
    store = _store(url, yahoo, clock)
    frame = store.load("IBM")
    answer = report.build(frame, tiny_artifact, horizon=4)
    assert answer.kind == "live"  # made on the latest fresh close
    ledger.record(store.engine, answer)
    made = answer.forecast

    def actuals():
        with Session(store.engine) as session:
            [listed] = ledger.listing(session)["forecasts"]
        return [row["actual"] for row in listed["forecast"]]

    def closes_on(days, scale=1.0):
        close = dict(zip(yahoo.days(), yahoo.closes * scale))
        return [close[day] for day in days]

    assert actuals() == [None] * 4
    yahoo.grow(2)
    clock.advance(RECHECK)
    store.load("IBM")
    assert actuals() == pytest.approx([*closes_on(made.dates[:2]), None, None])
    # A 2:1 split, then more days (the exchange's Good Friday among them): the series is
    # refetched, and the last two days are scored in the units the forecast was made in
    # (twice Yahoo's new closes), not stitched.
    yahoo.closes = yahoo.closes / 2
    yahoo.grow(3)
    clock.advance(dt.timedelta(days=1))  # the last of them, 2024-04-01, has closed
    store.load("IBM")
    assert yahoo.starts[-1] is None  # refetched whole
    assert actuals() == pytest.approx(closes_on(made.dates, scale=2.0))


def test_a_rate_limit_backs_off_every_worker_and_serves_stale_prices(url, yahoo, yf):
    clock = Clock()
    first, second = _store(url, yahoo, clock), _store(url, yahoo, clock)
    stored = first.load("IBM")
    clock.advance(RECHECK + dt.timedelta(minutes=1))
    yahoo.error = yf.exceptions.YFRateLimitError()
    stale = first.load("IBM")
    assert yahoo.starts == [None, stored.index[-1].date() - OVERLAP]
    assert stale.attrs["stale"] is True
    assert "rate limiting" in stale.attrs["notice"] and "16 minutes" in stale.attrs["notice"]
    assert "2024-03-25" in stale.attrs["notice"]  # the last stored day
    pd.testing.assert_frame_equal(stale, stored, check_like=True)

    clock.advance(BACKOFF - dt.timedelta(seconds=1))
    also_stale = second.load("IBM")  # the other worker does not ask Yahoo during the back-off
    assert len(yahoo.starts) == 2
    assert also_stale.attrs["stale"] is True and "20 minutes" in also_stale.attrs["notice"]

    clock.advance(dt.timedelta(seconds=1))
    yahoo.error = None
    fresh = second.load("IBM")
    assert len(yahoo.starts) == 3 and fresh.attrs["stale"] is False and "notice" not in fresh.attrs


def test_a_rate_limit_with_nothing_stored_is_source_unavailable(url, yahoo, yf):
    clock = Clock()
    yahoo.error = yf.exceptions.YFRateLimitError()
    with pytest.raises(SourceUnavailableError, match="rate limiting"):
        _store(url, yahoo, clock).load("IBM")
    with pytest.raises(SourceUnavailableError, match="rate limiting"):
        _store(url, yahoo, clock).load("IBM")  # backed off: Yahoo is not asked again
    assert yahoo.starts == [None]


def test_two_workers_asking_at_once_cause_one_fetch(url, yahoo):
    clock = Clock()
    yahoo.delay = 0.5
    workers = [_store(url, yahoo, clock, wait=20.0) for _ in range(2)]
    barrier, frames, errors = threading.Barrier(2), [None, None], []

    def ask(i):
        try:
            barrier.wait(timeout=10)
            frames[i] = workers[i].load("IBM")
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads) and errors == []
    assert yahoo.starts == [None]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert len(frames[0]) == 60


def test_an_unknown_ticker_leaves_no_row_and_is_not_asked_again_within_recheck(url, yahoo, yf):
    clock = Clock()
    yahoo.error = yf.utils.empty_df()  # what history() returns for a ticker Yahoo lacks
    worker, other = _store(url, yahoo, clock), _store(url, yahoo, clock)
    for _ in range(3):
        with pytest.raises(UnknownTickerError, match="no price data for ticker 'NOPE'"):
            worker.load("NOPE")  # remembered by the worker: told at once, no fetch
    assert yahoo.starts == [None]
    assert fetch_states(url) == {}  # and nothing in the database
    with pytest.raises(UnknownTickerError):
        other.load("NOPE")  # another worker remembers its own: one fetch of its own at most
    assert yahoo.starts == [None, None] and fetch_states(url) == {}
    clock.advance(RECHECK)
    with pytest.raises(UnknownTickerError):
        worker.load("NOPE")  # forgotten after recheck: Yahoo may have listed it since
    assert len(yahoo.starts) == 3 and fetch_states(url) == {}


def test_a_worker_waiting_on_a_fetch_of_an_unknown_ticker_is_told_so(url, yahoo, yf):
    clock = Clock()
    yahoo.error, yahoo.delay = yf.utils.empty_df(), 0.5
    fetcher, waiter = _store(url, yahoo, clock), _store(url, yahoo, clock, wait=20.0)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_raised(fetcher.load, "NOPE")))
    thread.start()
    for _ in range(200):  # until the fetcher holds the claim (bounded: 2 s)
        if "NOPE" in fetch_states(url):
            break
        time.sleep(0.01)
    started = time.monotonic()
    assert isinstance(_raised(waiter.load, "NOPE"), UnknownTickerError)
    assert time.monotonic() - started < 5.0  # told when the claim went, not after `wait`
    thread.join(timeout=10)
    assert isinstance(errors[0], UnknownTickerError) and yahoo.starts == [None]
    assert fetch_states(url) == {}


def _raised(call, *args) -> BaseException | None:
    try:
        call(*args)
    except Exception as exc:  # returned for the test to check
        return exc
    return None


def fetch_states(url) -> dict:
    """Every fetch_state row by ticker."""
    engine = engine_for(url)
    with engine.connect() as connection:
        rows = {row.ticker: row for row in connection.execute(select(FetchState))}
    engine.dispose()
    return rows


def test_the_last_day_is_recorded(url, yahoo):
    _store(url, yahoo, Clock()).load("IBM")
    engine = engine_for(url)
    with engine.connect() as connection:
        state = connection.execute(select(FetchState)).one()
    engine.dispose()
    assert state.last_day == dt.date(2024, 3, 25) and state.failure is None


# --- deadlines and bounds (issue 20) ------------------------------------------------------------

def _timeout():
    from curl_cffi.requests.exceptions import Timeout
    return Timeout("curl: (28) Operation timed out after 4001 milliseconds")


def test_a_timeout_backs_off_the_ticker_and_yahoo_itself_for_every_worker(url, yahoo):
    clock = Clock()
    source_backoff = dt.timedelta(seconds=60)
    first, second = (_store(url, yahoo, clock, source_backoff=source_backoff) for _ in range(2))
    stored = first.load("IBM")
    clock.advance(RECHECK + dt.timedelta(minutes=1))
    yahoo.error = _timeout()
    with pytest.raises(SourceUnavailableError, match="did not answer within"):
        first.load("MSFT")
    assert len(yahoo.starts) == 2

    # Within the source's back-off no worker asks Yahoo, for any ticker.
    stale = second.load("IBM")  # due for a recheck, but Yahoo is backed off: stored, stale
    assert stale.attrs["stale"] is True and "did not answer" in stale.attrs["notice"]
    pd.testing.assert_frame_equal(stale, stored, check_like=True)
    with pytest.raises(SourceUnavailableError,
                       match=r"'NEW' are stored, and Yahoo will be asked again in 60 s"):
        second.load("NEW")
    assert len(yahoo.starts) == 2 and "NEW" not in fetch_states(url)

    clock.advance(source_backoff)
    yahoo.error = None
    assert second.load("IBM").attrs["stale"] is False  # Yahoo is asked again
    assert len(yahoo.starts) == 3
    with pytest.raises(SourceUnavailableError, match="did not answer"):
        second.load("MSFT")  # the ticker's own back-off, as after a rate limit, still holds
    assert len(yahoo.starts) == 3


def test_failed_first_fetches_leave_only_a_bounded_number_of_rows(url, yahoo):
    clock = Clock()
    store = _store(url, yahoo, clock, source_backoff=dt.timedelta(minutes=1))
    yahoo.error = _timeout()
    most = 0
    for i in range(20):  # a new random ticker every two minutes while Yahoo hangs
        clock.advance(dt.timedelta(minutes=2))
        with pytest.raises(SourceUnavailableError):
            store.load(f"RND{i}")
        most = max(most, len(fetch_states(url)))
    # Rows live only while their back-off (5 minutes) does: 3 tickers, plus Yahoo's own row.
    assert len(yahoo.starts) == 20 and most <= 4


def test_the_store_keeps_at_most_max_tickers_dropping_the_least_recently_read(url, yahoo):
    from sqlalchemy import event, func

    from stockPredictor.store.models import Price

    clock = Clock()  # 21:00 UTC
    _ENGINES.append(engine_for(url))
    store = PriceStore(_ENGINES[-1], yahoo.fetch, recheck=dt.timedelta(hours=6), clock=clock,
                       max_tickers=3)
    updates = []

    def count_read_marks(connection, cursor, statement, *rest):
        if statement.startswith("UPDATE fetch_state SET read_on"):
            updates.append(statement)

    event.listen(store.engine, "before_cursor_execute", count_read_marks)
    for ticker in ("AAA", "BBB", "CCC"):
        store.load(ticker)
    assert updates == []  # a fetch records the read in the row it writes anyway
    clock.advance(dt.timedelta(hours=4))  # the next day, within recheck: reads, no fetches
    for _ in range(3):
        store.load("AAA")  # the day is recorded once, however often it is read
    store.load("CCC")
    assert len(updates) == 2 and len(yahoo.starts) == 3
    store.load("DDD")  # a fourth: BBB, read longest ago, goes
    assert set(fetch_states(url)) == {"AAA", "CCC", "DDD"}

    def stored_tickers():
        with store.engine.connect() as connection:
            return dict(connection.execute(select(Price.ticker, func.count())
                                           .group_by(Price.ticker)).all())

    assert set(stored_tickers()) == {"AAA", "CCC", "DDD"}
    starts = len(yahoo.starts)
    frame = store.load("BBB")  # read again: fetched whole, and another goes in its place
    assert yahoo.starts[starts:] == [None] and len(frame) == 60
    kept = stored_tickers()
    assert len(kept) == 3 and "BBB" in kept and "DDD" in kept
    assert all(count == 60 for count in kept.values())

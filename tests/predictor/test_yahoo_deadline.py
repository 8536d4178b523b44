"""A Yahoo that accepts the connection and never answers, reached through the real yfinance and
curl_cffi code path (a silent loopback listener as the HTTPS proxy): every fetch ends within its
deadline, its thread ends with it, and the price store backs off the ticker and Yahoo itself."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time

import pytest
from sqlalchemy import select

from stockPredictor.data import yahoo
from stockPredictor.data.sources import PriceCache
from stockPredictor.errors import SourceUnavailableError
from stockPredictor.store import engine_for
from stockPredictor.store.models import FetchState
from stockPredictor.store.price_bounds import SOURCE_ROW
from stockPredictor.store.prices import PriceStore
from tests.hanging import hanging_listener

DEADLINE = 1.5
MARGIN = 1.5  # thread start, the first import of a curl handle, a slow shared CI machine
AT_ONCE = 1.0  # well under the deadline: answered without waiting on Yahoo


@pytest.fixture
def hanging(monkeypatch, tmp_path):
    """A silent listener that every Yahoo request goes to; yfinance's caches start empty."""
    yahoo.import_yfinance.cache_clear()
    yahoo.import_yfinance(tmp_path / "cache")  # no cookie or time zone cached: every call made
    with hanging_listener() as listener:
        for name, value in listener.proxy_environment().items():
            monkeypatch.setenv(name, value)
        yield listener
        _wait_for_fetch_threads(DEADLINE + MARGIN)
    yahoo.import_yfinance.cache_clear()


def _fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("yahoo-")]


def _wait_for_fetch_threads(limit: float) -> float:
    """Seconds until no fetch thread runs; fails past ``limit``."""
    started = time.monotonic()
    for _ in range(int(limit / 0.02) + 1):  # bounded in count and in time
        if not _fetch_threads():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"fetch threads still running after {limit} s: {_fetch_threads()}")


def _timed(call) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:  # what it raised is the caller's to check
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_a_hanging_yahoo_is_given_up_on_at_the_deadline_and_its_thread_ends(hanging, tmp_path):
    took, error = _timed(lambda: yahoo.from_yahoo("ZZQA", cache_dir=tmp_path / "cache",
                                                  deadline=DEADLINE))
    assert isinstance(error, SourceUnavailableError)
    assert str(error) == f"Yahoo Finance did not answer within {DEADLINE:g} s"
    assert took < DEADLINE + MARGIN
    assert len(hanging.accepted) >= 1  # the request really went out, and hung
    # curl's own timeouts end at the same deadline: the thread is not left hanging.
    _wait_for_fetch_threads(MARGIN)


def test_with_every_slot_waiting_a_further_fetch_is_refused_at_once(hanging, tmp_path):
    errors = []

    def fetch(ticker):
        try:
            yahoo.from_yahoo(ticker, cache_dir=tmp_path / "cache", deadline=DEADLINE)
        except SourceUnavailableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(f"ZZQ{i}",))
               for i in range(yahoo.FETCH_SLOTS)]
    for thread in threads:
        thread.start()
    for _ in range(100):  # until every slot's fetch is waiting on the listener (<= 1 s)
        if len(_fetch_threads()) >= yahoo.FETCH_SLOTS:
            break
        time.sleep(0.01)
    took, error = _timed(lambda: yahoo.from_yahoo("ZZQX", cache_dir=tmp_path / "cache",
                                                  deadline=DEADLINE))
    for thread in threads:
        thread.join(timeout=DEADLINE + MARGIN)
    assert isinstance(error, yahoo.YahooBusyError) and "still waiting" in str(error)
    assert took < AT_ONCE
    assert len(errors) == yahoo.FETCH_SLOTS
    assert all("did not answer" in str(e) for e in errors)


def test_the_store_backs_off_the_ticker_and_yahoo_so_the_next_calls_return_at_once(
        hanging, tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    from stockPredictor.store import db
    db.upgrade(str(engine.url))
    fetch = functools.partial(yahoo.from_yahoo, cache_dir=tmp_path / "cache", deadline=DEADLINE)
    stores = [PriceStore(engine, fetch, source_backoff=dt.timedelta(seconds=60))
              for _ in range(2)]  # two workers sharing one database
    took, error = _timed(lambda: stores[0].load("ZZQA"))
    assert isinstance(error, SourceUnavailableError) and took < DEADLINE + MARGIN
    assert "did not answer within 1.5 s" in str(error)
    asked = len(hanging.accepted)
    with engine.connect() as connection:
        rows = {r.ticker: r for r in connection.execute(select(FetchState)).all()}
    assert rows["ZZQA"].retry_after is not None  # the ticker, as a rate limit would be
    assert rows[SOURCE_ROW].retry_after is not None  # and Yahoo itself
    assert "did not answer" in rows[SOURCE_ROW].failure

    # The next 100 requests, for that ticker or any other, by either worker: none waits.
    for i in range(100):
        took, error = _timed(lambda: stores[i % 2].load("ZZQA" if i % 3 else f"ZZR{i}"))
        assert isinstance(error, SourceUnavailableError) and took < AT_ONCE
        assert "will be asked again in" in str(error)
    assert len(hanging.accepted) == asked  # Yahoo was not asked again
    with engine.connect() as connection:  # and the other tickers left no row
        assert {r.ticker for r in connection.execute(select(FetchState))} == {"ZZQA", SOURCE_ROW}
    engine.dispose()


def test_without_a_store_the_cache_backs_off_and_the_sample_stays_fast(hanging, tmp_path):
    cache = PriceCache("auto", cache_dir=tmp_path / "cache", retry_after=60.0,
                       deadline=DEADLINE)
    took, error = _timed(lambda: cache.load("ZZQA"))
    assert isinstance(error, SourceUnavailableError) and took < DEADLINE + MARGIN
    took, _ = _timed(lambda: cache.load("ZZQB"))
    assert took < AT_ONCE
    started = time.monotonic()
    frame = cache.load("IBM")  # the bundled sample stands in, without waiting on Yahoo
    assert time.monotonic() - started < AT_ONCE and frame.attrs["source"] == "sample"

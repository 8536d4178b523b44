"""Watchlists in the database, on SQLite and a real PostgreSQL: tokens, the bounds (tickers,
name, lists per client per day, refresh interval), replace, add, delete, claims and the purge."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from stockPredictor.errors import DataError
from stockPredictor.store import watchlists
from stockPredictor.store.models import Watchlist as Row
from stockPredictor.store.watchlists import WatchlistBoundError, WatchlistNotFound

from tests.race import race

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
BOUNDS = {"max_tickers": 5, "max_name": 12, "per_day": 3}


def _make(engine, tickers=("IBM",), client="client-a", now=T0, name="Tech", **bounds):
    return watchlists.create(engine, name, list(tickers), client, now=now,
                             **{**BOUNDS, **bounds})


def _rows(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Row))


def test_a_list_keeps_its_tickers_upper_cased_once_in_order(engine):
    made = _make(engine, ["msft", " ibm", "MSFT", "brk-b", "IBM"])
    assert len(made.token) == 43 and watchlists.TOKEN.fullmatch(made.token)
    assert made.tickers == ("MSFT", "IBM", "BRK-B") and made.name == "Tech"
    again = watchlists.get(engine, made.token)
    assert again.tickers == ("MSFT", "IBM", "BRK-B") and again.created_at == T0
    assert again.created_at.tzinfo is not None and again.updated_at == T0
    assert _make(engine).token != made.token


def test_a_blank_name_becomes_the_default_and_spaces_are_folded(engine):
    assert _make(engine, name="  ").name == "Watchlist"
    assert _make(engine, name=" My\n  tech ").name == "My tech"


@pytest.mark.parametrize("count", [6, 9])
def test_too_many_tickers_is_a_413_naming_the_bound_and_the_count(engine, count):
    with pytest.raises(WatchlistBoundError, match=f"at most 5 tickers; this one has {count}") \
            as caught:
        _make(engine, [f"T{i}" for i in range(count)])
    assert (caught.value.bound, caught.value.limit, caught.value.status) == ("tickers", 5, 413)
    assert _rows(engine) == 0


def test_the_bound_counts_tickers_once(engine):
    assert len(_make(engine, ["A", "B", "C", "D", "E", "a", "b"]).tickers) == 5


def test_a_long_name_is_a_422_naming_the_bound(engine):
    with pytest.raises(WatchlistBoundError, match="at most 12 characters; this one has 13") \
            as caught:
        _make(engine, name="x" * 13)
    assert (caught.value.bound, caught.value.status) == ("name", 422)


def test_a_bad_ticker_is_named(engine):
    with pytest.raises(DataError, match="ticker 'NOT A TICKER' is not valid"):
        _make(engine, ["IBM", "NOT A TICKER"])
    with pytest.raises(DataError, match="expected a list of tickers"):
        watchlists.create(engine, "Tech", "IBM", "client-a", **BOUNDS)
    assert _rows(engine) == 0


def test_a_client_makes_at_most_per_day_lists_in_any_24_hours(engine):
    for minutes in (0, 60, 120):
        _make(engine, now=T0 + dt.timedelta(minutes=minutes))
    with pytest.raises(WatchlistBoundError, match="WATCHLISTS_PER_DAY=3") as caught:
        _make(engine, now=T0 + dt.timedelta(hours=5))
    # The first list ages out of the window 19 hours later.
    assert (caught.value.bound, caught.value.status) == ("per_day", 429)
    assert caught.value.retry_after == 19 * 3600
    _make(engine, client="client-b", now=T0 + dt.timedelta(hours=5))  # others are not counted
    _make(engine, now=T0 + dt.timedelta(hours=24, seconds=1))


def test_deleting_lists_gives_no_room_back_under_the_daily_bound(engine):
    tokens = [_make(engine, now=T0 + dt.timedelta(minutes=i)).token for i in range(3)]
    for token in tokens:
        watchlists.delete(engine, token)
        with pytest.raises(WatchlistNotFound):
            watchlists.get(engine, token)
    with pytest.raises(WatchlistBoundError):
        _make(engine, now=T0 + dt.timedelta(hours=1))
    # A day on, the deleted lists' rows go with the next creation's purge.
    _make(engine, now=T0 + dt.timedelta(days=1, hours=1), keep_days=365)
    assert _rows(engine) == 1


def test_unknown_and_malformed_tokens_are_not_found(engine):
    for token in ("x" * 43, "short", "../../etc/passwd", None):
        with pytest.raises(WatchlistNotFound, match="no watchlist has the token"):
            watchlists.get(engine, token)
    with pytest.raises(WatchlistNotFound):
        watchlists.delete(engine, "y" * 43)


def test_replace_is_bounded_like_create(engine):
    made = _make(engine, ["IBM", "MSFT"])
    later = T0 + dt.timedelta(hours=1)
    replaced = watchlists.replace(engine, made.token, "Banks", ["jpm", "C"], max_tickers=5,
                                  max_name=12, now=later)
    assert (replaced.name, replaced.tickers) == ("Banks", ("JPM", "C"))
    assert replaced.created_at == T0 and replaced.updated_at == later
    with pytest.raises(WatchlistBoundError, match="at most 5 tickers through the API; this "
                                                  "one has 6"):
        watchlists.replace(engine, made.token, "Banks", list("ABCDEF"), max_tickers=5,
                           max_name=12, where=" through the API")
    with pytest.raises(WatchlistBoundError, match="at most 12 characters"):
        watchlists.replace(engine, made.token, "y" * 20, [], max_tickers=5, max_name=12)
    assert watchlists.get(engine, made.token).tickers == ("JPM", "C")


def test_add_ticker_appends_once_and_stops_at_the_bound(engine):
    made = _make(engine, ["IBM"])
    assert watchlists.add_ticker(engine, made.token, "msft", max_tickers=3).tickers == \
        ("IBM", "MSFT")
    assert watchlists.add_ticker(engine, made.token, "IBM", max_tickers=3).tickers == \
        ("IBM", "MSFT")
    watchlists.add_ticker(engine, made.token, "C", max_tickers=3)
    with pytest.raises(WatchlistBoundError, match="at most 3 tickers; this one has 4"):
        watchlists.add_ticker(engine, made.token, "JPM", max_tickers=3)
    with pytest.raises(DataError, match="ticker"):
        watchlists.add_ticker(engine, made.token, "no way", max_tickers=3)


def test_a_claim_is_granted_once_per_interval_and_column(engine):
    token = _make(engine).token
    assert watchlists.claim(engine, token, "refresh", 300, now=T0)
    assert not watchlists.claim(engine, token, "refresh", 300, now=T0 + dt.timedelta(seconds=299))
    assert watchlists.claim(engine, token, "cold", 300, now=T0 + dt.timedelta(seconds=1))
    assert watchlists.claim(engine, token, "refresh", 300, now=T0 + dt.timedelta(seconds=300))
    assert watchlists.get(engine, token).refresh_requested_at == T0 + dt.timedelta(seconds=300)
    with pytest.raises(WatchlistBoundError, match="try again in 240 seconds") as caught:
        watchlists.require_claim(engine, token, "refresh", 300,
                                 now=T0 + dt.timedelta(seconds=360))
    assert (caught.value.bound, caught.value.status, caught.value.retry_after) == \
        ("refresh", 429, 240)
    watchlists.release(engine, token, "refresh")
    watchlists.require_claim(engine, token, "refresh", 300, now=T0 + dt.timedelta(seconds=361))
    with pytest.raises(WatchlistNotFound):
        watchlists.require_claim(engine, "z" * 43, "refresh", 300)


def test_a_claim_holds_while_its_job_runs_and_goes_when_it_ends(engine):
    token = _make(engine).token
    later = [T0 + dt.timedelta(seconds=s) for s in (1, 5, 6, 899, 900)]
    assert watchlists.claim(engine, token, "cold", watchlists.CLAIM_STALE_S, now=T0)
    # Queued or running: every page's poll is refused, however long the job takes...
    assert not watchlists.claim(engine, token, "cold", watchlists.CLAIM_STALE_S, now=later[0])
    watchlists.finish(engine, token, "cold")  # ...until the job ends: the next may go at once
    assert watchlists.get(engine, token).cold_queued_at is None
    assert watchlists.claim(engine, token, "cold", watchlists.CLAIM_STALE_S, now=later[1])
    # A job lost with its worker never gives its claim back: the stale guard takes it again.
    assert not watchlists.claim(engine, token, "cold", 900, now=later[3])
    assert watchlists.claim(engine, token, "cold", 900, now=later[4] + dt.timedelta(seconds=5))
    assert watchlists.get(engine, token).refresh_requested_at is None  # the columns apart
    assert watchlists.claim(engine, token, "refresh", 300, now=later[2])


def test_past_watchlists_max_the_least_recently_read_lists_go(engine):
    tokens = [_make(engine, client=f"client-{i}", now=T0 + dt.timedelta(minutes=i)).token
              for i in range(4)]
    # The oldest list is read (a day later), so the second oldest is the least recently read.
    watchlists.get(engine, tokens[0], touch=True, now=T0 + dt.timedelta(days=1))
    newest = _make(engine, client="client-4", now=T0 + dt.timedelta(days=1, hours=1),
                   max_lists=3)
    kept = {t for t in [*tokens, newest.token] if _exists(engine, t)}
    assert kept == {tokens[0], tokens[3], newest.token}
    # Tombstones do not count: deleting one list leaves room for one more.
    watchlists.delete(engine, tokens[3])
    _make(engine, client="client-5", now=T0 + dt.timedelta(days=1, hours=2), max_lists=3)
    assert _exists(engine, tokens[0]) and _exists(engine, newest.token)


def _exists(engine, token: str) -> bool:
    try:
        watchlists.get(engine, token)
    except WatchlistNotFound:
        return False
    return True


def test_racing_claims_grant_one(url, engine):
    token = _make(engine).token
    granted = []
    race(url, 6, lambda each, _: granted.append(watchlists.claim(each, token, "cold", 60)))
    assert sorted(granted) == [False] * 5 + [True]


def test_racing_creations_never_pass_the_daily_bound(url, engine):
    made, refused, other = [], [], []

    def submit(each, index: int) -> None:
        try:
            made.append(_make(each))
        except WatchlistBoundError:
            refused.append(index)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            other.append(exc)

    race(url, 6, submit)
    assert other == [] and len(made) == 3 and len(refused) == 3


def test_lists_unread_for_keep_days_are_purged_and_reading_keeps_them(engine):
    read, unread = _make(engine).token, _make(engine).token
    watchlists.get(engine, read, touch=True, now=T0 + dt.timedelta(days=20))
    assert watchlists.purge(engine, 30, now=T0 + dt.timedelta(days=29)) == 0
    assert watchlists.purge(engine, 30, now=T0 + dt.timedelta(days=31)) == 1
    with pytest.raises(WatchlistNotFound):
        watchlists.get(engine, unread)
    assert watchlists.get(engine, read).read_at == T0 + dt.timedelta(days=20)
    # A read within a day of the last writes nothing.
    watchlists.get(engine, read, touch=True, now=T0 + dt.timedelta(days=20, hours=5))
    assert watchlists.get(engine, read).read_at == T0 + dt.timedelta(days=20)

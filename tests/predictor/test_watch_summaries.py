"""Watchlist summaries in the database (SQLite and a real PostgreSQL): exact round trips, one
query for a list, an upsert on the key, failures stored and replaced, and the oldest evicted
past the bound."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import event

from stockPredictor.data.synthetic import synthetic
from stockPredictor.forecast import watch
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.model.registry import Registry
from stockPredictor.store import watch_summaries

T0 = dt.datetime(2026, 1, 5, 12, tzinfo=dt.timezone.utc)
# Floats JSON must keep to the last bit: sums that do not print short, the extremes, NaN.
AWKWARD = np.array([0.1 + 0.2, 5e-324, 1.7976931348623157e308, np.nan, -0.0, 1 / 3])


def _summary(ticker: str, prices: str = "f" * 64, widths=None) -> watch.Summary:
    record = {"available": True, "origins": 250, "steps": 30, "level": 0.8,
              "mae_vs_naive": [1.0, None, 0.9876], "start": "2020-01-02"}
    return watch.Summary(key=("d" * 32, ticker, prices), model_name="general",
                         as_of="2026-01-02", steps=30,
                         widths={0.5: AWKWARD, 0.8: AWKWARD[::-1]} if widths is None else widths,
                         record=record)


def _same(got: watch.Summary, want: watch.Summary) -> None:
    assert (got.key, got.model_name, got.as_of, got.steps, got.record) == (
        want.key, want.model_name, want.as_of, want.steps, want.record)
    assert list(got.widths) == list(want.widths)
    for level, width in want.widths.items():
        assert got.widths[level].dtype == np.float64
        # Bit for bit (NaN where NaN, -0.0 kept): what the row's band is made of.
        assert got.widths[level].tobytes() == np.asarray(width, np.float64).tobytes()


@pytest.fixture(scope="module")
def real_summary() -> watch.Summary:
    """A summary of a synthetic ticker by the general model, as the worker makes it."""
    frame = synthetic(n=400, seed=7, ticker="XYZ1")
    return watch.summarise(frame, Registry().load().get("general"), ByteBoundedLRU(1 << 28))


def test_a_summary_comes_back_exactly(engine, real_summary):
    watch_summaries.put(engine, real_summary, max_rows=10, now=T0)
    awkward = _summary("AB")
    watch_summaries.put(engine, awkward, max_rows=10, now=T0)
    found = watch_summaries.get_many(engine, [real_summary.key, awkward.key])
    assert set(found) == {real_summary.key, awkward.key}
    _same(found[real_summary.key], real_summary)
    _same(found[awkward.key], awkward)


def test_a_list_is_read_in_one_query(engine):
    for ticker in ("AB", "C", "Q.TO"):
        watch_summaries.put(engine, _summary(ticker), max_rows=10, now=T0)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        wanted = [_summary(t).key for t in ("AB", "Q.TO", "MISSING")]
        wanted.append(("d" * 32, "C", "0" * 64))  # C, but other prices: not C's summary
        found = watch_summaries.get_many(engine, wanted)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert sorted(key[1] for key in found) == ["AB", "Q.TO"]
    # SQLite's connections also send their own BEGIN; one query, whatever the list's size.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert watch_summaries.get_many(engine, []) == {}


def test_a_second_put_replaces_the_first(engine):
    first = _summary("AB")
    watch_summaries.put(engine, first, max_rows=10, now=T0)
    second = _summary("AB", widths={0.8: np.array([0.25, 0.5])})
    watch_summaries.put(engine, second, max_rows=10, now=T0 + dt.timedelta(seconds=1))
    assert watch_summaries.count(engine) == 1
    _same(watch_summaries.get_many(engine, [first.key])[first.key], second)


def test_the_oldest_go_past_the_bound(engine):
    tickers = ["A1", "B2", "C3", "D4", "E5"]
    for minutes, ticker in enumerate(tickers):
        watch_summaries.put(engine, _summary(ticker), max_rows=3,
                            now=T0 + dt.timedelta(minutes=minutes))
    assert watch_summaries.count(engine) == 3
    kept = watch_summaries.get_many(engine, [_summary(t).key for t in tickers])
    assert sorted(key[1] for key in kept) == ["C3", "D4", "E5"]
    # Refreshing an old one makes it new again: the next to go is the oldest then.
    watch_summaries.put(engine, _summary("C3"), max_rows=3, now=T0 + dt.timedelta(hours=1))
    watch_summaries.put(engine, _summary("F6"), max_rows=3, now=T0 + dt.timedelta(hours=2))
    kept = watch_summaries.get_many(engine, [_summary(t).key for t in [*tickers, "F6"]])
    assert sorted(key[1] for key in kept) == ["C3", "E5", "F6"]


def test_a_failure_is_read_back_as_failed_and_a_success_replaces_it(engine):
    failed, other = _summary("FA"), _summary("OK")
    reason = "its stored prices are too few for its model's forecast"
    watch_summaries.put(engine, other, max_rows=10, now=T0)
    watch_summaries.put_failure(engine, failed.key, reason, max_rows=10, now=T0)
    got = watch_summaries.get_many(engine, [failed.key, other.key])
    assert got[failed.key] == watch.Failed(reason)
    _same(got[other.key], other)  # one query answers both kinds
    watch_summaries.put(engine, failed, max_rows=10, now=T0 + dt.timedelta(minutes=1))
    assert watch_summaries.count(engine) == 2
    _same(watch_summaries.get_many(engine, [failed.key])[failed.key], failed)


def test_failures_count_under_the_bound_with_summaries(engine):
    for minutes, ticker in enumerate(["A1", "B2", "C3"]):
        watch_summaries.put_failure(engine, _summary(ticker).key, "no forecast", max_rows=2,
                                    now=T0 + dt.timedelta(minutes=minutes))
    watch_summaries.put(engine, _summary("D4"), max_rows=2, now=T0 + dt.timedelta(hours=1))
    kept = watch_summaries.get_many(engine, [_summary(t).key for t in ["A1", "B2", "C3", "D4"]])
    assert sorted(key[1] for key in kept) == ["C3", "D4"]
    assert kept[_summary("C3").key] == watch.Failed("no forecast")

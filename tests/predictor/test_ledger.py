"""The forecast ledger on SQLite and a real PostgreSQL: recorded once, scored, listed, shared."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockPredictor.forecast import report
from stockPredictor.store import engine_for, ledger
from stockPredictor.store.models import ForecastRow, LedgerForecast
from stockPredictor.store.writer import LedgerWriter


def forecast(frame, artifact, horizon, as_of=None, level=0.8) -> report.Report:
    """The report of a forecast, as every surface builds it."""
    return report.build(frame, artifact, horizon, as_of, level)


@pytest.fixture(scope="module")
def alt(walk):
    """The same walk under another ticker."""
    frame = walk.copy()
    frame.attrs = dict(walk.attrs, ticker="ALT")
    return frame


def _entries(engine) -> list[LedgerForecast]:
    with Session(engine) as session:
        return list(session.scalars(select(LedgerForecast).order_by(LedgerForecast.id)))


def test_a_forecast_recorded_twice_is_one_entry_served_twice(engine, walk, tiny_artifact):
    made = forecast(walk, tiny_artifact, horizon=3)
    first = ledger.record(engine, made)
    again = ledger.record(engine, forecast(walk, tiny_artifact, horizon=3))
    assert first == again
    [entry] = _entries(engine)
    assert (entry.served, entry.horizon, entry.ticker, entry.model) == (2, 3, "WALK", "walk")
    assert entry.model_sha256 == tiny_artifact.metadata["files"]["model.h5"]
    assert entry.as_of == walk.index[-1].date()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ForecastRow)) == 3
    # Another horizon or level is another forecast.
    assert ledger.record(engine, forecast(walk, tiny_artifact, horizon=2)) != first
    assert ledger.record(engine, forecast(walk, tiny_artifact, horizon=3, level=0.5)) != first
    assert len(_entries(engine)) == 3


def test_live_is_made_on_the_latest_price_and_replay_on_a_past_one(engine, walk, tiny_artifact):
    fresh = walk.copy()
    fresh.attrs = dict(walk.attrs, source="yahoo")  # as the price store gives Yahoo's prices
    live = forecast(fresh, tiny_artifact, horizon=2)
    replay = forecast(fresh, tiny_artifact, horizon=2, as_of=walk.index[300])
    assert (live.kind, replay.kind) == ("live", "replay")
    # Not the market's latest close: a synthetic series, or Yahoo's prices served stale.
    stale = fresh.copy()
    stale.attrs = dict(fresh.attrs, stale=True)
    assert forecast(walk, tiny_artifact, horizon=2).kind == "replay"
    assert forecast(stale, tiny_artifact, horizon=2).kind == "replay"
    ledger.record(engine, live)
    ledger.record(engine, replay)
    # A live forecast served again once newer prices exist is still the same, live entry.
    ledger.record(engine, live, kind="replay")
    assert [(e.kind, e.served) for e in _entries(engine)] == [("live", 2), ("replay", 1)]
    with Session(engine) as session:
        assert ledger.listing(session, kind="live")["total"] == 1
        assert ledger.listing(session, kind="replay")["forecasts"][0]["as_of"] == \
            walk.index[300].strftime("%Y-%m-%d")
    # One first served from a stale copy (a replay) and then from the fresh latest close is live.
    ledger.record(engine, replay, kind="live")
    assert [(e.kind, e.served) for e in _entries(engine)] == [("live", 2), ("live", 2)]


def test_rows_are_stored_with_their_bands_and_the_naive_forecast(engine, walk, tiny_artifact):
    made = forecast(walk, tiny_artifact, horizon=4, level=0.8)
    ledger.record(engine, made)
    with Session(engine) as session:
        [listed] = ledger.listing(session)["forecasts"]
        naive = session.scalars(select(ForecastRow.last_close)).all()
    assert listed["horizon"] == 4 and listed["kind"] == "replay"  # a synthetic series
    result = made.forecast
    assert [row["date"] for row in listed["forecast"]] == list(result.dates.strftime("%Y-%m-%d"))
    for row, close, low, high in zip(listed["forecast"], result.closes, result.lows,
                                     result.highs):
        assert row["close"] == pytest.approx(close) and row["actual"] is None
        assert row["low"] == pytest.approx(low) and row["high"] == pytest.approx(high)
    assert naive == pytest.approx([walk["close"].iloc[-1]] * 4)


def _until(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    """``frame`` up to its row ``i``: a forecast made then had no later close to see."""
    early = frame.iloc[: i + 1].copy()
    early.attrs = dict(frame.attrs)
    return early


def test_rows_are_scored_as_new_closes_arrive(engine, walk, alt, tiny_artifact):
    early, other = _until(walk, 300), _until(alt, 300)
    made = forecast(early, tiny_artifact, horizon=4)
    ledger.record(engine, made)
    ledger.record(engine, forecast(other, tiny_artifact, horizon=4))
    days = made.forecast.dates
    # Closes in the units the forecast was made in: the as_of close is the one it started from.
    first = pd.Series([made.forecast.last_close, 101.5, 102.25], index=[early.index[-1], *days[:2]])
    with Session(engine) as session, session.begin():
        assert ledger.score(session, "WALK", "synthetic", closes=first) == 2
    with Session(engine) as session:
        rows = {e["ticker"]: e["forecast"] for e in ledger.listing(session)["forecasts"]}
    assert [row["actual"] for row in rows["WALK"]] == [101.5, 102.25, None, None]
    assert [row["actual"] for row in rows["ALT"]] == [None] * 4  # another ticker's closes
    # The score: forecast minus actual, the naive forecast's too, and inside the band or not.
    scored = rows["WALK"][0]
    assert scored["error"] == pytest.approx(made.forecast.closes[0] - 101.5)
    assert scored["naive_error"] == pytest.approx(made.forecast.last_close - 101.5)
    assert scored["inside"] is bool(made.forecast.lows[0] <= 101.5 <= made.forecast.highs[0])
    assert rows["WALK"][2]["error"] is None and rows["WALK"][2]["inside"] is None
    # Later closes fill the rest; a day scored already keeps its first close.
    later = pd.Series([made.forecast.last_close, 99.0, 99.0, 103.0, 104.5],
                      index=[early.index[-1], *days])
    with Session(engine) as session, session.begin():
        assert ledger.score(session, "WALK", "synthetic", closes=later) == 2
        assert ledger.score(session, "WALK", "synthetic", closes=later) == 0
    with Session(engine) as session:
        [walk_rows] = [e["forecast"] for e in ledger.listing(session, ticker="WALK")["forecasts"]]
    assert [row["actual"] for row in walk_rows] == [101.5, 102.25, 103.0, 104.5]


def test_only_the_source_the_forecast_was_made_from_scores_it(engine, walk, tiny_artifact):
    early = _until(walk, 300)
    made = forecast(early, tiny_artifact, horizon=2)
    ledger.record(engine, made)  # a synthetic series titled WALK
    result = made.forecast
    closes = pd.Series([result.last_close, 1.0, 2.0], index=[early.index[-1], *result.dates])
    with Session(engine) as session, session.begin():
        assert ledger.score(session, "WALK", "yahoo", closes=closes) == 0
        assert ledger.score(session, "WALK", "synthetic", closes=closes) == 2


def test_a_split_after_the_forecast_is_scored_in_the_forecasts_units(engine, walk, tiny_artifact):
    early = _until(walk, 300)
    made = forecast(early, tiny_artifact, horizon=2)
    ledger.record(engine, made)
    # A 4-for-1 split since: the source now gives every close, the as_of one too, a quarter.
    result = made.forecast
    after = pd.Series([result.last_close / 4, 25.0, 26.0], index=[early.index[-1], *result.dates])
    with Session(engine) as session, session.begin():
        assert ledger.score(session, "WALK", "synthetic", closes=after) == 2
    with Session(engine) as session:
        [listed] = ledger.listing(session)["forecasts"]
    assert [row["actual"] for row in listed["forecast"]] == pytest.approx([100.0, 104.0])


def test_a_replay_is_scored_at_once_from_the_prices_it_was_made_from(engine, walk, tiny_artifact):
    made = forecast(walk, tiny_artifact, horizon=3, as_of=walk.index[-3])  # 2 closes known
    ledger.record(engine, made)
    with Session(engine) as session:
        [listed] = ledger.listing(session)["forecasts"]
    assert listed["kind"] == "replay" and listed["source"] == "synthetic"
    # Rounded to six significant digits, as every answer rounds prices.
    assert [row["actual"] for row in listed["forecast"]] == [
        pytest.approx(walk["close"].iloc[-2], rel=1e-6),
        pytest.approx(walk["close"].iloc[-1], rel=1e-6), None]


def test_listing_filters_pages_and_counts(engine, walk, alt, tiny_artifact):
    past = walk.index[300]
    for frame, as_of in ((walk, None), (walk, past), (walk, walk.index[310]), (alt, past)):
        ledger.record(engine, forecast(frame, tiny_artifact, horizon=2, as_of=as_of),
                      kind="live" if as_of is None else None)
    with Session(engine) as session:
        assert ledger.listing(session)["total"] == 4
        assert ledger.listing(session, ticker="ALT")["total"] == 1
        assert ledger.listing(session, ticker="WALK", kind="replay")["total"] == 2
        assert ledger.listing(session, as_of=past.strftime("%Y-%m-%d"))["total"] == 2
        assert ledger.listing(session, model="walk")["total"] == 4
        assert ledger.listing(session, model="other")["total"] == 0
        page = ledger.listing(session, limit=1, offset=1)
        assert page["total"] == 4 and len(page["forecasts"]) == 1
        # Newest first: the last recorded (ALT) leads.
        assert ledger.listing(session, limit=1000)["forecasts"][0]["ticker"] == "ALT"
        entry = ledger.listing(session, ticker="ALT")["forecasts"][0]
        assert set(entry) == {"id", "ticker", "model", "kind", "source", "as_of", "horizon",
                              "level", "served", "upload_id", "created_at", "forecast"}
        assert ledger.recorded_models(session, "replay") == sorted(
            {(item["ticker"], item["model"]) for item in ledger.listing(session)["forecasts"]
             if item["kind"] == "replay"})
        with pytest.raises(ValueError, match="kind"):
            ledger.recorded_models(session, kind="future")
        with pytest.raises(ValueError, match="kind"):
            ledger.listing(session, kind="future")


def test_the_ledger_survives_a_restart(url, walk, tiny_artifact):
    made = forecast(walk, tiny_artifact, horizon=2)
    before = engine_for(url)
    ledger.record(before, made)
    before.dispose()
    after = engine_for(url)  # a new process: nothing shared but the database
    try:
        with Session(after) as session:
            assert ledger.listing(session)["total"] == 1
        ledger.record(after, made)
        assert [e.served for e in _entries(after)] == [2]
    finally:
        after.dispose()


def test_two_writers_at_once_lose_nothing_and_never_lock(url, walk, alt, tiny_artifact):
    shared = [forecast(walk, tiny_artifact, horizon=2, as_of=walk.index[i])
              for i in range(300, 310)]
    own = {name: [forecast(frame, tiny_artifact, horizon=3, as_of=frame.index[i])
                  for i in range(320, 326)] for name, frame in (("WALK", walk), ("ALT", alt))}
    errors = []
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        engine = engine_for(url)  # each worker its own engine, as two gunicorn workers would
        try:
            start.wait()
            for made in shared:
                ledger.record(engine, made)
            for made in own[name]:
                ledger.record(engine, made)
        except Exception as error:  # reported below, with "database is locked" if it was that
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(name,)) for name in own]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = engine_for(url)
    try:
        entries = _entries(engine)
        with Session(engine) as session:
            rows = session.scalar(select(func.count()).select_from(ForecastRow))
    finally:
        engine.dispose()
    assert len(entries) == 10 + 6 + 6
    assert sorted(e.served for e in entries) == [1] * 12 + [2] * 10
    assert rows == 10 * 2 + 12 * 3


def test_the_writer_batches_in_the_background_and_drops_when_full(
        engine, walk, tiny_artifact, caplog):
    writer = LedgerWriter(engine, batch=2, interval=60.0, capacity=3)
    made = [forecast(walk, tiny_artifact, horizon=2, as_of=walk.index[i]) for i in range(300, 306)]
    assert writer.submit(made[0])
    assert writer.submit(made[1])
    deadline = time.monotonic() + 10
    while len(_entries(engine)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # a full batch wakes the thread long before its 60 s interval
    assert len(_entries(engine)) == 2
    writer._wake.clear()
    with writer._lock:  # hold the thread off, so the queue fills up
        results = [writer.submit(m) for m in made[2:]]
    assert results == [True, True, True, False] and writer.dropped == 1
    assert "ledger queue full" in caplog.text
    writer.close()
    assert len(_entries(engine)) == 5


def test_the_writer_counts_repeats_in_memory_and_writes_them_once(engine, walk, tiny_artifact,
                                                                  monkeypatch):
    writer = LedgerWriter(engine, batch=100, interval=60.0)
    statements = []
    write = ledger.write
    monkeypatch.setattr(ledger, "write", lambda target, entries, counts=None: (
        statements.append(len(entries)), write(target, entries, counts))[1])
    try:
        for _ in range(10):
            assert writer.submit(forecast(walk, tiny_artifact, horizon=3))
        assert writer.submit(forecast(walk, tiny_artifact, horizon=2))
        assert writer.flush() == 11
        assert statements == [11]  # one write for the batch: repeats are summed inside it
        assert sorted(e.served for e in _entries(engine)) == [1, 10]
        for _ in range(5):  # a later batch adds its count to the stored entry
            writer.submit(forecast(walk, tiny_artifact, horizon=3))
        writer.flush()
    finally:
        writer.close()
    assert sorted((e.horizon, e.served) for e in _entries(engine)) == [(2, 1), (3, 15)]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ForecastRow)) == 3 + 2


def test_the_writer_logs_a_database_error_and_never_raises(empty_url, walk, tiny_artifact,
                                                           caplog):
    engine = engine_for(empty_url)  # never migrated: no ledger tables
    writer = LedgerWriter(engine, interval=60.0)
    try:
        with caplog.at_level(logging.WARNING, logger="stockPredictor.store.writer"):
            assert writer.submit(forecast(walk, tiny_artifact, horizon=2))
            assert writer.flush() == 0
        assert "not recorded" in caplog.text
    finally:
        writer.close()
        engine.dispose()


def test_one_entry_the_database_refuses_costs_only_itself(engine, walk, tiny_artifact, caplog):
    writer = LedgerWriter(engine, interval=60.0)
    try:
        for horizon in (1, 2):
            writer.submit(forecast(walk, tiny_artifact, horizon=horizon))
        # An upload purged since the forecast was made: the database refuses its reference.
        writer.submit(dataclasses.replace(forecast(walk, tiny_artifact, horizon=3),
                                          upload_id=999_999))
        with caplog.at_level(logging.WARNING, logger="stockPredictor.store.writer"):
            assert writer.flush() == 2
        assert "the forecast of WALK not recorded" in caplog.text
    finally:
        writer.close()
    assert sorted(e.horizon for e in _entries(engine)) == [1, 2]


def test_the_live_record_scores_live_forecasts_against_naive(engine, walk, tiny_artifact):
    # Twelve forecasts of 3 days, each made on the then latest price (live), and one replay.
    made = []
    for i in range(300, 312):
        early = _until(walk, i)
        made.append(forecast(early, tiny_artifact, horizon=3))
        ledger.record(engine, made[-1], kind="live")
    replay = forecast(walk, tiny_artifact, horizon=3, as_of=walk.index[250])
    ledger.record(engine, replay)
    made = [m.forecast for m in made]
    days = pd.DatetimeIndex(sorted({d for m in made for d in m.dates}))
    closes = pd.concat([walk["close"].iloc[300:312],
                        pd.Series([100.0 + (i % 7) for i in range(len(days))], index=days)])
    closes = closes[~closes.index.duplicated(keep="last")].sort_index()
    with Session(engine) as session:
        assert ledger.live_record(session, "WALK", "walk")["scored"] == 0
        ledger.score(session, "WALK", "synthetic", closes=closes)
        session.commit()
        record = ledger.live_record(session, "WALK", "walk")
        assert ledger.live_record(session, "ALT", "walk")["scored"] == 0
    # Each forecast is scored in its own units: scaled by its last close over the close now
    # given for its as_of day (1 where the two agree).
    actual = [closes[d] * m.last_close / closes[m.as_of] for m in made for d in m.dates]
    ours = [abs(a - c) for a, c in zip(actual, [c for m in made for c in m.closes])]
    naive = [abs(a - m.last_close) for a, m in zip(actual, [m for m in made for _ in range(3)])]
    lows, highs = [v for m in made for v in m.lows], [v for m in made for v in m.highs]
    inside = [lo <= a <= hi for a, lo, hi in zip(actual, lows, highs)]
    assert record["scored"] == 36
    assert record["mae"] == pytest.approx(sum(ours) / 36)
    assert record["naive_mae"] == pytest.approx(sum(naive) / 36)
    assert record["relative_mae"] == pytest.approx(sum(ours) / sum(naive))
    assert record["coverage"] == pytest.approx(sum(inside) / 36)
    assert 0.0 <= record["dm_p"] <= 1.0 and record["p_text"].startswith("p ")


def test_the_live_record_withholds_the_p_value_below_the_minimum(engine, walk, tiny_artifact):
    early = _until(walk, 300)
    made = forecast(early, tiny_artifact, horizon=3)
    ledger.record(engine, made, kind="live")
    closes = pd.Series([100.0, 101.0, 102.0], index=made.forecast.dates)
    with Session(engine) as session:
        with session.begin():
            ledger.score(session, "WALK", "synthetic", closes=closes)
        record = ledger.live_record(session, "WALK", "walk")
    assert record["scored"] == 3 and record["mae"] is not None and record["dm_p"] is None


def test_a_batch_of_new_and_known_forecasts_keeps_each_ones_own_rows(engine, walk, tiny_artifact):
    # Six distinct forecasts: horizons 1, 2 and 3 as of two days (the tiny model's horizon is 5).
    made = [forecast(walk, tiny_artifact, horizon=h, as_of=walk.index[day])
            for day in (300, 310) for h in (1, 2, 3)]
    entries = [ledger.entry(m) for m in made]
    known = ledger.write(engine, entries[::2])  # the first, third and fifth already recorded
    batch = made[::-1] + made[:1]  # all six, newest first, and horizon 1 twice
    ids = ledger.write(engine, entries[::-1] + entries[:1])
    assert (ids[5], ids[3], ids[1]) == tuple(known) and ids[6] == ids[5]
    with Session(engine) as session:
        listed = {f["id"]: f for f in ledger.listing(session)["forecasts"]}
    assert len(listed) == 6
    for forecast_id, m in zip(ids, [m.forecast for m in batch]):
        item = listed[forecast_id]
        assert (item["horizon"], item["as_of"]) == (len(m.dates), f"{m.as_of:%Y-%m-%d}")
        assert [row["close"] for row in item["forecast"]] == pytest.approx(list(m.closes))
    assert [listed[i]["served"] for i in ids[:6]] == [1, 2, 1, 2, 1, 3]

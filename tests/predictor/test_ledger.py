"""The forecast ledger on SQLite and a real PostgreSQL: live forecasts recorded once per ticker,
model and day with their whole path, scored, listed, shared; replays never stored."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockPredictor.errors import DataError
from stockPredictor.forecast import predict, report
from stockPredictor.forecast.bands import LEVELS
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


def test_a_live_forecast_is_recorded_once_with_its_whole_path_and_every_level(
        engine, walk, tiny_artifact):
    steps = tiny_artifact.config.output_steps  # the tiny model's whole path: 5 days
    ids = set()
    for horizon in (1, 3, steps):
        for level in LEVELS:  # whatever was asked: one entry, written once
            made = ledger.whole(forecast(walk, tiny_artifact, horizon, level=level), walk)
            ids.add(ledger.record(engine, made, kind="live"))
    assert len(ids) == 1
    [entry] = _entries(engine)
    assert (entry.horizon, entry.ticker, entry.model) == (steps, "WALK", "walk")
    assert entry.model_sha256 == tiny_artifact.metadata["files"]["model.h5"]
    assert entry.as_of == walk.index[-1].date()
    assert entry.last_close == pytest.approx(walk["close"].iloc[-1])
    # The path and every level's band, as the package forecasts them on their own.
    path = predict.forecast(walk, tiny_artifact, steps)
    assert set(path.bands) == set(LEVELS)
    with Session(engine) as session:
        rows = session.scalars(select(ForecastRow).order_by(ForecastRow.step)).all()
    assert [row.step for row in rows] == list(range(1, steps + 1))
    assert [row.close for row in rows] == pytest.approx(list(path.closes))
    for level, name in ((0.5, "50"), (0.8, "80"), (0.95, "95")):
        lows, highs = path.bands[level]
        assert [getattr(row, f"low_{name}") for row in rows] == pytest.approx(list(lows))
        assert [getattr(row, f"high_{name}") for row in rows] == pytest.approx(list(highs))
    assert all(row.actual is None for row in rows)


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
    # A replay is recomputed on demand: the ledger refuses it, and holds nothing of it.
    for made in (replay, forecast(stale, tiny_artifact, horizon=2)):
        with pytest.raises(DataError, match="replay"):
            ledger.record(engine, made)
    with pytest.raises(DataError, match="replay"):
        ledger.record(engine, live, kind="replay")
    assert [(e.as_of, e.source) for e in _entries(engine)] == [(walk.index[-1].date(), "yahoo")]


def test_rows_are_listed_with_their_band_at_the_level_asked(engine, walk, tiny_artifact):
    made = forecast(walk, tiny_artifact, horizon=4, level=0.8)
    ledger.record(engine, made, kind="live")
    result = made.forecast
    for level in LEVELS:
        with Session(engine) as session:
            [listed] = ledger.listing(session, level=level)["forecasts"]
        assert listed["horizon"] == 4 and listed["level"] == level
        assert [row["date"] for row in listed["forecast"]] == list(
            result.dates.strftime("%Y-%m-%d"))
        lows, highs = result.bands[level]
        for row, close, low, high in zip(listed["forecast"], result.closes, lows, highs):
            assert row["close"] == pytest.approx(close) and row["actual"] is None
            assert row["low"] == pytest.approx(low) and row["high"] == pytest.approx(high)
    with pytest.raises(DataError, match="level"):
        ledger.listing(engine, level=0.7)


def _until(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    """``frame`` up to its row ``i``: a forecast made then had no later close to see."""
    early = frame.iloc[: i + 1].copy()
    early.attrs = dict(frame.attrs)
    return early


def test_rows_are_scored_as_new_closes_arrive(engine, walk, alt, tiny_artifact):
    early, other = _until(walk, 300), _until(alt, 300)
    made = forecast(early, tiny_artifact, horizon=4)
    ledger.record(engine, made, kind="live")
    ledger.record(engine, forecast(other, tiny_artifact, horizon=4), kind="live")
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
    ledger.record(engine, made, kind="live")  # a synthetic series titled WALK
    result = made.forecast
    closes = pd.Series([result.last_close, 1.0, 2.0], index=[early.index[-1], *result.dates])
    with Session(engine) as session, session.begin():
        assert ledger.score(session, "WALK", "yahoo", closes=closes) == 0
        assert ledger.score(session, "WALK", "synthetic", closes=closes) == 2


def test_a_split_after_the_forecast_is_scored_in_the_forecasts_units(engine, walk, tiny_artifact):
    early = _until(walk, 300)
    made = forecast(early, tiny_artifact, horizon=2)
    ledger.record(engine, made, kind="live")
    # A 4-for-1 split since: the source now gives every close, the as_of one too, a quarter.
    result = made.forecast
    after = pd.Series([result.last_close / 4, 25.0, 26.0], index=[early.index[-1], *result.dates])
    with Session(engine) as session, session.begin():
        assert ledger.score(session, "WALK", "synthetic", closes=after) == 2
    with Session(engine) as session:
        [listed] = ledger.listing(session)["forecasts"]
    assert [row["actual"] for row in listed["forecast"]] == pytest.approx([100.0, 104.0])


def test_listing_filters_and_counts(engine, walk, alt, tiny_artifact):
    past = walk.index[300]
    for frame, as_of in ((walk, None), (walk, past), (walk, walk.index[310]), (alt, past)):
        ledger.record(engine, forecast(frame, tiny_artifact, horizon=2, as_of=as_of),
                      kind="live")
    with Session(engine) as session:
        assert ledger.listing(session)["total"] == 4
        assert ledger.listing(session, ticker="ALT")["total"] == 1
        assert ledger.listing(session, as_of=past.strftime("%Y-%m-%d"))["total"] == 2
        assert ledger.listing(session, model="walk")["total"] == 4
        assert ledger.listing(session, model="other")["total"] == 0
        # Newest first: the last recorded (ALT) leads.
        assert ledger.listing(session, limit=1000)["forecasts"][0]["ticker"] == "ALT"
        entry = ledger.listing(session, ticker="ALT")["forecasts"][0]
        assert set(entry) == {"id", "ticker", "model", "source", "as_of", "horizon", "level",
                              "created_at", "forecast"}
        assert ledger.recorded_models(session) == [("ALT", "walk"), ("WALK", "walk")]


def test_the_ledger_survives_a_restart(url, walk, tiny_artifact):
    made = forecast(walk, tiny_artifact, horizon=2)
    before = engine_for(url)
    first = ledger.record(before, made, kind="live")
    before.dispose()
    after = engine_for(url)  # a new process: nothing shared but the database
    try:
        with Session(after) as session:
            assert ledger.listing(session)["total"] == 1
        assert ledger.record(after, made, kind="live") == first  # recorded: nothing written
        assert len(_entries(after)) == 1
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
                ledger.record(engine, made, kind="live")
            for made in own[name]:
                ledger.record(engine, made, kind="live")
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
    assert len(entries) == 10 + 6 + 6  # the shared ones once each, with their rows once
    assert rows == 10 * 2 + 12 * 3


def test_the_writer_batches_in_the_background_and_drops_when_full(
        engine, walk, tiny_artifact, caplog):
    writer = LedgerWriter(engine, batch=2, interval=60.0, capacity=3)
    made = [forecast(walk, tiny_artifact, horizon=2, as_of=walk.index[i]) for i in range(300, 306)]
    assert writer.submit(made[0], "live")
    assert writer.submit(made[1], "live")
    deadline = time.monotonic() + 10
    while len(_entries(engine)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # a full batch wakes the thread long before its 60 s interval
    assert len(_entries(engine)) == 2
    writer._wake.clear()
    with writer._lock:  # hold the thread off, so the queue fills up
        results = [writer.submit(m, "live") for m in made[2:]]
    assert results == [True, True, True, False] and writer.dropped == 1
    assert "ledger queue full" in caplog.text
    writer.close()
    assert len(_entries(engine)) == 5


def test_the_writer_writes_repeats_once_and_a_later_batch_changes_nothing(
        engine, walk, tiny_artifact, monkeypatch):
    writer = LedgerWriter(engine, batch=100, interval=60.0)
    statements = []
    write = ledger.write
    monkeypatch.setattr(ledger, "write", lambda target, entries: (
        statements.append(len(entries)), write(target, entries))[1])
    try:
        for _ in range(10):
            assert writer.submit(forecast(walk, tiny_artifact, horizon=3), "live")
        assert writer.submit(forecast(walk, tiny_artifact, horizon=2, as_of=walk.index[300]),
                             "live")
        assert writer.flush() == 2
        assert statements == [2]  # one write for the batch: one entry per key inside it
        for _ in range(5):  # a later batch of the same forecast finds it recorded
            writer.submit(forecast(walk, tiny_artifact, horizon=3), "live")
        writer.flush()
    finally:
        writer.close()
    assert sorted(e.horizon for e in _entries(engine)) == [2, 3]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ForecastRow)) == 3 + 2


def test_the_live_record_scores_live_forecasts_against_naive(engine, walk, tiny_artifact):
    # Twelve forecasts of 3 days, each made on the then latest price (live).
    made = []
    for i in range(300, 312):
        early = _until(walk, i)
        made.append(forecast(early, tiny_artifact, horizon=3))
        ledger.record(engine, made[-1], kind="live")
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
    assert record["level"] == 0.8 and record["coverages"]["0.8"] == record["coverage"]
    # Every level the entries hold: the widest band holds at least what the narrowest does.
    for level in LEVELS:
        lows = [v for m in made for v in m.bands[level][0]]
        highs = [v for m in made for v in m.bands[level][1]]
        inside = [lo <= a <= hi for a, lo, hi in zip(actual, lows, highs)]
        assert record["coverages"][f"{level:g}"] == pytest.approx(sum(inside) / 36)
    assert record["coverages"]["0.5"] <= record["coverages"]["0.95"]
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
    # Six distinct keys: as of six days, each 2 days long.
    made = [forecast(walk, tiny_artifact, horizon=2, as_of=walk.index[day])
            for day in range(300, 306)]
    entries = [ledger.entry(m, "live") for m in made]
    known = ledger.write(engine, entries[::2])  # the first, third and fifth already recorded
    batch = made[::-1] + made[:1]  # all six, newest first, and the first twice
    ids = ledger.write(engine, entries[::-1] + entries[:1])
    assert (ids[5], ids[3], ids[1]) == tuple(known) and ids[6] == ids[5]
    with Session(engine) as session:
        listed = {f["id"]: f for f in ledger.listing(session)["forecasts"]}
    assert len(listed) == 6
    for forecast_id, m in zip(ids, [m.forecast for m in batch]):
        item = listed[forecast_id]
        assert (item["horizon"], item["as_of"]) == (len(m.dates), f"{m.as_of:%Y-%m-%d}")
        assert [row["close"] for row in item["forecast"]] == pytest.approx(list(m.closes))
    # Two of one key in a batch: the first is written, the second changes nothing.
    longer = ledger.entry(forecast(walk, tiny_artifact, horizon=4), "live")
    shorter = ledger.entry(forecast(walk, tiny_artifact, horizon=1), "live")
    first, second = ledger.write(engine, [longer, shorter])
    assert first == second
    with Session(engine) as session:
        [item] = ledger.listing(session, as_of=walk.index[-1])["forecasts"]
    assert item["horizon"] == 4


def test_a_day_takes_at_most_its_cap_of_new_entries(engine, walk, alt, tiny_artifact, caplog):
    made = ledger.entry(forecast(walk, tiny_artifact, horizon=2), "live")
    day = made.values["as_of"]
    entries = [ledger.Entry({**made.values, "ticker": f"T{i}"}, made.rows) for i in range(5)]
    other_day = ledger.Entry({**made.values, "as_of": day - dt.timedelta(days=1)}, made.rows)
    with caplog.at_level(logging.WARNING, logger="stockPredictor.store.ledger"):
        ids = ledger.write(engine, entries[:3] + [other_day], day_entries=2)
    # In key order: T0 and T1 fill the day; T2 waits for no one; another day has room.
    assert [i is not None for i in ids] == [True, True, False, True]
    assert "LEDGER_DAY_ENTRIES" in caplog.text
    # A key recorded already is still answered with its id, full day or not.
    again = ledger.write(engine, entries, day_entries=2)
    assert again[:2] == ids[:2] and again[2:] == [None] * 3
    assert sorted((e.ticker, e.as_of) for e in _entries(engine)) == [
        ("T0", day), ("T1", day), ("WALK", day - dt.timedelta(days=1))]

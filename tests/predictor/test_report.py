"""The forecast report: the whole answer from one table and one origin, told one way."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from stockPredictor.data.sample import from_sample
from stockPredictor.forecast import predict, report, tables
from stockPredictor.forecast.bands import LEVELS
from stockPredictor.lru import BoundedCache, ByteBoundedLRU
from stockPredictor.model.registry import Registry

AS_OF = "2012-06-01"  # a past day: the actual closes after it are known


@pytest.fixture(scope="module")
def general():
    return Registry().load().get("general")


@pytest.fixture(scope="module")
def msft():
    return from_sample("MSFT")


def _names(value, path=""):
    """Every key of a nested document, with its path."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield f"{path}.{key}".lstrip("."), key
            yield from _names(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _names(inner, path)


def test_every_error_against_no_change_at_the_horizon_is_one_number(msft, general):
    answer = report.build(msft, general, horizon=20, as_of=AS_OF)
    document = answer.to_dict()
    record = document["track_record"]
    # The card's figure and the by-step picture's are one list, read at the horizon ...
    card = record["mae_vs_naive"][19]
    # ... and the past-forecasts picture, worked out again from its own rows, says the same.
    past = record["past"]
    assert len(past) == record["origins"] == 250
    ours = np.mean([abs(row["forecast"] - row["actual"]) for row in past])
    naive = np.mean([abs(row["last_close"] - row["actual"]) for row in past])
    assert card == pytest.approx(ours / naive, abs=2e-4)
    # No other figure in the answer goes by that name: the raw network's training-time one
    # is named for what it is.
    named = {path for path, key in set(_names(document)) if "mae_vs_naive" in key}
    assert named == {"track_record.mae_vs_naive", "model_info.network_test_mae_vs_naive"}


def test_one_set_of_origins_is_stated_once_and_holds_for_every_figure(msft, general):
    record = report.build(msft, general, horizon=7, as_of=AS_OF).record
    first, last = msft.index.get_loc(record["start"]), msft.index.get_loc(record["end"])
    assert last - first + 1 == record["origins"]
    # The past forecasts are those origins' forecasts, each on the day it was for.
    days = [msft.index[row + 7].strftime("%Y-%m-%d") for row in (first, last)]
    assert [record["past"][0]["date"], record["past"][-1]["date"]] == days
    # Every step's outcome is known by as_of: the last origin is steps days before it.
    assert msft.index.get_loc(AS_OF) - last == record["steps"] == 30


@pytest.mark.parametrize("level", LEVELS)
def test_the_band_level_belongs_to_the_whole_answer(msft, general, level):
    answer = report.build(msft, general, horizon=5, as_of=AS_OF, level=level)
    document = answer.to_dict()
    band = document["bands"][f"{level:g}"]
    assert document["level"] == level
    assert [(r["low"], r["high"]) for r in document["forecast"]] == [
        (r["low"], r["high"]) for r in band]
    assert document["track_record"]["level"] == document["outcome"]["level"] == level
    rows = list(csv.DictReader(io.StringIO(answer.to_csv())))
    assert [(float(r["low"]), float(r["high"])) for r in rows] == [
        (r["low"], r["high"]) for r in band]
    assert set(document["bands"]) == {f"{lvl:g}" for lvl in LEVELS}  # every level comes along


def test_a_wider_band_holds_more_of_the_record(msft, general):
    coverage = {level: report.build(msft, general, 5, AS_OF, level).record["coverage"]
                for level in LEVELS}
    for narrow, middle, wide in zip(*coverage.values()):
        assert narrow < middle < wide


def test_a_report_reads_one_table_at_one_origin_in_one_batch(msft, general, monkeypatch):
    cache = ByteBoundedLRU(1 << 26)
    tables.build(msft, general, cache)
    calls = {"table_for": 0, "origin_row": 0, "forecasts": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(tables, "table_for", counted("table_for", tables.table_for))
    monkeypatch.setattr(predict, "origin_row", counted("origin_row", predict.origin_row))
    monkeypatch.setattr(tables.ForecastTable, "forecasts",
                        counted("forecasts", tables.ForecastTable.forecasts))
    answer = report.build(msft, general, horizon=12, as_of=AS_OF, cache=cache)
    json.dumps(answer.to_dict())
    assert calls == {"table_for": 1, "origin_row": 1, "forecasts": 1}


def test_the_report_reads_nothing_after_as_of_but_the_outcome(msft, general):
    cut = msft.loc[:AS_OF].copy()
    cut.attrs = dict(msft.attrs)
    full, short = (report.build(f, general, 10, AS_OF).to_dict() for f in (msft, cut))
    for key in ("forecast", "bands", "baselines", "track_record", "as_of", "last_close"):
        assert full[key] == short[key], key
    assert full["actual"] is not None and short["actual"] is None
    assert full["outcome"]["days"] == 10 and short["outcome"] is None


def test_the_outcome_is_worked_out_from_the_rows(msft, general):
    document = report.build(msft, general, horizon=5, as_of=AS_OF).to_dict()
    errors = [f["close"] - a["close"] for f, a in zip(document["forecast"], document["actual"])]
    inside = sum(f["low"] <= a["close"] <= f["high"]
                 for f, a in zip(document["forecast"], document["actual"]))
    outcome = document["outcome"]
    assert outcome["days"] == 5 and outcome["inside"] == inside
    assert outcome["mean_error"] == pytest.approx(np.mean(errors), abs=1e-3)
    assert outcome["mean_absolute_error"] == pytest.approx(np.mean(np.abs(errors)), abs=1e-3)


def test_kind_and_notices_come_with_the_answer(msft, general):
    document = report.build(msft, general, horizon=3, as_of="2013-06-03").to_dict()
    assert document["kind"] == "replay"  # the bundled sample: its outcomes may be known
    assert document["notices"] == [
        "These are the bundled sample prices, which end on 2013-03-01: not current prices.",
        "The prices end on 2013-03-01, before the as-of date 2013-06-03, so the forecast is made "
        "from 2013-03-01."]


def test_what_an_origin_shares_is_kept_for_any_horizon_and_level(msft, general):
    shared = BoundedCache(8)
    report.build(msft, general, 5, AS_OF, shared=shared)
    assert (shared.hits, shared.misses, len(shared)) == (0, 2, 2)  # the bands and the record
    again = report.build(msft, general, 20, AS_OF, shared=shared)
    assert (shared.hits, shared.misses, len(shared)) == (2, 2, 2)
    fresh = report.build(msft, general, 20, AS_OF).to_dict()
    for key in ("forecast", "bands", "track_record"):
        assert again.to_dict()[key] == fresh[key], key
    # Other prices up to as_of (a file that differs from the sample by one close) are another
    # series: its bands and record are worked out afresh, never read from the sample's.
    moved = msft.copy()
    moved.iloc[2000, moved.columns.get_loc("close")] *= 1.05
    moved.attrs = dict(msft.attrs)
    report.build(moved, general, 20, AS_OF, shared=shared)
    assert (shared.hits, shared.misses, len(shared)) == (2, 4, 4)
    # Another level shares the bands, and scores its own coverage.
    other = report.build(msft, general, 20, AS_OF, level=0.5, shared=shared)
    assert other.record["level"] == 0.5 and (shared.hits, shared.misses) == (3, 5)

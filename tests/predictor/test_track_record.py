"""The track record: numbers from past forecasts only, and a verdict that says them plainly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockPredictor.data.synthetic import synthetic
from stockPredictor.forecast.predict import forecast
from stockPredictor.forecast.track_record import track_record, verdict


def record(ratio, horizon=1, origins=250, inside=0, p=0.01, weight=1.0):
    return {"horizon": horizon, "origins": origins, "origins_in_training": inside,
            "mae_vs_naive": [None] * (horizon - 1) + [ratio],
            "p_value_vs_naive": [None] * (horizon - 1) + [p],
            "policy_weights": [1.0] * (horizon - 1) + [weight]}


@pytest.mark.parametrize("ratio, p, says", [
    (0.97, 0.01, "3% more accurate than assuming no change (p = 0.01: a difference this large "
                 "would turn up by chance alone about once in 100 tries)"),
    (1.031, 0.0004, "3% less accurate than assuming no change (p < 0.001: "),
    (0.996, 0.03, "0.4% more accurate than assuming no change (p = 0.03:")])
def test_a_difference_is_claimed_only_below_p_005(ratio, p, says):
    assert says in verdict(record(ratio, p=p))


@pytest.mark.parametrize("ratio, p, says", [
    (0.97, 0.23, "showed no measurable difference from assuming no change: their 3.0% edge "
                 "would turn up by chance alone about once in 4 tries (p = 0.23)"),
    (1.05, 0.05, "no measurable difference from assuming no change: their 5.0% shortfall "
                 "would turn up by chance alone about once in 20 tries (p = 0.05)"),
    (0.99, 0.8, "would turn up by chance alone at least every other time (p = 0.80)")])
def test_no_measurable_difference_at_p_005_or_above(ratio, p, says):
    sentence = verdict(record(ratio, p=p))
    assert says in sentence and "accurate than" not in sentence


def test_too_few_forecasts_to_judge():
    sentence = verdict(record(0.5, horizon=2, origins=29, p=0.0001))
    assert "29 forecasts 2 days ahead, too few to judge" in sentence
    assert "accurate than" not in sentence
    assert "too few" not in verdict(record(0.5, horizon=2, origins=30, p=0.0001))


def test_a_step_served_as_no_change_says_so():
    sentence = verdict(record(1.0, horizon=3, p=1.0, weight=0.0))
    assert sentence.startswith("3 days ahead this model serves the no-change forecast")


def test_verdict_names_the_span_and_the_horizon():
    sentence = verdict(record(1.2, horizon=5, origins=180, p=0.001))
    assert sentence.startswith("Over the last 180 trading days, this model's forecasts 5 days "
                               "ahead were 20% less accurate")
    assert "forecasts this data allows" in verdict(record(1.2), whole=True)
    assert "12 of those days lie inside its training period" in verdict(record(1.0, inside=12))


def test_track_record_scores_the_last_year_before_as_of(walk, tiny_artifact):
    result = track_record(walk, tiny_artifact, horizon=3, as_of=walk.index[-1])
    assert result["available"] and result["origins"] == 250
    # One set of origins for every step: the last is the latest whose outcome at the model's
    # furthest step (5) was known by as_of, 5 trading days back.
    steps = tiny_artifact.config.output_steps
    assert result["steps"] == steps and result["end"] == walk.index[-1 - steps].strftime("%Y-%m-%d")
    assert len(result["mae_vs_naive"]) == steps
    ratio, p = result["mae_vs_naive"][2], result["p_value_vs_naive"][2]
    weight = result["policy_weights"][2]
    assert ("more accurate" in result["verdict"]) == (weight > 0 and ratio < 1 and p < 0.05)
    whole = track_record(walk, tiny_artifact, horizon=3, origins=None)
    assert whole["origins"] > result["origins"]


def test_track_record_never_reads_past_as_of(walk, tiny_artifact):
    as_of = walk.index[300]
    before = track_record(walk, tiny_artifact, horizon=2, as_of=as_of)
    jumped = walk.copy()
    jumped.loc[jumped.index > as_of, ["open", "high", "low", "close"]] *= 3.0
    assert track_record(jumped, tiny_artifact, horizon=2, as_of=as_of) == before


def test_too_short_a_series_has_no_track_record_and_says_why(tiny_artifact):
    short = synthetic("random_walk", n=8, seed=3, ticker="TINY")
    result = track_record(short, tiny_artifact, horizon=5)
    assert result["available"] is False and "no origin" in result["reason"]


@pytest.mark.parametrize("origins", [250, None])
def test_every_horizon_is_scored_on_one_set_of_origins(walk, tiny_artifact, origins):
    as_of = walk.index[-10]
    records = [track_record(walk, tiny_artifact, h, as_of, origins)
               for h in range(1, tiny_artifact.config.output_steps + 1)]
    for record in records[1:]:  # the per-step figures and the set they score do not move
        for key in ("origins", "start", "end", "mae_vs_naive", "p_value_vs_naive", "coverage"):
            assert record[key] == records[0][key], key
    assert records[0]["origins"] == (250 if origins else records[0]["origins"])


@pytest.mark.parametrize("rows, steps, origins", [
    (50, 5, 40),  # every step of the model, on the 40 origins 5 days before the end
    (38, 3, 30),  # 5 steps would leave 28 origins: 3 steps keep 30, enough to judge
    (36, 2, 29),  # never fewer steps than the horizon asked for, however few origins remain
])
def test_a_short_series_scores_fewer_steps_to_keep_enough_origins(tiny_artifact, rows, steps,
                                                                  origins):
    # The tiny model reads 6 rows (5 returns), so its first origin is row 5.
    short = synthetic("random_walk", n=rows, seed=3, ticker="TINY")
    result = track_record(short, tiny_artifact, horizon=2, origins=None)
    assert (result["steps"], result["origins"]) == (steps, origins)
    assert result["end"] == f"{short.index[rows - 1 - steps]:%Y-%m-%d}"


def test_past_forecasts_are_the_forecasts_made_then_beside_the_close_that_day(
        walk, tiny_artifact):
    as_of, horizon = walk.index[-10], 2
    record = track_record(walk, tiny_artifact, horizon, as_of)
    past = record["past"]
    assert len(past) == record["origins"]
    # Each is dated on the row `horizon` rows after the origin it was made at.
    first = walk.index.get_loc(pd.Timestamp(record["start"]))
    for position, row in ((first, past[0]), (first + len(past) - 1, past[-1])):
        made = forecast(walk, tiny_artifact, horizon, as_of=walk.index[position], level=None)
        target = walk.index[position + horizon]
        assert row["date"] == f"{target:%Y-%m-%d}"
        assert row["forecast"] == pytest.approx(made.closes[-1], rel=1e-5)
        assert row["actual"] == pytest.approx(walk["close"].loc[target], rel=1e-5)
        assert row["last_close"] == pytest.approx(walk["close"].iloc[position], rel=1e-5)
    assert past[-1]["date"] <= f"{as_of:%Y-%m-%d}"  # nothing from after as_of


def test_the_record_and_the_bands_read_nothing_after_as_of(walk, tiny_artifact):
    as_of = walk.index[-40]
    cut = walk.loc[:as_of].copy()
    cut.attrs = dict(walk.attrs)
    records = [track_record(f, tiny_artifact, 3, as_of) for f in (walk, cut)]
    assert records[0] == records[1] and len(records[0]["past"]) == 250
    full, short = (forecast(f, tiny_artifact, 3, as_of).bands for f in (walk, cut))
    assert full.keys() == short.keys() and len(full) > 0
    for level in full:
        np.testing.assert_array_equal(full[level][0], short[level][0])
        np.testing.assert_array_equal(full[level][1], short[level][1])


def test_the_ratio_at_step_one_is_the_mae_ratio_worked_out_by_hand(walk, tiny_artifact):
    as_of = walk.index[-10]
    end = walk.index.get_loc(as_of)
    steps = tiny_artifact.config.output_steps
    closes = walk["close"].to_numpy()
    # The last 250 origins whose outcome `steps` days on as_of knows.
    origins = range(end - steps - 250 + 1, end - steps + 1)
    ours = [abs(closes[r + 1] - forecast(walk, tiny_artifact, 1, walk.index[r],
                                         level=None).closes[0]) for r in origins]
    naive = [abs(closes[r + 1] - closes[r]) for r in origins]
    expected = np.mean(ours) / np.mean(naive)
    record = track_record(walk, tiny_artifact, 3, as_of)
    assert record["mae_vs_naive"][0] == pytest.approx(expected, abs=1e-4)

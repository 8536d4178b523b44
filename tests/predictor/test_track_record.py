"""The track record: numbers from past forecasts only, and a verdict that says them plainly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockPredictor import prices
from stockPredictor.predict import bands_at, forecast
from stockPredictor.track_record import by_step, past_forecasts, track_record, verdict


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
    # The last scored forecast is the latest whose outcome was known: 3 trading days back.
    assert result["end"] == walk.index[-4].strftime("%Y-%m-%d")
    assert len(result["mae_vs_naive"]) == 3
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
    short = prices.synthetic("random_walk", n=8, seed=3, ticker="TINY")
    result = track_record(short, tiny_artifact, horizon=5)
    assert result["available"] is False and "no origin" in result["reason"]


@pytest.mark.parametrize("origins", [250, None])
def test_by_step_gives_at_each_step_the_figure_the_record_gives_at_that_horizon(
        walk, tiny_artifact, origins):
    as_of = walk.index[-10]
    curve = by_step(walk, tiny_artifact, as_of, origins)
    steps = tiny_artifact.config.output_steps
    assert curve["steps"] == steps and len(curve["mae_vs_naive"]) == steps
    for h in range(1, steps + 1):
        record_h = track_record(walk, tiny_artifact, h, as_of, origins)
        assert curve["mae_vs_naive"][h - 1] == record_h["mae_vs_naive"][h - 1]
        assert curve["p_value_vs_naive"][h - 1] == pytest.approx(
            record_h["p_value_vs_naive"][h - 1], abs=1e-4)


def test_past_forecasts_are_the_forecasts_made_then_beside_the_close_that_day(
        walk, tiny_artifact):
    as_of, horizon = walk.index[-10], 2
    past = past_forecasts(walk, tiny_artifact, horizon, as_of)
    record = track_record(walk, tiny_artifact, horizon, as_of)
    assert len(past) == record["origins"]
    # Each is dated on the row `horizon` rows after the origin it was made at.
    first = walk.index.get_loc(pd.Timestamp(record["start"]))
    for position, row in ((first, past[0]), (first + len(past) - 1, past[-1])):
        made = forecast(walk, tiny_artifact, horizon, as_of=walk.index[position], level=None)
        target = walk.index[position + horizon]
        assert row["date"] == f"{target:%Y-%m-%d}"
        assert row["forecast"] == pytest.approx(made.closes[-1], rel=1e-5)
        assert row["actual"] == pytest.approx(walk["close"].loc[target], rel=1e-5)
    assert past[-1]["date"] <= f"{as_of:%Y-%m-%d}"  # nothing from after as_of


def test_the_pictures_read_nothing_after_as_of(walk, tiny_artifact):
    as_of = walk.index[-40]
    cut = walk.loc[:as_of].copy()
    cut.attrs = dict(walk.attrs)
    assert by_step(walk, tiny_artifact, as_of) == by_step(cut, tiny_artifact, as_of)
    past = [past_forecasts(f, tiny_artifact, 3, as_of) for f in (walk, cut)]
    assert past[0] == past[1] and len(past[0]) == 250
    full, short = (bands_at(f, tiny_artifact, 3, as_of) for f in (walk, cut))
    assert full.keys() == short.keys() and len(full) > 0
    for level in full:
        np.testing.assert_array_equal(full[level][0], short[level][0])
        np.testing.assert_array_equal(full[level][1], short[level][1])


def test_by_step_at_step_one_is_the_mae_ratio_worked_out_by_hand(walk, tiny_artifact):
    as_of = walk.index[-10]
    end = walk.index.get_loc(as_of)
    closes = walk["close"].to_numpy()
    origins = range(end - 250, end)  # the last 250 whose next close as_of knows
    ours = [abs(closes[r + 1] - forecast(walk, tiny_artifact, 1, walk.index[r],
                                         level=None).closes[0]) for r in origins]
    naive = [abs(closes[r + 1] - closes[r]) for r in origins]
    expected = np.mean(ours) / np.mean(naive)
    assert by_step(walk, tiny_artifact, as_of)["mae_vs_naive"][0] == pytest.approx(expected,
                                                                                   abs=1e-4)

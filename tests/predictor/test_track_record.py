"""The track record: numbers from past forecasts only, and a verdict that says them plainly."""

from __future__ import annotations

import pytest

from stockPredictor import prices
from stockPredictor.track_record import track_record, verdict


def record(ratio, horizon=1, origins=250, inside=0):
    return {"horizon": horizon, "origins": origins, "origins_in_training": inside,
            "mae_vs_naive": [None] * (horizon - 1) + [ratio]}


@pytest.mark.parametrize("ratio, says", [(0.97, "3% more accurate than assuming no change"),
                                         (1.031, "3% less accurate than assuming no change"),
                                         (1.004, "about as accurate as assuming no change"),
                                         (0.996, "about as accurate as assuming no change")])
def test_verdict_says_by_how_much(ratio, says):
    assert says in verdict(record(ratio))


def test_verdict_names_the_span_and_the_horizon():
    sentence = verdict(record(1.2, horizon=5, origins=180))
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
    ratio = result["mae_vs_naive"][2]
    assert ("more accurate" in result["verdict"]) == (ratio < 0.995)
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

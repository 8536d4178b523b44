"""Served equals backtested: a step's band is served exactly when evaluate scores it."""

import json

import numpy as np
import pytest

from stockPredictor.data.synthetic import synthetic
from stockPredictor.forecast import evaluate, predict, report
from stockPredictor.forecast.bands import MIN_CALIBRATION
from stockPredictor.forecast.metrics import band_flags
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS

H = 10


@pytest.fixture(scope="module")
def short():
    """The bundled general model and 300 days of a random walk: a short upload."""
    model = artifacts.load(BUNDLED_MODELS / "general")
    frame = synthetic("random_walk", n=300, seed=3, ticker="SHORT")
    result = evaluate.backtest(frame, model, horizon=H, start=frame.index[0])
    return model, frame, result


def test_each_step_of_a_forecast_has_a_band_exactly_where_evaluate_scores_one(short):
    model, frame, result = short
    lows = result.lows[model.name]
    partial = 0
    for i, origin in enumerate(result.origins):
        served = predict.forecast(frame, model, horizon=H, as_of=origin, level=0.8)
        backtested = ~np.isnan(lows[i])
        served_lows = np.full(H, np.nan) if served.lows is None else served.lows
        assert np.array_equal(~np.isnan(served_lows), backtested), origin
        np.testing.assert_allclose(served_lows[backtested], lows[i][backtested], rtol=1e-9)
        partial += 0 < backtested.sum() < H
    # Step h's first band needs MIN_CALIBRATION errors of origins from the first window's end:
    # origins where step 1 has a band and step H not yet number H - 1, each served in part.
    assert partial == H - 1


def test_a_partly_banded_answer_is_valid_json_with_nulls_where_no_band(short):
    model, frame, result = short
    first_row = model.windowing.rows_needed - 1
    row = first_row + MIN_CALIBRATION + 2  # step 1 to 3 have 60 past errors, step 4 on fewer
    answer = report.build(frame, model, horizon=H, as_of=frame.index[row], level=0.8)
    document = json.loads(json.dumps(answer.to_dict(), allow_nan=False))
    lows = [r["low"] for r in document["forecast"]]
    assert [low is not None for low in lows] == [True] * 3 + [False] * (H - 3)
    assert document["level"] == 0.8
    assert all(r["low"] is None for r in document["bands"]["0.8"][3:])
    assert document["outcome"]["inside"] is None  # some known days have no band to score
    assert "band" not in document["summary"]["headline"]  # the last day has none
    csv_rows = answer.to_csv().splitlines()
    assert csv_rows[0] == "date,forecast,low,high,actual" and ",,," in csv_rows[-1]


def test_evaluate_scores_band_coverage_on_one_common_set_of_origins(short):
    model, frame, result = short
    every = result.to_frame()
    complete = every.groupby("origin")[["low", "high"]].apply(
        lambda g: bool(g.notna().all().all()))
    data = result.to_dict()
    assert data["banded_origins"] == int(complete.sum()) < len(result.origins)
    # Coverage at each step by hand, on those origins only: the same set at every step.
    mine = every[(every["model"] == model.name)
                 & every["origin"].isin(complete.index[complete])]
    for step in (1, H):
        rows = mine[mine["step"] == step]
        inside = band_flags(rows["actual"].to_numpy()[:, None], rows["low"].to_numpy()[:, None],
                            rows["high"].to_numpy()[:, None])
        assert data["models"][model.name]["coverage"][step - 1] == pytest.approx(
            inside.mean(), abs=1e-4)
    assert len(mine) == data["banded_origins"] * H

"""Walk-forward backtests: metric formulas, baselines, no look-ahead, calibrated bands."""

import math

import numpy as np
import pandas as pd
import pytest

from stockPredictor.cli.evaluate import backtest_table as table
from stockPredictor.data.sources import load as load_prices
from stockPredictor.data.synthetic import synthetic
from stockPredictor.errors import DataError
from stockPredictor.forecast import bands, metrics
from stockPredictor.forecast.baselines import (BASELINES, drift_forecasts,
                                               long_run_drift_forecasts, moving_average_forecasts,
                                               naive_forecasts)
from stockPredictor.forecast.evaluate import backtest, summary
from stockPredictor.forecast.plot import save as plot
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS

# Two origins, two steps; every expected value below is worked out by hand.
ACTUAL = [[10.0, 20.0], [12.0, 18.0]]
FORECAST = [[11.0, 18.0], [12.0, 21.0]]
REFERENCE = [[12.0, 12.0], [14.0, 14.0]]


@pytest.fixture(scope="module")
def general():
    """The committed general model: NumPy runtime, no training needed."""
    return artifacts.load(BUNDLED_MODELS / "general")


def test_mae_rmse_mape_by_hand():
    # step 1 errors: |10-11| = 1, |12-12| = 0; step 2: |20-18| = 2, |18-21| = 3
    np.testing.assert_allclose(metrics.mae(ACTUAL, FORECAST), [0.5, 2.5])
    np.testing.assert_allclose(metrics.rmse(ACTUAL, FORECAST), [math.sqrt(0.5), math.sqrt(6.5)])
    np.testing.assert_allclose(metrics.mape(ACTUAL, FORECAST),
                               [100 * (1 / 10 + 0 / 12) / 2, 100 * (2 / 20 + 3 / 18) / 2])


def test_relative_mae_by_hand():
    # reference errors: step 1 |10-12|, |12-14| -> MAE 2; step 2 |20-12|, |18-14| -> MAE 6
    np.testing.assert_allclose(metrics.relative_mae(ACTUAL, FORECAST, REFERENCE),
                               [0.5 / 2, 2.5 / 6])
    np.testing.assert_allclose(metrics.relative_mae(ACTUAL, REFERENCE, REFERENCE), [1.0, 1.0])


def test_directional_accuracy_by_hand():
    last = [11.0, 15.0]
    # origin 1: forecast moves 0 and +7, actual -1 and +9; origin 2: -3 and +6, actual -3 and +3
    np.testing.assert_allclose(metrics.directional_accuracy(ACTUAL, FORECAST, last), [0.5, 1.0])
    # the naive forecast never moves, so it is right only when the price stands still
    np.testing.assert_allclose(metrics.directional_accuracy([[11.0], [16.0]], [[11.0], [15.0]],
                                                            last), [0.5])


def test_coverage_by_hand_leaves_out_missing_bands():
    low = [[9.0, 19.0], [13.0, np.nan]]
    high = [[11.0, 21.0], [14.0, np.nan]]
    # step 1: 10 in [9, 11], 12 not in [13, 14]; step 2: 20 in [19, 21], origin 2 has no band
    np.testing.assert_allclose(metrics.coverage(ACTUAL, low, high), [0.5, 1.0])


def test_metrics_skip_unknown_outcomes_and_check_shapes():
    np.testing.assert_allclose(metrics.mae([[10.0], [np.nan]], [[12.0], [5.0]]), [2.0])
    with pytest.raises(DataError, match="shape"):
        metrics.mae(ACTUAL, [[1.0, 2.0]])


def test_baselines_by_hand():
    closes = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    np.testing.assert_allclose(naive_forecasts(closes, np.array([4]), 2), [[11.0, 11.0]])
    # slope over the last 2 days: (11 - 4) / 2 = 3.5
    np.testing.assert_allclose(drift_forecasts(closes, np.array([4]), 2, window=2),
                               [[14.5, 18.0]])
    # at row 1 only one day of history: slope (2 - 1) / 1
    np.testing.assert_allclose(drift_forecasts(closes, np.array([1]), 2, window=2), [[3.0, 4.0]])
    np.testing.assert_allclose(moving_average_forecasts(closes, np.array([4, 0]), 1, window=3),
                               [[(4 + 7 + 11) / 3], [1.0]])


def test_conformal_quantile_uses_the_finite_sample_rank():
    scores = np.arange(1.0, 10.0)  # n = 9: rank ceil(10 * 0.8) = 8
    assert bands.conformal_quantile(scores, 0.8) == 8.0
    assert bands.conformal_quantile([4.0, 1.0, 3.0, 2.0], 0.8) == 4.0  # ceil(5 * 0.8) = 4
    assert bands.conformal_quantile([1.0, 2.0, 3.0], 0.8) == math.inf  # rank 4 of 3


def test_halfwidths_use_only_errors_known_at_the_origin():
    positions = np.arange(10, 20)
    errors = np.column_stack([positions - 10.0, positions - 10.0])  # error at o is o - 10
    width = bands.halfwidths(positions, errors, np.array([15]), level=0.5, calibration=4,
                             min_calibration=1)
    # step 1: origins 11..14 (errors 1..4), rank ceil(5 * 0.5) = 3 -> 3
    # step 2: origins 10..13 (errors 0..3), the outcome of 14 lands on 16 -> 2
    np.testing.assert_array_equal(width, [[3.0, 2.0]])
    changed = errors.copy()
    changed[5:] = 1000.0  # origins 15 and later: their outcomes come after origin 15
    np.testing.assert_array_equal(bands.halfwidths(positions, changed, np.array([15]), 0.5, 4, 1),
                                  width)
    short = bands.halfwidths(positions, errors, np.array([15]), 0.5, 4, min_calibration=5)
    assert np.isnan(short).all()


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2, "0.8", True])
def test_bad_level_is_refused(level):
    with pytest.raises(DataError, match="level"):
        bands.check_level(level)


@pytest.mark.slow
def test_no_origin_sees_the_future(tiny_artifact, walk):
    start, cut = walk.index[300], 360
    before = backtest(walk, tiny_artifact, horizon=5, start=start)
    shocked = walk.copy()
    shocked.iloc[cut + 1:, :4] *= 3.0  # a jump right after origin `cut`
    after = backtest(shocked, tiny_artifact, horizon=5, start=start)
    seen = np.asarray(before.origins <= walk.index[cut])
    assert seen.sum() == cut - 300 + 1 and (~seen).any()
    for name in before.forecasts:
        np.testing.assert_array_equal(before.forecasts[name][seen], after.forecasts[name][seen])
        np.testing.assert_array_equal(before.lows[name][seen], after.lows[name][seen])
        np.testing.assert_array_equal(before.highs[name][seen], after.highs[name][seen])
    assert not np.array_equal(before.actual[seen], after.actual[seen])  # outcomes do change


def test_origins_follow_range_stride_and_horizon(general):
    ibm = load_prices("IBM", "sample")
    result = backtest(ibm, general, horizon=10, start="2012-06-01", end="2012-12-31", stride=5)
    rows = ibm.index.get_indexer(result.origins)
    assert result.origins[0] == pd.Timestamp("2012-06-01") and set(np.diff(rows)) == {5}
    assert pd.Timestamp(result.dates[-1, -1]) <= pd.Timestamp("2012-12-31")
    np.testing.assert_array_equal(result.actual[:, 2], ibm["close"].to_numpy()[rows + 3])
    assert list(result.forecasts) == ["general", "general (raw)", *BASELINES]


def test_long_run_drift_by_hand():
    closes = np.array([100.0, 110.0, 105.0, 121.0])
    # at row 3: three daily log returns averaging log(121 / 100) / 3, compounded over h
    mean = np.log(1.21) / 3
    np.testing.assert_allclose(long_run_drift_forecasts(closes, np.array([3, 0]), 2),
                               [[121 * np.exp(mean), 121 * np.exp(2 * mean)], [100.0, 100.0]])


def test_in_training_means_inside_the_range_trained_on(general):
    ibm = load_prices("IBM", "sample")
    # The general model learned from 2000-03-01 (model.json's date range) to IBM's val_end.
    assert general.trained_from("IBM") == pd.Timestamp("2000-03-01")
    before = ibm[ibm.index < "2000-03-01"]
    assert len(before) == 0  # the bundled IBM starts with the training data itself
    # A series from before the training period: the same prices, dated 15 years earlier.
    early = ibm.iloc[:700].copy()
    early.index = early.index - pd.DateOffset(years=15)
    result = backtest(early, general, horizon=3)
    assert result.origins[0] < pd.Timestamp("1986-01-01")
    assert not result.in_training.any() and result.to_dict()["origins_in_training"] == 0
    assert "no origin lies inside" in table(result)
    inside = backtest(ibm, general, horizon=3, start="2005-01-03", end="2005-03-01")
    assert inside.in_training.all()
    mixed = general.in_training(pd.to_datetime(["1999-12-31", "2000-03-01", "2011-03-18",
                                                "2011-03-21"]), "IBM")
    assert mixed.tolist() == [False, True, True, False]


def test_default_range_starts_after_the_training_data(general):
    ibm = load_prices("IBM", "sample")
    until = general.trained_until("IBM")
    assert until == pd.Timestamp(general.metadata["data"]["IBM"]["val_end"])
    result = backtest(ibm, general, horizon=3)
    assert result.origins[0] > until and result.to_dict()["origins_in_training"] == 0
    assert "no origin lies inside the model's training period" in table(result)
    early = backtest(ibm, general, horizon=3, start="2010-01-04", end="2010-03-01")
    assert early.in_training.all()
    assert f"{len(early.origins)} of {len(early.origins)} origins lie inside" in table(early)


def test_bands_cover_a_random_walk_near_their_level(general):
    walk = synthetic("random_walk", n=1400, seed=3, start="2014-01-02")
    result = backtest(walk, general, horizon=10, level=0.8)
    assert len(result.origins) > 1000
    scores = result.metrics()
    for name in (general.name, "naive", "drift"):
        coverage = scores[name]["coverage"]
        assert np.all((0.70 <= coverage) & (coverage <= 0.90)), (name, coverage)
    wider = backtest(walk, general, horizon=10, level=0.95).metrics()["naive"]["coverage"]
    assert np.all(wider > scores["naive"]["coverage"]) and np.all(wider >= 0.88)


@pytest.mark.parametrize("kwargs,message", [
    ({"start": "2013-02-25"}, "the range 2013-02-25 to 2013-03-01 holds no origin"),
    ({"start": "2012-06-01", "end": "2012-06-05"}, "and 5 trading days after it"),
    ({"stride": 0}, "stride=0"),
    ({"horizon": 31}, "horizon=31"),
    ({"start": "soon"}, "start='soon' is not a date"),
])
def test_too_short_ranges_and_bad_settings_are_refused(general, kwargs, message):
    ibm = load_prices("IBM", "sample")
    with pytest.raises(DataError, match=message):
        backtest(ibm, general, **{"horizon": 5, **kwargs})


def test_a_range_without_a_full_window_before_it_is_refused(general):
    ibm = load_prices("IBM", "sample")
    first_origin = general.windowing.rows_needed - 1
    end = ibm.index[first_origin + 4]  # one trading day short of a 5-day outcome
    with pytest.raises(DataError, match=f"needs {first_origin + 1} rows of prices up to it"):
        backtest(ibm, general, horizon=5, start=ibm.index[0], end=end)
    assert len(backtest(ibm, general, horizon=4, start=ibm.index[0], end=end).origins) == 1


def test_to_dict_and_to_frame_shapes(general):
    ibm = load_prices("IBM", "sample")
    result = backtest(ibm, general, horizon=3, start="2012-10-01", end="2012-12-31")
    data = result.to_dict()
    assert data["origins"] == len(result.origins) and data["level"] == 0.8
    # The committed general model has a point policy, so the raw network is scored beside it.
    assert set(data["models"]) == {"general", "general (raw)", *BASELINES}
    for values in data["models"].values():
        assert set(values) == {"mae", "rmse", "mape", "mae_vs_naive", "p_value_vs_naive",
                               "directional_accuracy", "coverage", "interval_score",
                               "mae_relative", "mae_relative_vs_naive", "interval_score_log"}
        assert all(len(v) == 3 for v in values.values())
    assert data["models"]["naive"]["mae_vs_naive"] == [1.0, 1.0, 1.0]
    frame = result.to_frame()
    assert list(frame.columns) == ["origin", "date", "step", "model", "forecast", "actual",
                                   "low", "high"]
    assert len(frame) == len(result.origins) * 3 * len(data["models"])
    assert (frame["date"] > frame["origin"]).all()


def test_plot_writes_a_png(general, tmp_path):
    ibm = load_prices("IBM", "sample")
    result = backtest(ibm, general, horizon=2, start="2012-10-01")
    plot(result, tmp_path / "backtest.png")
    assert (tmp_path / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_weighs_every_ticker_the_same(general):
    ibm, msft = (backtest(load_prices(t, "sample"), general, horizon=3, start="2012-10-01")
                 for t in ("IBM", "MSFT"))
    pooled = summary([ibm, msft])
    assert pooled["tickers"] == ["IBM", "MSFT"] and pooled["model"] == "general"
    assert pooled["origins"] == len(ibm.origins) + len(msft.origins)
    assert pooled["start"] == "2012-10-01" and pooled["horizon"] == 3
    for metric in ("mae_vs_naive", "directional_accuracy", "coverage"):
        expected = (ibm.metrics()["general"][metric] + msft.metrics()["general"][metric]) / 2
        np.testing.assert_allclose(pooled[metric], expected, atol=1e-4)
    assert pooled["baselines"]["naive"]["mae_vs_naive"] == [1.0, 1.0, 1.0]
    assert set(pooled["baselines"]) == set(BASELINES)
    assert pooled["per_ticker"]["IBM"]["mae_vs_naive"] == ibm.to_dict()["models"]["general"][
        "mae_vs_naive"]


def test_summary_pools_only_like_backtests(general):
    ibm = load_prices("IBM", "sample")
    short, long = (backtest(ibm, general, horizon=h, start="2012-10-01") for h in (3, 4))
    with pytest.raises(DataError, match="only like ones can be pooled"):
        summary([short, long])
    with pytest.raises(DataError, match="no backtests"):
        summary([])

"""Scores in relative units: hand-worked values, scale invariance, no dominance by dear years."""

import math

import numpy as np
import pytest

from stockPredictor.data.sources import load as load_prices
from stockPredictor.errors import DataError
from stockPredictor.forecast import metrics
from stockPredictor.forecast.evaluate import UNITS, backtest, summary
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS

NAN = float("nan")


def test_mae_relative_by_hand():
    # Origin 1 closed at 100: errors 10 and 5, i.e. 0.10 and 0.05 of its close.
    # Origin 2 closed at 200: errors 20 and 20, i.e. 0.10 and 0.10.
    actual = [[110.0, 95.0], [220.0, 180.0]]
    forecast = [[100.0, 100.0], [200.0, 200.0]]
    np.testing.assert_allclose(metrics.mae_relative(actual, forecast, [100.0, 200.0]),
                               [0.10, 0.075])
    # The price-unit MAE of the same errors: (10 + 20) / 2 and (5 + 20) / 2.
    np.testing.assert_allclose(metrics.mae(actual, forecast), [15.0, 12.5])


def test_relative_mae_of_close_by_hand():
    # Closes 10 and 1000. Ours misses by 1 (10%) and by 10 (1%); the reference misses by
    # 0.5 (5%) and by 50 (5%). Relative: (0.10 + 0.01) / (0.05 + 0.05) = 1.1.
    # In price units the dear origin decides: (1 + 10) / (0.5 + 50) = 11 / 50.5.
    actual = [[11.0], [1010.0]]
    ours = [[10.0], [1000.0]]
    reference = [[10.5], [960.0]]
    np.testing.assert_allclose(metrics.relative_mae_of_close(actual, ours, reference,
                                                             [10.0, 1000.0]), [1.1])
    np.testing.assert_allclose(metrics.relative_mae(actual, ours, reference), [11 / 50.5])


def test_mae_relative_leaves_out_missing_outcomes_and_refuses_bad_closes():
    np.testing.assert_allclose(metrics.mae_relative([[12.0], [NAN]], [[10.0], [5.0]],
                                                    [10.0, 5.0]), [0.2])
    with pytest.raises(DataError, match="one each"):
        metrics.mae_relative([[1.0], [2.0]], [[1.0], [2.0]], [1.0])
    for bad in (0.0, -1.0, NAN):
        with pytest.raises(DataError, match="positive"):
            metrics.mae_relative([[1.0]], [[1.0]], [bad])


def test_log_interval_score_by_hand():
    # 80% band: alpha = 0.2, 2/alpha = 10. Band [100, 100 e^0.1]: log width 0.1.
    low, high = [[100.0, 100.0, 100.0]], [[100 * math.exp(0.1)] * 3]
    # Step 1 inside; step 2 above by 0.2 in logs: 0.1 + 10 * 0.2 = 2.1;
    # step 3 below by 0.05 in logs: 0.1 + 10 * 0.05 = 0.6.
    actual = [[105.0, 100 * math.exp(0.3), 100 * math.exp(-0.05)]]
    np.testing.assert_allclose(metrics.log_interval_score(actual, low, high, 0.8),
                               [0.1, 2.1, 0.6])
    # 95% band: 2/alpha = 40: 0.1 + 40 * 0.2 = 8.1.
    np.testing.assert_allclose(metrics.log_interval_score(actual, low, high, 0.95)[1], 8.1)


def test_log_interval_score_leaves_out_unknowns_and_refuses_what_has_no_log():
    scores = metrics.log_interval_score([[110.0, NAN], [NAN, 1.0]], [[100.0, 1.0], [1.0, NAN]],
                                        [[100 * math.e, 2.0], [2.0, NAN]], 0.8)
    np.testing.assert_allclose(scores[0], 1.0)  # log width 1, inside
    assert math.isnan(scores[1])
    with pytest.raises(DataError, match="lower bounds must be positive"):
        metrics.log_interval_score([[1.0]], [[0.0]], [[2.0]], 0.8)
    with pytest.raises(DataError, match="outcomes must be positive"):
        metrics.log_interval_score([[-1.0]], [[1.0]], [[2.0]], 0.8)
    with pytest.raises(DataError, match="level"):
        metrics.log_interval_score([[1.0]], [[1.0]], [[2.0]], 80)


def _random_case(seed=0, n=40, steps=3):
    rng = np.random.default_rng(seed)
    last = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    actual = last[:, None] * np.exp(rng.normal(0, 0.03, (n, steps)))
    forecast = last[:, None] * np.exp(rng.normal(0, 0.01, (n, steps)))
    half = np.exp(rng.uniform(0.02, 0.06, (n, steps)))
    return last, actual, forecast, forecast / half, forecast * half


def test_relative_scores_do_not_move_when_every_price_is_multiplied_by_150():
    last, actual, forecast, low, high = _random_case()
    naive = np.repeat(last[:, None], actual.shape[1], axis=1)
    k = 150.0
    np.testing.assert_allclose(metrics.mae_relative(k * actual, k * forecast, k * last),
                               metrics.mae_relative(actual, forecast, last), rtol=1e-12)
    np.testing.assert_allclose(
        metrics.relative_mae_of_close(k * actual, k * forecast, k * naive, k * last),
        metrics.relative_mae_of_close(actual, forecast, naive, last), rtol=1e-12)
    np.testing.assert_allclose(metrics.log_interval_score(k * actual, k * low, k * high, 0.8),
                               metrics.log_interval_score(actual, low, high, 0.8),
                               rtol=1e-9, atol=1e-12)
    # The price-unit scores scale with the prices.
    np.testing.assert_allclose(metrics.mae(k * actual, k * forecast),
                               k * metrics.mae(actual, forecast), rtol=1e-12)
    np.testing.assert_allclose(metrics.interval_score(k * actual, k * low, k * high, 0.8),
                               k * metrics.interval_score(actual, low, high, 0.8), rtol=1e-12)


def test_a_series_growing_150x_weighs_both_halves_the_same():
    # 200 origins whose close grows geometrically from 1 to 150. In the first half our
    # forecast misses by 1% of the close and naive by 2%; in the second half the reverse.
    # Relative units: (1% + 2%) / (2% + 1%) = 1, the two halves cancel. Price units: the
    # second half's closes are ~12x dearer (150^(1/2) on average), so it decides and
    # the ratio is far above 1.
    n = 200
    last = 150.0 ** (np.arange(n) / (n - 1))
    actual = last[:, None] * np.ones((n, 1))
    first = np.arange(n) < n // 2
    ours = actual + np.where(first, 0.01, 0.02)[:, None] * last[:, None]
    naive = actual - np.where(first, 0.02, 0.01)[:, None] * last[:, None]
    assert metrics.relative_mae_of_close(actual, ours, naive, last)[0] == pytest.approx(1.0)
    assert metrics.relative_mae(actual, ours, naive)[0] > 1.7
    # Bands: each half's band is 10% wide and every outcome inside, so each origin scores
    # log(1.1 / 1.0) whatever its price; in price units the last years dominate the mean.
    low, high = actual / 1.05, actual * 1.1 / 1.05
    scores = metrics.log_interval_score(actual, low, high, 0.8)
    assert scores[0] == pytest.approx(math.log(1.1))
    halves = [metrics.log_interval_score(actual[m], low[m], high[m], 0.8)[0]
              for m in (first, ~first)]
    assert halves[0] == pytest.approx(halves[1])
    price = [metrics.interval_score(actual[m], low[m], high[m], 0.8)[0] for m in (first, ~first)]
    assert price[1] > 10 * price[0]


@pytest.fixture(scope="module")
def ibm_and_dear_ibm():
    """IBM's sample prices and the same prices times 150, backtested by the general model."""
    model = artifacts.load(BUNDLED_MODELS / "general")
    ibm = load_prices("IBM", "sample")
    dear = ibm.copy()
    for column in ("open", "high", "low", "close"):
        dear[column] = ibm[column] * 150.0
    dear.attrs = dict(ibm.attrs)
    return [backtest(frame, model, horizon=5, start="2012-06-01", cache=ByteBoundedLRU(1 << 26))
            for frame in (ibm, dear)]


def test_backtest_relative_scores_are_scale_free(ibm_and_dear_ibm):
    cheap, dear = (r.metrics() for r in ibm_and_dear_ibm)
    for name in cheap:
        for metric in ("mae_relative", "mae_relative_vs_naive", "interval_score_log"):
            np.testing.assert_allclose(dear[name][metric], cheap[name][metric], rtol=1e-6,
                                       err_msg=f"{name} {metric}")
        np.testing.assert_allclose(dear[name]["mae"], 150 * cheap[name]["mae"], rtol=1e-6)
    assert cheap["naive"]["mae_relative_vs_naive"].tolist() == [1.0] * 5


def test_evaluate_says_which_unit_each_score_is_in(ibm_and_dear_ibm):
    data = ibm_and_dear_ibm[0].to_dict()
    for values in data["models"].values():
        assert set(values) <= set(data["units"]) == set(UNITS)
    assert data["units"]["interval_score"] == "price"
    assert "log" in data["units"]["interval_score_log"]
    assert "origin's close" in data["units"]["mae_relative"]
    pooled = summary(ibm_and_dear_ibm)
    assert set(pooled["units"]) == {"mae_vs_naive", "p_value_vs_naive", "directional_accuracy",
                                    "coverage", "mae_relative_vs_naive", "interval_score_log"}
    # Same relative errors on both copies: the pooled relative ratio is each one's.
    np.testing.assert_allclose(pooled["mae_relative_vs_naive"], metrics.rounded(
        ibm_and_dear_ibm[0].metrics()["general"]["mae_relative_vs_naive"]), atol=1e-4)

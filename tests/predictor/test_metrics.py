"""Diebold–Mariano test and interval score: every expected value is worked out by hand."""

import math

import numpy as np
import pytest

from stockPredictor.forecast import metrics
from stockPredictor.errors import DataError

NAN = float("nan")


def t4_two_sided_p(t):
    """P(|T| > |t|) for Student's t with 4 degrees of freedom, in closed form, without scipy.

    F(t) = 1/2 + (3/4) x - x^3 / 4 with x = t / sqrt(t^2 + 4), so p = 1 - (3/2) x + x^3 / 2.
    """
    x = abs(t) / math.sqrt(t * t + 4)
    return 1 - 1.5 * x + 0.5 * x ** 3


def test_t4_helper_matches_the_printed_table():
    # Student's t table: the 97.5% quantile with 4 degrees of freedom is 2.7764.
    assert t4_two_sided_p(2.776445) == pytest.approx(0.05, abs=1e-6)
    assert t4_two_sided_p(0.0) == 1.0


# --- Diebold–Mariano ---------------------------------------------------------------------------

def test_dm_horizon_1_by_hand():
    # d = [1, -1, 2, 0, 3]: n = 5, dbar = 5/5 = 1, deviations [0, -2, 1, -1, 2]
    # gamma_0 = (0 + 4 + 1 + 1 + 4) / 5 = 2, V = 2 / 5 = 0.4, DM = 1 / sqrt(0.4)
    # HLN factor = (5 + 1 - 2 + 0) / 5 = 0.8, DM* = sqrt(0.8 / 0.4) = sqrt(2)
    statistic, p = metrics.diebold_mariano([1, -1, 2, 0, 3], [0, 0, 0, 0, 0], 1)
    assert statistic == pytest.approx(math.sqrt(2), rel=1e-12)
    assert p == pytest.approx(t4_two_sided_p(math.sqrt(2)), rel=1e-9)
    assert p == pytest.approx(0.2302, abs=1e-4)  # 1 - sqrt(3)/2 + 1/(6 sqrt(3))


def test_dm_horizon_2_counts_the_lag_1_autocovariance():
    # d = [2, 3, 1, -1, 0]: dbar = 1, deviations [1, 2, 0, -2, -1]
    # gamma_0 = (1 + 4 + 0 + 4 + 1) / 5 = 2
    # gamma_1 = (2*1 + 0*2 + (-2)*0 + (-1)*(-2)) / 5 = 4/5 = 0.8
    # V = (2 + 2 * 0.8) / 5 = 0.72; factor = (5 + 1 - 4 + 2/5) / 5 = 0.48
    # DM*^2 = 1 / 0.72 * 0.48 = 2/3
    statistic, p = metrics.diebold_mariano([3, 4, 2, 0, 1], [1, 1, 1, 1, 1], 2)
    assert statistic == pytest.approx(math.sqrt(2 / 3), rel=1e-12)
    assert p == pytest.approx(t4_two_sided_p(math.sqrt(2 / 3)), rel=1e-9)
    assert p == pytest.approx(0.4601, abs=1e-4)
    # Without the lag: V = 2/5, DM* = sqrt(0.48 / 0.4); the lag must have changed the answer.
    assert statistic != pytest.approx(math.sqrt(1.2))


def test_dm_falls_back_to_bartlett_when_the_rectangular_variance_is_negative():
    # d = [3, -1, 3, -1, 1]: dbar = 1, deviations [2, -2, 2, -2, 0]
    # gamma_0 = 16/5 = 3.2, gamma_1 = (-4 - 4 - 4 + 0) / 5 = -2.4
    # rectangular: 3.2 + 2 * (-2.4) = -1.6 <= 0, so Bartlett weight 1 - 1/2 = 0.5:
    # V = (3.2 + 2 * 0.5 * (-2.4)) / 5 = 0.16, DM = 1 / 0.4 = 2.5
    # factor = 0.48, DM*^2 = 6.25 * 0.48 = 3
    statistic, p = metrics.diebold_mariano([3, -1, 3, -1, 1], [0, 0, 0, 0, 0], 2)
    assert statistic == pytest.approx(math.sqrt(3), rel=1e-12)
    assert p == pytest.approx(t4_two_sided_p(math.sqrt(3)), rel=1e-9)


def test_dm_two_pairs_by_hand():
    # d = [1, 3]: dbar = 2, gamma_0 = (1 + 1) / 2 = 1, V = 1/2, DM = 2 / sqrt(1/2)
    # factor = (2 + 1 - 2) / 2 = 1/2, DM* = 2; one degree of freedom is Cauchy:
    # p = 1 - (2/pi) arctan(2)
    statistic, p = metrics.diebold_mariano([1, 3], [0, 0], 1)
    assert statistic == pytest.approx(2.0, rel=1e-12)
    assert p == pytest.approx(1 - 2 / math.pi * math.atan(2), rel=1e-9)


def test_dm_swapping_the_forecasts_flips_the_sign_only():
    rng = np.random.default_rng(3)
    a, b = np.abs(rng.normal(0, 1, 60)), np.abs(rng.normal(0, 1.2, 60))
    statistic, p = metrics.diebold_mariano(a, b, 3)
    swapped, p_swapped = metrics.diebold_mariano(b, a, 3)
    assert statistic != 0 and swapped == pytest.approx(-statistic, rel=1e-12)
    assert p_swapped == pytest.approx(p, rel=1e-12)


def test_dm_finds_a_clearly_better_forecast():
    rng = np.random.default_rng(7)
    better, worse = np.abs(rng.normal(0, 1, 500)), np.abs(rng.normal(0, 1.5, 500))
    statistic, p = metrics.diebold_mariano(better, worse, 1)
    assert statistic < 0 and p < 0.01
    statistic, p = metrics.diebold_mariano(worse, better, 1)
    assert statistic > 0 and p < 0.01


def test_dm_does_not_reject_equally_good_forecasts():
    rng = np.random.default_rng(3)
    a, b = np.abs(rng.normal(0, 1, 500)), np.abs(rng.normal(0, 1, 500))
    assert metrics.diebold_mariano(a, b, 1)[1] > 0.5


def test_dm_rejects_about_5_percent_of_equal_overlapping_forecasts():
    # 3-step errors at consecutive origins share shocks (an MA(2)): the lags must absorb that.
    rng = np.random.default_rng(5)
    kernel = np.ones(3)
    p_values = []
    for shocks in rng.normal(size=(1000, 2, 102)):
        a, b = (np.abs(np.convolve(row, kernel, "valid")) for row in shocks)
        p_values.append(metrics.diebold_mariano(a, b, 3)[1])
    # 1000 draws: the binomial sd of a 5% rate is 0.7%; ignoring the overlap rejects ~16%.
    assert 0.025 < np.mean(np.array(p_values) < 0.05) < 0.08


def test_dm_drops_pairs_with_a_missing_loss():
    with_gaps = metrics.diebold_mariano([1, NAN, -1, 2, 5, 0, 3], [0, 0, 0, 0, NAN, 0, 0], 1)
    assert with_gaps == pytest.approx((math.sqrt(2), t4_two_sided_p(math.sqrt(2))))


@pytest.mark.parametrize("loss_a, loss_b, horizon", [
    ([1.0], [0.0], 1),                      # one pair
    ([1.0, NAN, 2.0], [0.0, 1.0, NAN], 1),  # one pair left once NaNs go
    ([], [], 1),
    ([1.0, 3.0], [0.0, 0.0], 2),            # factor (2 - 2)(2 - 2 + 1) / 4 = 0
    ([1.0, 3.0, 2.0], [0.0, 0.0, 0.0], 3),  # factor (3 - 3)(1) / 9 = 0
    ([1.0, 3.0, 2.0], [0.0, 0.0, 0.0], 6),  # fewer pairs than steps: no test
])
def test_dm_is_nan_with_too_few_pairs(loss_a, loss_b, horizon):
    statistic, p = metrics.diebold_mariano(loss_a, loss_b, horizon)
    assert math.isnan(statistic) and math.isnan(p)


def test_dm_losses_that_differ_by_a_constant():
    assert metrics.diebold_mariano([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 1) == (0.0, 1.0)
    assert metrics.diebold_mariano([1.5, 2.5, 3.5], [1.0, 2.0, 3.0], 1) == (math.inf, 0.0)
    assert metrics.diebold_mariano([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], 2) == (-math.inf, 0.0)


@pytest.mark.parametrize("horizon", [0, -1, 1.5, "2", True, None])
def test_dm_rejects_a_bad_horizon(horizon):
    with pytest.raises(DataError) as info:
        metrics.diebold_mariano([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], horizon)
    assert repr(horizon) in str(info.value) and "int >= 1" in str(info.value)


def test_dm_rejects_mismatched_or_2d_losses():
    with pytest.raises(DataError, match=r"\(3,\).*\(2,\)"):
        metrics.diebold_mariano([1.0, 2.0, 3.0], [0.0, 0.0], 1)
    with pytest.raises(DataError, match="1-D"):
        metrics.diebold_mariano([[1.0, 2.0]], [[0.0, 0.0]], 1)


def test_dm_steps_tests_column_h_at_horizon_h():
    # Column 1 is the horizon-1 example above, column 2 the horizon-2 one; in columns 3 and 4
    # a is 1 below b at every origin; column 5 has 5 origins for 5 steps, too few for the test.
    loss_a = np.column_stack([[1, -1, 2, 0, 3], [3, 4, 2, 0, 1], [0] * 5, [0] * 5,
                              [9, 8, 7, 1, 0]]).astype(float)
    loss_b = np.column_stack([[0] * 5, [1] * 5, [1] * 5, [1] * 5, [1] * 5]).astype(float)
    statistics, p_values = metrics.diebold_mariano_steps(loss_a, loss_b)
    assert statistics.shape == p_values.shape == (5,)
    np.testing.assert_allclose(statistics[:2], [math.sqrt(2), math.sqrt(2 / 3)], rtol=1e-12)
    np.testing.assert_allclose(p_values[:2], [t4_two_sided_p(math.sqrt(2)),
                                              t4_two_sided_p(math.sqrt(2 / 3))], rtol=1e-9)
    # Columns 3 and 4 have no variance: -inf, p = 0.
    np.testing.assert_array_equal(statistics[2:4], [-math.inf, -math.inf])
    np.testing.assert_array_equal(p_values[2:4], [0.0, 0.0])
    assert math.isnan(statistics[4]) and math.isnan(p_values[4])


def test_dm_steps_rejects_mismatched_shapes():
    with pytest.raises(DataError, match=r"\(4, 2\).*\(4, 3\)"):
        metrics.diebold_mariano_steps(np.zeros((4, 2)), np.zeros((4, 3)))


# --- interval score ---------------------------------------------------------------------------

# Three origins, two steps. Step 1 has the band [10, 12] each time and outcomes inside, 1 below
# and 0.5 above it; step 2 has one usable origin (the others lack an outcome or a bound).
ACTUAL = [[11.0, 20.0], [9.0, NAN], [12.5, 21.0]]
LOW = [[10.0, 19.0], [10.0, 19.0], [10.0, NAN]]
HIGH = [[12.0, 22.0], [12.0, 22.0], [12.0, 22.0]]


def test_interval_score_by_hand():
    # level 0.8: alpha = 0.2, 2/alpha = 10
    # step 1: inside 2; below 2 + 10 * (10 - 9) = 12; above 2 + 10 * (12.5 - 12) = 7 -> 21/3 = 7
    # step 2: only origin 1 counts, inside [19, 22]: width 3
    np.testing.assert_allclose(metrics.interval_score(ACTUAL, LOW, HIGH, 0.8), [7.0, 3.0])
    # level 0.9: 2/alpha = 20 -> step 1: (2 + 22 + 12) / 3 = 12
    np.testing.assert_allclose(metrics.interval_score(ACTUAL, LOW, HIGH, 0.9), [12.0, 3.0])


def test_interval_score_step_without_outcomes_is_nan():
    scores = metrics.interval_score([[11.0, NAN]], [[10.0, 10.0]], [[12.0, 12.0]], 0.8)
    assert scores[0] == pytest.approx(2.0) and math.isnan(scores[1])


@pytest.mark.parametrize("level", [0, 1, 80, -0.5, "0.8", None, True])
def test_interval_score_rejects_a_bad_level(level):
    with pytest.raises(DataError) as info:
        metrics.interval_score(ACTUAL, LOW, HIGH, level)
    assert repr(level) in str(info.value) and "between 0 and 1" in str(info.value)


def test_interval_score_rejects_mismatched_shapes():
    with pytest.raises(DataError, match="shape"):
        metrics.interval_score(ACTUAL, LOW, [[12.0, 22.0]], 0.8)

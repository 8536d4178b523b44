"""Bands that follow volatility: near their level before and after a regime change."""

from __future__ import annotations

import numpy as np
import pytest

from stockPredictor.forecast import bands
from stockPredictor.forecast.metrics import band_flags, coverage_of

CALM, STORM = 0.005, 0.025  # daily volatility before and after the change
CHANGE = 2000


@pytest.fixture(scope="module")
def regime():
    """Closes whose daily volatility jumps fivefold at row CHANGE; naive forecasts of them."""
    rng = np.random.default_rng(11)
    sigma = np.where(np.arange(4000) < CHANGE, CALM, STORM)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0, sigma)))
    positions = np.arange(0, len(closes))
    naive = np.repeat(closes[:, None], 30, axis=1)
    errors = bands.log_errors(closes, positions, naive)
    return closes, positions, naive, errors


def _coverage(regime, rows, decay):
    closes, positions, naive, errors = regime
    width = bands.widths(closes, positions, errors, rows, 0.8, decay=decay)
    lows, highs = bands.band(naive[rows], width)
    targets = rows[:, None] + np.arange(1, 31)
    return coverage_of(band_flags(closes[targets], lows, highs))


def test_scaled_bands_cover_near_their_level_before_and_after_the_change(regime):
    before = _coverage(regime, np.arange(400, CHANGE - 30), bands.VOLATILITY_DECAY)
    after = _coverage(regime, np.arange(CHANGE + 100, 4000 - 30), bands.VOLATILITY_DECAY)
    for coverage in (before, after):
        assert 0.74 <= coverage.min() and coverage.max() <= 0.86, coverage


def test_unscaled_bands_miss_the_storm_that_scaled_ones_catch(regime):
    # The first 150 days of the storm: the unscaled band still reads the calm year's errors.
    start = np.arange(CHANGE + 5, CHANGE + 150)
    unscaled = _coverage(regime, start, None)
    scaled = _coverage(regime, start, bands.VOLATILITY_DECAY)
    assert unscaled[:10].max() < 0.5
    assert scaled[:10].min() > 0.7


def test_volatility_reads_the_last_returns_only_by_hand():
    closes = np.exp(np.cumsum(np.random.default_rng(2).normal(0.0, 0.01, 34)))
    rows = np.array([25])
    returns = np.diff(np.log(closes[:26]))
    weights = 0.5 ** np.arange(len(returns))[::-1]
    expected = np.sqrt(np.sum(weights * returns ** 2) / np.sum(weights))
    np.testing.assert_allclose(bands.volatility(closes, rows, decay=0.5), [expected])
    # Too few returns: no volatility, hence no band.
    assert np.isnan(bands.volatility(closes, np.array([5]), decay=0.5)[0])
    # Rows beyond the window do not matter: only the last ``window`` returns are read.
    changed = closes.copy()
    changed[:3] *= 2
    np.testing.assert_array_equal(bands.volatility(changed, np.array([30]), window=25),
                                  bands.volatility(closes, np.array([30]), window=25))


def test_no_band_from_too_few_past_errors(regime):
    closes, positions, naive, errors = regime
    # Origin 150 at step 1: 150 - 1 errors known but volatility needs 20 returns, so the scores
    # start at row 20; below MIN_CALIBRATION of them there is no band at all.
    row = 20 + bands.MIN_CALIBRATION - 1
    width = bands.widths(closes, positions, errors, np.array([row, row + 2]), 0.8)
    assert np.isnan(width[0, 0]) and not np.isnan(width[1, 0])

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


@pytest.fixture(scope="module")
def episodes():
    """Closes whose daily volatility jumps from 0.8% to 3.8% every 400 days and decays back
    with a 15-day half-life; naive forecasts of them; origins from row 1400 on."""
    rng = np.random.default_rng(5)
    days = np.arange(6000)
    sigma = 0.008 + 0.03 * 0.5 ** ((days % 400) / 15.0)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0, sigma)))
    positions = np.arange(len(closes))
    naive = np.repeat(closes[:, None], 30, axis=1)
    errors = bands.log_errors(closes, positions, naive)
    return closes, positions, naive, errors, np.arange(1400, len(closes) - 30)


def _scored(episodes, phi):
    closes, positions, naive, errors, rows = episodes
    width = bands.widths(closes, positions, errors, rows, 0.8, phi=phi)
    lows, highs = bands.band(naive[rows], width)
    actual = closes[rows[:, None] + np.arange(1, 31)]
    flags = band_flags(actual, lows, highs)
    # The interval (Winkler) score on log prices at 80%, written out here.
    lo, hi, y = np.log(lows), np.log(highs), np.log(actual)
    score = hi - lo + 10 * np.maximum(lo - y, 0) + 10 * np.maximum(y - hi, 0)
    return flags, score


def test_term_structure_band_covers_every_step_after_jumps_that_decay(episodes):
    flags, _ = _scored(episodes, bands.TERM_PHI)
    coverage = coverage_of(flags)
    assert len(coverage) == 30
    assert 0.75 <= coverage.min() and coverage.max() <= 0.85, coverage


def test_term_structure_beats_todays_volatility_carried_flat(episodes):
    # Long after a jump the slow EWMA still remembers it; a month out, volatility has returned
    # to its long-run level, which the term structure expects and a flat scale does not.
    rows = episodes[-1]
    calm = (rows % 400) > 200
    term_flags, term_score = _scored(episodes, bands.TERM_PHI)
    flat_flags, flat_score = _scored(episodes, 1.0)
    term_far = coverage_of(term_flags[calm])[19:].mean()
    flat_far = coverage_of(flat_flags[calm])[19:].mean()
    assert term_far > flat_far + 0.01, (term_far, flat_far)
    assert np.nanmean(term_score) < 0.995 * np.nanmean(flat_score)


def test_phi_one_is_todays_volatility_carried_flat(regime):
    # Each step's conformal quantile absorbs a constant factor: sqrt(h) times today's
    # volatility gives the same band as today's volatility alone.
    closes, positions, naive, errors = regime
    rows = np.arange(600, 700)
    flat = bands.widths(closes, positions, errors, rows, 0.8, phi=1.0)
    sigma = bands.volatility(closes, np.arange(len(closes)))
    scores = errors / sigma[:, None]
    by_hand = bands.halfwidths(positions, scores, rows, 0.8) * sigma[rows, None]
    np.testing.assert_allclose(flat, by_hand, rtol=1e-9)

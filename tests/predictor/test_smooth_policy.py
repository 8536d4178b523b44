"""Smooth point policies: each form recovers weights known by construction; no future leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockPredictor.training import smooth_policy as sp


def scaled_fold(weights_star, n=400, seed=0, ticker="SYN", label="f") -> sp.Fold:
    """A fold whose raw move at step h is the true log move divided by weights_star[h].

    Serving weight w_h scales the move to (w_h / w*_h) times the truth: exact at w_h = w*_h,
    so the MAE-minimising weight of each step is w*_h by construction.
    """
    rng = np.random.default_rng(seed)
    steps = len(weights_star)
    last = 100 * np.exp(rng.normal(0, 0.2, n))
    true_moves = np.cumsum(rng.normal(0, 0.02, (n, steps)), axis=1)
    actual = last[:, None] * np.exp(true_moves)
    dates = pd.bdate_range("2001-01-01", periods=n)
    return sp.Fold(ticker, label, dates, last, actual, true_moves / np.asarray(weights_star))


def test_a_path_twice_the_truth_gets_half_of_it():
    # raw move = 2 x truth: c = 0.5 serves the truth exactly (zero error), any other c does not.
    fold = scaled_fold([0.5] * 6)
    weights, params = sp.fit_constant([fold])
    assert params["c"] == 0.5
    assert params["t"] > 10  # naive's errors against none: overwhelming evidence
    np.testing.assert_allclose(weights, 0.5)


def test_a_path_half_the_truth_gets_the_whole_move():
    # raw move = 0.5 x truth: the error |e^r - e^(c r / 2)| falls as c grows to 2, so on
    # [0, 1] the best c is 1, the largest offered.
    weights, params = sp.fit_constant([scaled_fold([2.0] * 6)])
    assert params["c"] == 1.0
    assert np.all(weights >= 0.99)


def test_a_move_unrelated_to_the_truth_serves_no_change():
    rng = np.random.default_rng(3)
    fold = scaled_fold([1.0] * 5, n=600, seed=3)
    noise = sp.Fold("N", "f", fold.dates, fold.last, fold.actual,
                    rng.normal(0, 0.02, fold.moves.shape))
    for form in sp.FORMS:
        weights, _ = sp.fit_form(form, [noise])
        assert np.all(weights == 0.0), form


def test_the_curve_recovers_its_own_shape():
    truth = 0.8 * (1 - np.exp(-np.arange(1, 31) / 4.0))  # c = 0.8, tau = 4
    weights, params = sp.fit_curve([scaled_fold(truth, seed=1)])
    np.testing.assert_allclose(weights, truth, atol=0.03)
    assert params["c"] == pytest.approx(0.8, abs=0.02)
    assert params["tau"] == pytest.approx(4.0, rel=0.1)


def test_isotonic_pools_a_dip_into_a_non_decreasing_path():
    # Per step the best weights are 0.8, 0.4, 0.6 (on policy_fit's grid); pooled adjacent
    # violators: (0.8 + 0.4 + 0.6) / 3 = 0.6 for all three.
    folds = [scaled_fold([0.8, 0.4, 0.6], seed=s, label=f"f{s}") for s in (1, 2)]
    np.testing.assert_allclose(sp.fit_per_step(folds), [0.8, 0.4, 0.6], atol=0.01)
    np.testing.assert_allclose(sp.fit_isotonic(folds), [0.6, 0.6, 0.6], atol=0.01)


@pytest.mark.parametrize("values, weights, expected", [
    ([1, 3, 2, 4], None, [1, 2.5, 2.5, 4]),
    ([3, 2, 1], None, [2, 2, 2]),
    ([1, 0], [3, 1], [0.75, 0.75]),
    ([0, 0.1, 0.5], None, [0, 0.1, 0.5]),
])
def test_pava_by_hand(values, weights, expected):
    np.testing.assert_allclose(sp.pava(values, weights), expected)


def test_pava_is_non_decreasing_and_keeps_the_mean():
    values = np.random.default_rng(5).normal(size=50)
    fitted = sp.pava(values)
    assert np.all(np.diff(fitted) >= -1e-12)
    assert fitted.mean() == pytest.approx(values.mean())


def test_weight_zero_is_naive_and_smoothness_is_the_largest_jump():
    fold = scaled_fold([0.5] * 4)
    table = sp.ratio_table([fold])
    np.testing.assert_allclose(table[0, :, 0], 1.0)  # weight 0: naive's own error
    np.testing.assert_allclose(table[0, :, 100], 0.0, atol=1e-12)  # 0.5: exact
    assert sp.smoothness([0.0, 0.2, 0.25, 0.25]) == pytest.approx(0.2)
    assert sp.smoothness([0.58] * 30) == 0.0


def test_a_step_worse_than_naive_gets_a_small_one_sided_p():
    # Serving the whole of a move 3x the truth is clearly worse than no change.
    fold = scaled_fold([1 / 3] * 3, n=500)
    _, p_worse = sp.step_tests([fold], np.ones(3))
    assert np.all(p_worse < 0.01)
    _, p_better = sp.step_tests([scaled_fold([0.5] * 3)], np.full(3, 0.5))
    assert np.all(p_better > 0.99)


def test_validation_folds_read_nothing_after_val_end(tiny_artifact, walk):
    split = tiny_artifact.metadata["data"]["WALK"]
    folds, _ = sp.validation_folds(tiny_artifact, {"WALK": walk}, years=1, count=3,
                                   min_origins=10)
    assert folds and folds[0].label == "val"
    index = walk.index
    val_end = index.get_loc(pd.Timestamp(split["val_end"]))
    steps = folds[0].moves.shape[1]
    for fold in folds:
        assert index.get_loc(fold.dates[-1]) + steps <= val_end
    later = walk.copy()
    later.loc[later.index > pd.Timestamp(split["val_end"]), "close"] *= 5
    again, _ = sp.validation_folds(tiny_artifact, {"WALK": later}, years=1, count=3,
                                   min_origins=10)
    for a, b in zip(folds, again):
        np.testing.assert_array_equal(a.moves, b.moves)
        np.testing.assert_array_equal(a.actual, b.actual)


@pytest.mark.parametrize("seed, noise", [(0, 0.03), (1, 0.05)])
def test_a_weak_signal_is_shrunk_by_its_evidence(seed, noise):
    # A move 0.15 x the truth plus noise: the best c is positive, but the evidence is weak, so
    # the served c is c * max(0, 1 - 1/t^2) (policy_fit's rule): below c, and 0 when t <= 1.
    fold = scaled_fold([1.0] * 5, n=300, seed=seed)
    rng = np.random.default_rng(100 + seed)
    weak = sp.Fold("W", "f", fold.dates, fold.last, fold.actual,
                   0.15 * fold.moves + rng.normal(0, noise, fold.moves.shape))
    weights, params = sp.fit_constant([weak])
    c, t = params["c"], params["t"]
    assert 0 < c < 1
    expected = c * (1 - 1 / t ** 2) if t > 1 else 0.0
    np.testing.assert_allclose(weights, expected, atol=0.006)
    assert np.all(weights < c)


def test_the_entry_is_one_weight_for_every_step_and_the_policy_reads_it(tiny_artifact, walk):
    from stockPredictor.model.policy import Policy

    entry = sp.fit_entry(tiny_artifact, {"WALK": walk}, years=1, count=3, min_origins=10)
    assert len(set(entry["weights"])) == 1 and 0.0 <= entry["weights"][0] <= entry["c"]
    assert entry["end"] <= tiny_artifact.metadata["data"]["WALK"]["val_end"]
    model = type("M", (), {"metadata": {"policy": entry}, "name": "m",
                           "config": tiny_artifact.config})()
    assert Policy.of(model).weights == tuple(entry["weights"])


def test_without_a_fold_every_step_serves_no_change(tiny_artifact, walk):
    entry = sp.fit_entry(tiny_artifact, {"WALK": walk}, years=1, count=3, min_origins=10_000)
    assert entry["weights"] == [0.0] * tiny_artifact.config.output_steps
    assert "no validation fold" in entry["reason"]
    assert "no change" in sp.describe(entry)


def test_the_committed_general_models_30_day_path_moves_from_day_one():
    # The served path is the network's path shrunk by one weight, so it bends where the network
    # bends and nowhere else: never flat for days and then turning (the old per-step policy
    # served exactly no change for days 1-10 and the network's move from day 11).
    from stockPredictor.data import sample
    from stockPredictor.forecast.predict import forecast
    from stockPredictor.forecast.tables import table_for
    from stockPredictor.lru import ByteBoundedLRU
    from stockPredictor.model import artifacts
    from stockPredictor.settings import BUNDLED_MODELS

    model = artifacts.load(BUNDLED_MODELS / "general")
    weights = np.array(model.metadata["policy"]["weights"])
    assert len(weights) == 30 and sp.smoothness(weights) <= 0.1
    assert model.metadata["policy"]["fitted_on"] == "validation folds"
    frame = sample.from_sample("MSFT")
    served = forecast(frame, model, 30, cache=ByteBoundedLRU(1 << 26)).closes
    row = len(frame) - 1
    raw = table_for(frame, model, ByteBoundedLRU(1 << 26)).forecasts([row], 30, raw=True)[0]
    last = frame["close"].iloc[-1]
    served_moves, raw_moves = np.log(served / last), np.log(raw / last)
    assert np.all(np.abs(served_moves[:10]) > 0), served_moves[:10]
    np.testing.assert_allclose(served_moves, weights * raw_moves, rtol=1e-9, atol=1e-12)

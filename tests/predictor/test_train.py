"""Training: repeatable with a seed, progress shown, scaling fitted on training data only."""

import numpy as np
import pytest

from stockPredictor.training import train
from stockPredictor.model.windowing import time_split
from stockPredictor.errors import DataError
from tests.conftest import TINY_MODEL, TINY_TRAINING

pytestmark = pytest.mark.slow  # trains small models with Keras


def test_same_seed_same_model(tmp_path, walk, tiny_artifact):
    again = train.fit({"WALK": walk}, TINY_MODEL, TINY_TRAINING, tmp_path / "again",
                      report=lambda line: None)
    x = tiny_artifact.windowing.inputs(walk, np.arange(50, 60))
    np.testing.assert_array_equal(again.model(x), tiny_artifact.model(x))


def test_progress_reports_epochs_losses_and_time_left(tmp_path, walk):
    lines = []
    config = TINY_TRAINING.__class__(epochs=2, batch_size=32, patience=5, seed=3)
    train.fit({"WALK": walk}, TINY_MODEL, config, tmp_path / "m", report=lines.append)
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2
    assert "loss" in epochs[0] and "val_loss" in epochs[0] and "left" in epochs[0]
    assert any(line.startswith("saved ") for line in lines)


def test_scaler_is_fitted_on_every_tickers_training_split_only(walk):
    other = walk.copy()
    other[["open", "high", "low", "close"]] = other[["open", "high", "low", "close"]] ** 1.5
    frames = {"A": walk, "B": other}
    windowing, data, splits = train.prepare(frames, TINY_MODEL, TINY_TRAINING)
    returns = np.concatenate([np.diff(np.log(time_split(f, 0.15, 0.15)[0]["close"]))
                              for f in frames.values()])
    assert np.isclose(windowing.scaler_.mean_[0], returns.mean())
    assert np.isclose(windowing.scaler_.scale_[0], returns.std())
    # Changing the validation and test periods must not move the scaler.
    shocked = {t: f.copy() for t, f in frames.items()}
    for f in shocked.values():
        f.iloc[-100:, :4] *= np.linspace(1, 5, 100)[:, None]
    assert np.isclose(train.prepare(shocked, TINY_MODEL, TINY_TRAINING)[0].scaler_.scale_[0],
                      windowing.scaler_.scale_[0])
    assert sum(len(x) for x, _ in data.values()) > 0


def test_test_metrics_compare_with_naive(tiny_artifact):
    metrics = tiny_artifact.metadata["test_metrics"]
    assert len(metrics["mae"]) == TINY_MODEL.output_steps
    ratio = np.array(metrics["mae"]) / np.array(metrics["naive_mae"])
    np.testing.assert_allclose(metrics["mae_vs_naive"], ratio, atol=1e-3)


def test_a_short_ticker_only_feeds_the_splits_it_can_fill(walk):
    short = walk.iloc[:60]  # 42 / 9 / 9 rows: too few for a validation or test window
    lines = []
    _, with_short, _ = train.prepare({"A": walk, "S": short}, TINY_MODEL, TINY_TRAINING,
                                     lines.append)
    _, alone, _ = train.prepare({"A": walk}, TINY_MODEL, TINY_TRAINING, lines.append)
    assert len(with_short["train"][0]) == len(alone["train"][0]) + 42 - 1 - 5 - 5 + 1
    assert len(with_short["val"][0]) == len(alone["val"][0])
    assert any(line.startswith("S: no val windows") for line in lines)
    with pytest.raises(DataError, match="no ticker has enough prices for a val split"):
        train.prepare({"S": short}, TINY_MODEL, TINY_TRAINING, lines.append)


def test_held_out_summary_agrees_with_a_backtest_of_the_test_period(tiny_artifact, walk):
    from stockPredictor.forecast import evaluate

    split = tiny_artifact.metadata["data"]["WALK"]
    text = train.held_out_summary(tiny_artifact, {"WALK": walk})
    first_test_day = walk.index[walk.index > split["val_end"]][0].date()
    assert text.startswith(f"On its held-out test period ({first_test_day} to "
                           f"{split['test_end']}), the model's error relative to the naive "
                           f"forecast's was ")
    for h in (1, TINY_MODEL.output_steps):
        # The same origins: from the last validation day, outcomes inside the test split.
        result = evaluate.backtest(walk, tiny_artifact, horizon=h, start=split["val_end"],
                                   end=split["test_end"])
        at = "at 1 trading day ahead" if h == 1 else f"at {h}"
        ratio = result.metrics()["walk"]["mae_vs_naive"][h - 1]
        assert f"{ratio:.2f} {at} (" in text
    assert text.endswith("Below 1 beats the naive forecast (no change from the last close); "
                         "stock-predictor evaluate shows every step and baseline.")


@pytest.mark.parametrize("args, words", [
    ((1, 0.97, 0.01, 200, 0.4), "0.97 at 1 trading day ahead (better than naive, p = 0.01)"),
    ((30, 1.04, 0.0004, 200, 1.0), "1.04 at 30 (worse than naive, p < 0.001)"),
    ((1, 0.99, 0.41, 200, 1.0), "0.99 at 1 trading day ahead (no measurable difference, "
                                "p = 0.41)"),
    ((5, 0.90, 0.001, 12, 1.0), "0.90 at 5 (12 forecasts, too few to judge)"),
    ((5, 1.0, 1.0, 200, 0.0), "1.00 at 5 (it serves the naive forecast there)"),
    ((5, None, float("nan"), 0, 1.0), "not measurable at 5 (no test forecast reaches that far)"),
    ((5, 1.02, 0.2, 200, None), "1.02 (no measurable difference, p = 0.20)"),
])
def test_held_out_words_claim_a_difference_only_when_it_is_measurable(args, words):
    assert train._step_words(*args) == words

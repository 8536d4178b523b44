"""Splits, scaling and windows: shapes, targets, round trips, and no leakage."""

import numpy as np
import pytest

from stockPredictor.model.windowing import Windowing, time_split
from stockPredictor.errors import DataError


def test_time_split_is_ordered_and_disjoint(walk):
    train, val, test = time_split(walk, 0.15, 0.15)
    assert len(train) + len(val) + len(test) == len(walk)
    assert train.index[-1] < val.index[0] and val.index[-1] < test.index[0]
    assert len(val) == round(0.15 * len(walk))


def test_time_split_refuses_tiny_frames(walk):
    with pytest.raises(DataError, match="cannot be split"):
        time_split(walk.iloc[:3], 0.15, 0.15)


@pytest.mark.parametrize("target", ["log_return", "minmax"])
def test_window_shapes(walk, target):
    w = Windowing(target, window=7, output_steps=3).fit([walk])
    x, y = w.transform(walk)
    rows = len(walk) - (1 if target == "log_return" else 0)
    assert x.shape == (rows - 7 - 3 + 1, 7, 1)
    assert y.shape == (rows - 7 - 3 + 1, 3)
    assert x.dtype == np.float32


@pytest.mark.parametrize("target", ["log_return", "minmax"])
def test_targets_decode_back_to_the_real_future_closes(walk, target):
    window, steps = 6, 4
    w = Windowing(target, window=window, output_steps=steps).fit([walk])
    x, y = w.transform(walk)
    close = walk["close"].to_numpy()
    lag = 1 if target == "log_return" else 0
    for i in (0, 17, len(x) - 1):
        last = close[i + window - 1 + lag]  # the close on the window's last day
        future = close[i + window + lag:i + window + lag + steps]
        np.testing.assert_allclose(w.decode(y[i:i + 1], last)[0], future, rtol=1e-5)


@pytest.mark.parametrize("target", ["log_return", "minmax"])
def test_forecast_inputs_match_training_windows(walk, target):
    window = 8
    w = Windowing(target, window=window, output_steps=2).fit([walk])
    x, _ = w.transform(walk)
    lag = 1 if target == "log_return" else 0
    ends = np.array([window - 1 + lag, 100, 250])
    np.testing.assert_array_equal(w.inputs(walk, ends), x[ends - window + 1 - lag])
    np.testing.assert_array_equal(w.inputs(walk)[0], w.inputs(walk, [len(walk) - 1])[0])


def test_scaler_sees_the_training_split_only(walk):
    train, val, test = time_split(walk)
    w = Windowing("log_return", window=5, output_steps=2).fit([train])
    returns = np.diff(np.log(train["close"].to_numpy()))
    assert w.scaler_.mean_[0] == pytest.approx(returns.mean())
    assert w.scaler_.scale_[0] == pytest.approx(returns.std())
    everything = np.diff(np.log(walk["close"].to_numpy()))
    assert w.scaler_.scale_[0] != pytest.approx(everything.std(), rel=1e-6)


def test_log_return_inputs_are_scale_free(walk):
    w = Windowing("log_return", window=10, output_steps=3).fit([walk])
    richer = walk.copy()
    richer[["open", "high", "low", "close"]] *= 1000.0
    np.testing.assert_allclose(w.inputs(richer), w.inputs(walk), atol=1e-5)


def test_too_few_rows_is_a_clear_error(walk):
    w = Windowing("log_return", window=30, output_steps=5).fit([walk])
    with pytest.raises(DataError, match="at least 36"):
        w.transform(walk.iloc[:20])
    with pytest.raises(DataError, match="at least 31"):
        w.inputs(walk.iloc[:20])


def test_unfitted_windowing_says_so(walk):
    with pytest.raises(DataError, match="not fitted"):
        Windowing().transform(walk)


def test_window_ends_past_the_data_are_refused(walk):
    w = Windowing("log_return", window=5, output_steps=2).fit([walk])
    with pytest.raises(DataError, match="go past"):
        w.inputs(walk, [len(walk)])

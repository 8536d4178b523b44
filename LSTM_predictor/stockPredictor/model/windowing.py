"""From price frames to model inputs: time splits, scaling and sliding windows.

Nothing leaks from the future: a :class:`Windowing` is fitted on training
splits only, each split is windowed on its own (no window straddles two), and
the inputs for a forecast are built from prices up to the forecast origin.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ..errors import DataError
from .config import ModelConfig


def time_split(frame: pd.DataFrame, val_fraction: float = 0.15,
               test_fraction: float = 0.15) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split a frame by time into train, validation and test parts, in that order."""
    n = len(frame)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    n_train = n - n_val - n_test
    if min(n_train, n_val, n_test) < 1:
        raise DataError(f"{n} rows of prices cannot be split into train, validation and test")
    return (frame.iloc[:n_train], frame.iloc[n_train:n_train + n_val],
            frame.iloc[n_train + n_val:])


class Windowing:
    """Turns closes into scaled input windows and decodes outputs back to prices.

    ``target="log_return"``: inputs are daily log returns, standardised; the
    output at step h is the cumulative log return from the last close to day
    t+h, divided by the training returns' standard deviation. Scale-free, so
    one model serves any ticker at any price level.

    ``target="minmax"``: inputs and outputs are closes scaled into [0, 1] by
    the training split's range (the original tutorial's recipe, per ticker).
    """

    def __init__(self, target: str = "log_return", window: int = 60, output_steps: int = 30):
        self.target = target
        self.window = window
        self.output_steps = output_steps

    @classmethod
    def from_config(cls, config: ModelConfig, scaler=None) -> "Windowing":
        """A windowing for ``config``, already fitted when ``scaler`` is given."""
        windowing = cls(config.target, config.window, config.output_steps)
        if scaler is not None:
            windowing.scaler_ = scaler
        return windowing

    @property
    def rows_needed(self) -> int:
        """Price rows needed for one input window."""
        return self.window + (1 if self.target == "log_return" else 0)

    def series(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The unscaled feature series of one frame (or its closes), shape (rows, 1)."""
        close = _closes(frame)
        if self.target == "log_return":
            return np.diff(np.log(close)).reshape(-1, 1)
        return close.reshape(-1, 1)

    def fit(self, frames: Iterable[pd.DataFrame]) -> "Windowing":
        """Fit the scaler on these (training) frames only."""
        values = np.concatenate([self.series(f) for f in frames])
        scaler = StandardScaler() if self.target == "log_return" else MinMaxScaler()
        self.scaler_ = scaler.fit(values)
        return self

    def _scaled(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not hasattr(self, "scaler_"):
            raise DataError("the windowing is not fitted: call fit() on training frames first")
        return self.scaler_.transform(self.series(frame))

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """All (input window, target) pairs inside one frame: X (n, window, 1), y (n, steps)."""
        scaled = self._scaled(frame)
        n = len(scaled) - self.window - self.output_steps + 1
        if n < 1:
            raise DataError(
                f"only {len(frame)} rows of prices; at least "
                f"{self.rows_needed + self.output_steps} are needed for window {self.window} "
                f"and {self.output_steps} output steps")
        x = sliding_window_view(scaled[:, 0], self.window)[:n]
        future = sliding_window_view(scaled[self.window:, 0], self.output_steps)[:n]
        if self.target == "log_return":
            # Cumulative return from the window's last close, in units of daily std.
            raw = future * self.scaler_.scale_[0] + self.scaler_.mean_[0]
            y = np.cumsum(raw, axis=1) / self.scaler_.scale_[0]
        else:
            y = future
        return x[..., None].astype(np.float32), y.astype(np.float32)

    def inputs(self, frame: pd.DataFrame | np.ndarray,
               ends: np.ndarray | None = None) -> np.ndarray:
        """Input windows ending at the given row positions (default: the last row).

        ``frame`` may also be the closes alone, as a 1-D array.
        """
        scaled = self._scaled(frame)[:, 0]
        offset = len(frame) - len(scaled)  # log returns start one row later
        ends = np.array([len(frame) - 1]) if ends is None else np.asarray(ends)
        starts = ends - offset - self.window + 1
        if (ends >= len(frame)).any():
            raise DataError(f"window ends {ends.tolist()} go past the {len(frame)} rows of prices")
        if len(frame) < self.rows_needed or (starts < 0).any():
            raise DataError(f"only {len(frame)} rows of prices up to the forecast date; "
                            f"at least {self.rows_needed} are needed for window {self.window}")
        windows = sliding_window_view(scaled, self.window)[starts]
        return windows[..., None].astype(np.float32)

    def decode(self, outputs: np.ndarray, last_close: np.ndarray | float) -> np.ndarray:
        """Model outputs (batch, steps) to closes, given each window's last close."""
        outputs = np.asarray(outputs, dtype=np.float64)
        if self.target == "log_return":
            last = np.asarray(last_close, dtype=np.float64).reshape(-1, 1)
            return last * np.exp(outputs * self.scaler_.scale_[0])
        flat = self.scaler_.inverse_transform(outputs.reshape(-1, 1))
        return flat.reshape(outputs.shape)


def _closes(frame: pd.DataFrame | np.ndarray) -> np.ndarray:
    if isinstance(frame, np.ndarray):
        return frame.astype(np.float64, copy=False)
    return frame["close"].to_numpy(dtype=np.float64)

"""The forecasts a model must beat, from past closes alone: no change, drift, long-run drift,
and a moving average. Each takes the closes, the origin rows and a horizon, and gives (n, H).
"""

from __future__ import annotations

import numpy as np

BASELINES = ("naive", "drift", "long_run_drift", "moving_average")
DRIFT_WINDOW = 250  # trading days: a year of average daily change
MOVING_AVERAGE_WINDOW = 20  # trading days: about a month


def naive_forecasts(closes: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
    """The last close at each origin t for every step: f_h = c_t."""
    closes = np.asarray(closes, dtype=np.float64)
    return np.repeat(closes[np.asarray(ends)][:, None], horizon, axis=1)


def drift_forecasts(closes: np.ndarray, ends: np.ndarray, horizon: int,
                    window: int = DRIFT_WINDOW) -> np.ndarray:
    """The last close plus h average daily changes: f_h = c_t + h * (c_t - c_{t-w}) / w.

    w is ``window``, or fewer days where the history is shorter.
    """
    closes, ends = np.asarray(closes, dtype=np.float64), np.asarray(ends)
    span = np.minimum(window, ends)
    slope = np.divide(closes[ends] - closes[ends - span], span,
                      out=np.zeros(len(ends)), where=span > 0)
    return closes[ends][:, None] + slope[:, None] * np.arange(1, horizon + 1)


def long_run_drift_forecasts(closes: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
    """"Stocks tend to rise": the mean daily log return of all history, compounded over h.

    f_h = c_t * exp(h * m_t), m_t = log(c_t / c_0) / t: the mean of the t daily log returns from
    the first row to the origin t (no drift at the first row).
    """
    closes, ends = np.asarray(closes, dtype=np.float64), np.asarray(ends)
    last = closes[ends]
    mean = np.divide(np.log(last / closes[0]), ends, out=np.zeros(len(ends)), where=ends > 0)
    return last[:, None] * np.exp(mean[:, None] * np.arange(1, horizon + 1))


def moving_average_forecasts(closes: np.ndarray, ends: np.ndarray, horizon: int,
                             window: int = MOVING_AVERAGE_WINDOW) -> np.ndarray:
    """The mean of the last w closes for every step: f_h = (c_{t-w+1} + ... + c_t) / w."""
    closes, ends = np.asarray(closes, dtype=np.float64), np.asarray(ends)
    totals = np.concatenate([[0.0], np.cumsum(closes)])
    span = np.minimum(window, ends + 1)
    mean = (totals[ends + 1] - totals[ends + 1 - span]) / span
    return np.repeat(mean[:, None], horizon, axis=1)


FUNCTIONS = {"naive": naive_forecasts, "drift": drift_forecasts,
             "long_run_drift": long_run_drift_forecasts,
             "moving_average": moving_average_forecasts}

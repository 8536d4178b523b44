"""Conformal forecast bands: quantiles of past forecast errors, one per horizon step.

The band for step h at origin t is ``forecast * exp(+-q)``, where q is the conformal quantile of
the absolute log errors ``|log(actual / forecast)|`` of the step-h forecasts made at the latest
``calibration`` origins o whose outcome was already known at t (o + h <= t). Nothing after t is
used, so a band is as honest as the forecast it surrounds. With n errors the quantile is the
ceil((n + 1) * level)-th smallest, the finite-sample rule that makes coverage at least ``level``
when errors are exchangeable; daily prices only approximate that, so backtests report the
coverage actually observed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import DataError

DEFAULT_LEVEL = 0.8
CALIBRATION_ORIGINS = 250  # about one trading year of past forecasts per step
MIN_CALIBRATION = 30  # fewer errors than this give no band rather than a guess
_FEW_ORIGINS = 16  # up to this many origins (a request's band), gathering the windows is fastest
_GATHER_WINDOWS = 4096  # windows ranked at a time: 8 MB of errors


def check_level(level: float) -> float:
    """``level`` as a float if it lies strictly between 0 and 1, else a DataError."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) \
            or not 0.0 < float(level) < 1.0:
        raise DataError(f"level={level!r} must be a band coverage strictly between 0 and 1, "
                        f"such as 0.8")
    return float(level)


def conformal_quantile(scores, level: float) -> float:
    """The ceil((n + 1) * level)-th smallest of n scores; inf when that rank exceeds n."""
    values = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    values = values[~np.isnan(values)]
    rank = _rank(len(values), level)
    return float(values[rank - 1]) if 1 <= rank <= len(values) else math.inf


def _rank(n, level: float):
    # The tiny epsilon keeps (n + 1) * level from rounding up past an exact integer.
    return np.ceil((np.asarray(n) + 1) * level - 1e-9).astype(int)


def log_errors(closes: np.ndarray, positions: np.ndarray, forecasts: np.ndarray) -> np.ndarray:
    """|log(actual / forecast)| of forecasts (n, H) made at row ``positions`` of ``closes``.

    NaN where the outcome lies past the end of ``closes`` or a forecast is not positive.
    """
    closes = np.asarray(closes, dtype=np.float64)
    horizon = forecasts.shape[1]
    targets = np.asarray(positions)[:, None] + np.arange(1, horizon + 1)
    known = targets < len(closes)
    actual = np.where(known, closes[np.minimum(targets, len(closes) - 1)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        errors = np.abs(np.log(actual / forecasts))
    errors[~np.isfinite(errors)] = np.nan
    return errors


def halfwidths(positions: np.ndarray, errors: np.ndarray, origins: np.ndarray,
               level: float = DEFAULT_LEVEL, calibration: int = CALIBRATION_ORIGINS,
               min_calibration: int = MIN_CALIBRATION) -> np.ndarray:
    """Band half-widths in log units, shape (origins, H), from errors known at each origin.

    ``positions`` are consecutive row numbers and ``errors`` (len(positions), H) the log errors
    of the forecasts made there. For origin t and step h only the errors of origins o with
    t - h - calibration < o <= t - h count: their outcomes were known by t. NaN where fewer
    than ``min_calibration`` of them exist or the level needs more than there are.
    """
    positions, origins = np.asarray(positions), np.asarray(origins)
    if len(positions) and np.any(np.diff(positions) != 1):
        raise DataError("calibration positions must be consecutive rows")
    n_pos, horizon = errors.shape
    first = positions[0] if n_pos else 0
    # NaN in front gives every origin a full-length window: the window of origin t at step
    # s + 1 is rows end .. end + calibration - 1 of ``padded``, end = t - s - first (clipped),
    # i.e. the errors of origins t - s - calibration .. t - s - 1, known by t. Running counts
    # of known errors size each window without reading it.
    padded = np.concatenate([np.full((horizon, calibration), np.nan), errors.T], axis=1)
    known = np.concatenate([np.zeros((horizon, 1)), np.cumsum(~np.isnan(padded), axis=1)], axis=1)
    steps = np.arange(horizon)
    ends = np.clip(origins[:, None] - steps - first, 0, n_pos)  # (origins, H)
    counts = known[steps, ends + calibration] - known[steps, ends]
    out = np.full((len(origins), horizon), np.nan)
    gather = np.ones(out.shape, bool)
    k = int(_rank(calibration, level)) - 1
    if len(origins) > _FEW_ORIGINS and 0 <= k < calibration and calibration >= max(
            2, min_calibration):
        # A table's bands: pandas' rolling order statistic (a skiplist, log-time a step) gives
        # every full window's k-th smallest error at once; with 'lower' it picks the value at
        # floor(q * (n - 1)), which is k for this q. Windows with a missing error come out NaN.
        q = min(1.0, (k + 0.5) / (calibration - 1))
        rolled = pd.DataFrame(padded.T).rolling(calibration).quantile(
            q, interpolation="lower").to_numpy()
        full = counts == calibration
        out[full] = rolled[ends + calibration - 1, steps][full]
        gather = ~full
    # The rest (a request's few origins, or windows still filling up near the start of a
    # series): every such window gathered, a few thousand at a time, and ranked.
    pairs = np.argwhere(gather)
    for i in range(0, len(pairs), _GATHER_WINDOWS):
        rows, cols = pairs[i:i + _GATHER_WINDOWS].T
        windows = padded[cols[:, None], ends[rows, cols][:, None] + np.arange(calibration)]
        out[rows, cols] = _quantiles(windows, counts[rows, cols], level, min_calibration)
    return out


def _quantiles(windows: np.ndarray, counts: np.ndarray, level: float,
               min_calibration: int) -> np.ndarray:
    # ``windows`` is a fresh copy, one row per (origin, step), NaN where no error is known. The
    # conformal rank is the same for every full row, so those need only a partial sort in place
    # (np.partition, linear time); the few rows still filling up near the start of a series, or
    # holding a missing error, are sorted (NaN sorts last).
    size = windows.shape[1]
    rank = _rank(counts, level)
    out = np.full(len(windows), np.nan)
    ok = (counts >= min_calibration) & (rank <= counts)
    full = ok & (counts == size)
    k = int(_rank(size, level)) - 1
    if full.all() and 0 <= k < size:
        windows.partition(k, axis=1)
        return windows[:, k].copy()
    if full.any():
        out[full] = np.partition(windows[full], k, axis=1)[:, k]
    partial = ok & ~full
    if partial.any():
        ranked = np.sort(windows[partial], axis=1)
        out[partial] = ranked[np.arange(len(ranked)), rank[partial] - 1]
    return out


def band(forecasts: np.ndarray, halfwidth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds forecast * exp(-q) and forecast * exp(q); NaN without a forecast."""
    forecasts = np.asarray(forecasts, dtype=np.float64)
    positive = np.where(forecasts > 0, forecasts, np.nan)
    return positive * np.exp(-halfwidth), positive * np.exp(halfwidth)

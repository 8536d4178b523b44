"""Forecast error metrics per horizon step: small pure functions, the formula in each docstring.

Every function takes arrays shaped (origins, steps): row i holds the forecasts made at origin i
for steps 1..H, and the matching actual closes. Each returns one value per step, shape (steps,),
the mean over origins. Origins whose actual value is missing (NaN) are left out of that step.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError


def _pair(actual, forecast) -> tuple[np.ndarray, np.ndarray]:
    actual = np.atleast_2d(np.asarray(actual, dtype=np.float64))
    forecast = np.atleast_2d(np.asarray(forecast, dtype=np.float64))
    if actual.shape != forecast.shape:
        raise DataError(f"actual values have shape {actual.shape} but forecasts {forecast.shape}; "
                        f"expected the same (origins, steps) shape")
    return actual, forecast


def _mean(values: np.ndarray) -> np.ndarray:
    # nanmean warns on an all-NaN column; a step with no known outcome is simply NaN.
    counts = np.sum(~np.isnan(values), axis=0)
    totals = np.nansum(values, axis=0)
    return np.divide(totals, counts, out=np.full(values.shape[1], np.nan), where=counts > 0)


def mae(actual, forecast) -> np.ndarray:
    """Mean absolute error per step: MAE_h = mean_i |y_ih - f_ih|."""
    actual, forecast = _pair(actual, forecast)
    return _mean(np.abs(actual - forecast))


def rmse(actual, forecast) -> np.ndarray:
    """Root mean squared error per step: RMSE_h = sqrt(mean_i (y_ih - f_ih)^2)."""
    actual, forecast = _pair(actual, forecast)
    return np.sqrt(_mean((actual - forecast) ** 2))


def mape(actual, forecast) -> np.ndarray:
    """Mean absolute percentage error per step, in percent: 100 * mean_i |y_ih - f_ih| / |y_ih|."""
    actual, forecast = _pair(actual, forecast)
    return 100.0 * _mean(np.abs(actual - forecast) / np.abs(actual))


def relative_mae(actual, forecast, reference) -> np.ndarray:
    """MAE relative to a reference on the same origins: MAE_h(f) / MAE_h(ref); < 1 is better."""
    ours, theirs = mae(actual, forecast), mae(actual, reference)
    return np.divide(ours, theirs, out=np.full(ours.shape, np.nan), where=theirs > 0)


def directional_accuracy(actual, forecast, last_close) -> np.ndarray:
    """Share of origins where the forecast moved the same way as the price, per step.

    DA_h = mean_i [sign(f_ih - c_i) == sign(y_ih - c_i)], with c_i the last close at origin i.
    A forecast of no change (sign 0) counts as right only when the price did not change either,
    so the naive forecast scores near 0 by construction.
    """
    actual, forecast = _pair(actual, forecast)
    last = np.asarray(last_close, dtype=np.float64).reshape(-1, 1)
    hits = (np.sign(forecast - last) == np.sign(actual - last)).astype(np.float64)
    hits[np.isnan(actual)] = np.nan
    return _mean(hits)


def band_flags(actual, low, high) -> np.ndarray:
    """Each outcome against its band: 1 when l_ih <= y_ih <= h_ih, 0 outside, -1 unknown.

    Unknown: the outcome is missing (NaN) or there is no band (NaN bounds, too little history
    to calibrate one). int8, so a table of flags costs one byte a cell.
    """
    actual, low = _pair(actual, low)
    _, high = _pair(actual, high)
    flags = ((low <= actual) & (actual <= high)).astype(np.int8)
    flags[np.isnan(actual) | np.isnan(low) | np.isnan(high)] = -1
    return flags


def coverage_of(flags) -> np.ndarray:
    """Share of known outcomes inside their band, per step, from ``band_flags``' flags."""
    flags = np.atleast_2d(flags)
    known = np.sum(flags >= 0, axis=0)
    inside = np.sum(flags == 1, axis=0)
    return np.divide(inside, known, out=np.full(flags.shape[1], np.nan), where=known > 0)


def coverage(actual, low, high) -> np.ndarray:
    """Share of outcomes inside their band, per step: mean_i [l_ih <= y_ih <= h_ih].

    Origins without a band (NaN bounds, too little history to calibrate) are left out.
    """
    return coverage_of(band_flags(actual, low, high))


def rounded(values) -> list:
    """Per-step values ready for JSON: floats rounded to 4 places, None where NaN."""
    return [None if np.isnan(v) else round(float(v), 4) for v in values]

"""Forecast error metrics per horizon step: small pure functions, the formula in each docstring.

Every function takes arrays shaped (origins, steps): row i holds the forecasts made at origin i
for steps 1..H, and the matching actual closes. Each returns one value per step, shape (steps,),
the mean over origins. Origins whose actual value is missing (NaN) are left out of that step.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError


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


def _origin_closes(last_close, rows: int) -> np.ndarray:
    last = np.asarray(last_close, dtype=np.float64).reshape(-1, 1)
    if last.shape[0] != rows:
        raise DataError(f"{last.shape[0]} origin closes for {rows} origins; expected one each")
    if not (last > 0).all():  # NaN fails too: a relative error needs a positive price
        raise DataError("origin closes must be positive numbers to scale errors by")
    return last


def mae_relative(actual, forecast, last_close) -> np.ndarray:
    """MAE in units of each origin's close, per step: mean_i |y_ih - f_ih| / c_i.

    c_i is the last close at origin i, so 0.01 is an error of 1% of the price the forecast was
    made from. Unlike ``mae``, scaling every price by k leaves it unchanged, so origins,
    periods and tickers of any price level weigh the same.
    """
    actual, forecast = _pair(actual, forecast)
    return _mean(np.abs(actual - forecast) / _origin_closes(last_close, actual.shape[0]))


def relative_mae_of_close(actual, forecast, reference, last_close) -> np.ndarray:
    """``relative_mae`` in origin-close units: sum_i |y_ih - f_ih|/c_i / sum_i |y_ih - r_ih|/c_i.

    < 1 is better. Each origin's errors count in proportion to its own price, so on a series
    that grows 150x the last years do not outweigh the first (``relative_mae`` lets them).
    """
    ours = mae_relative(actual, forecast, last_close)
    theirs = mae_relative(actual, reference, last_close)
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


def banded(*flags) -> np.ndarray:
    """(n,) True at the origins where every ``band_flags`` array given, (n, H), is known at
    every step: a band and an outcome. Per-step coverage read on these origins alone is read on
    one set at every step (evaluate's ``banded_origins``, the track record's alike)."""
    common = np.ones(np.atleast_2d(flags[0]).shape[0], bool)
    for each in flags:
        common &= (np.atleast_2d(each) >= 0).all(axis=1)
    return common


def coverage(actual, low, high) -> np.ndarray:
    """Share of outcomes inside their band, per step: mean_i [l_ih <= y_ih <= h_ih].

    Origins without a band (NaN bounds, too little history to calibrate) are left out.
    """
    return coverage_of(band_flags(actual, low, high))


def rounded(values) -> list:
    """Per-step values ready for JSON: floats rounded to 4 places, None where NaN."""
    return [None if v != v else v for v in np.round(np.asarray(values, np.float64), 4).tolist()]


def _horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise DataError(f"horizon {horizon!r} is not valid: expected an int >= 1")
    return int(horizon)


def _loss_pair(loss_a, loss_b) -> tuple[np.ndarray, np.ndarray]:
    loss_a = np.asarray(loss_a, dtype=np.float64)
    loss_b = np.asarray(loss_b, dtype=np.float64)
    if loss_a.shape != loss_b.shape:
        raise DataError(f"losses of forecast a have shape {loss_a.shape} but those of b "
                        f"{loss_b.shape}; expected the same shape")
    return loss_a, loss_b


def _long_run_variance(dev: np.ndarray, horizon: int) -> float:
    """Variance of the mean of d from its deviations: (gamma_0 + 2 sum_k w_k gamma_k) / n."""
    n = dev.size
    # gamma_k = (1/n) sum_{t=k+1}^{n} dev_t dev_{t-k}; lags past the sample add nothing.
    gammas = [float(dev[k:] @ dev[:n - k]) / n for k in range(min(horizon, n))]
    lags = range(1, len(gammas))
    rectangular = gammas[0] + 2 * sum(gammas[k] for k in lags)
    if rectangular > 0:
        return rectangular / n
    # The truncated kernel can go negative; Bartlett weights cannot (Newey & West 1987).
    return (gammas[0] + 2 * sum((1 - k / horizon) * gammas[k] for k in lags)) / n


def diebold_mariano(loss_a, loss_b, horizon: int) -> tuple[float, float]:
    """Diebold–Mariano test with the HLN correction: (DM*, two-sided p); DM* < 0: a is better.

    d_t = a_t - b_t over the n pairs where neither loss is NaN, dbar = mean(d),
    gamma_k = (1/n) sum_{t=k+1}^{n} (d_t - dbar)(d_{t-k} - dbar),
    V = (gamma_0 + 2 sum_{k=1}^{h-1} gamma_k) / n, or with weights 1 - k/h (Bartlett) when
    that is <= 0, DM = dbar / sqrt(V),
    DM* = DM * sqrt((n + 1 - 2h + h(h-1)/n) / n)   (Harvey, Leybourne & Newbold 1997),
    p = 2 P(T > |DM*|), T ~ Student's t with n - 1 degrees of freedom.

    The correction factor is (n - h)(n - h + 1) / n^2, so the test needs n > h pairs:
    (nan, nan) with fewer. Losses that differ by the same constant everywhere have no variance:
    (0.0, 1.0) when that constant is 0, else (+-inf, 0.0).
    """
    horizon = _horizon(horizon)
    loss_a, loss_b = _loss_pair(loss_a, loss_b)
    if loss_a.ndim != 1:
        raise DataError(f"losses have shape {loss_a.shape}; expected 1-D arrays, one loss per "
                        f"origin (diebold_mariano_steps takes (origins, steps))")
    statistic, df = _dm_statistic(loss_a, loss_b, horizon)
    return statistic, float(_two_sided_p(np.array([statistic]), np.array([df]))[0])


def _dm_statistic(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int) -> tuple[float, int]:
    # DM* and its degrees of freedom; the p-value is left to the caller, so that a whole
    # table's steps share one vectorised call into scipy (most of the cost when made per step).
    d = loss_a - loss_b
    d = d[~(np.isnan(loss_a) | np.isnan(loss_b))]
    n = d.size
    if n <= horizon:  # as h >= 1, this includes fewer than 2 pairs
        return float("nan"), 1
    if np.ptp(d) == 0:  # t.sf gives p = 1 at 0 and p = 0 at +-inf
        return (0.0 if d[0] == 0 else float(np.copysign(np.inf, d[0]))), n - 1
    dbar = float(np.mean(d))
    variance = _long_run_variance(d - dbar, horizon)
    if not variance > 0:  # cannot happen with Bartlett weights unless rounding says otherwise
        return float("nan"), 1
    correction = (n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n
    return float(dbar / np.sqrt(variance) * np.sqrt(correction)), n - 1


def _two_sided_p(statistics: np.ndarray, df: np.ndarray) -> np.ndarray:
    # Student's t distribution function itself (scipy.stats.t.sf(x, df) is stdtr(df, -x)),
    # without the argument checks of scipy.stats, which cost more than the test. Imported
    # here: only this test needs scipy, and importing it takes most of a second.
    from scipy.special import stdtr

    return 2 * stdtr(np.asarray(df, np.float64), -np.abs(np.asarray(statistics, np.float64)))


def diebold_mariano_steps(loss_a, loss_b, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``diebold_mariano`` per step of (origins, steps) losses, rows ``stride`` days apart.

    Column h-1 is tested at horizon ceil(h / stride): the h-step errors of origins ``stride``
    trading days apart overlap that many neighbours less one, the autocovariances the test
    allows for (h - 1 at stride 1). NaN where the test is undefined.
    """
    loss_a, loss_b = _loss_pair(np.atleast_2d(loss_a), np.atleast_2d(loss_b))
    if loss_a.ndim != 2:
        raise DataError(f"losses have shape {loss_a.shape}; expected (origins, steps)")
    horizons = -(-np.arange(1, loss_a.shape[1] + 1) // stride)
    if np.isnan(loss_a).any() or np.isnan(loss_b).any():
        # Each step keeps its own pairs: one test at a time.
        results = [_dm_statistic(loss_a[:, step], loss_b[:, step], int(horizons[step]))
                   for step in range(loss_a.shape[1])]
        statistics, df = (np.array(v, dtype=np.float64) for v in zip(*results)) if results \
            else (np.empty(0), np.empty(0))
    else:
        statistics, df = _dm_statistics(loss_a - loss_b, horizons)
    return statistics, _two_sided_p(statistics, df)


def _dm_statistics(d: np.ndarray, horizons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # _dm_statistic for every column of d (origins, steps) at once, when no pair is missing:
    # every step's autocovariances at every lag from one FFT of the deviations (Wiener-
    # Khinchin, zero-padded past n + lags so no lag wraps round), not one dot product per step
    # and lag (a 30-step track record: ~0.3 ms instead of ~1.5).
    n, steps = d.shape
    statistics, df = np.full(steps, np.nan), np.ones(steps)
    if n == 0 or steps == 0:
        return statistics, df
    dbar = d.mean(axis=0)
    dev = d - dbar
    lags = min(int(horizons.max()), n)
    size = 1 << int(n + lags - 1).bit_length()
    spectrum = np.fft.rfft(dev, n=size, axis=0)
    gammas = np.fft.irfft(spectrum * spectrum.conj(), n=size, axis=0)[:lags] / n
    k = np.arange(1, lags)[:, None]
    inside = k < horizons  # lag k counts at a step whose horizon exceeds it
    rectangular = gammas[0] + 2 * np.where(inside, gammas[1:], 0.0).sum(axis=0)
    bartlett = gammas[0] + 2 * np.where(inside, (1 - k / horizons) * gammas[1:], 0.0).sum(axis=0)
    variance = np.where(rectangular > 0, rectangular, bartlett) / n
    correction = (n + 1 - 2 * horizons + horizons * (horizons - 1) / n) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        values = dbar / np.sqrt(variance) * np.sqrt(correction)
    ok = (n > horizons) & (variance > 0)
    statistics[ok], df[ok] = values[ok], n - 1
    flat = (n > horizons) & (np.ptp(d, axis=0) == 0)  # no variance: t.sf gives p 1 or 0
    statistics[flat] = np.where(d[0, flat] == 0, 0.0, np.copysign(np.inf, d[0, flat]))
    df[flat] = n - 1
    return statistics, df


def p_values_vs_naive(actual, forecasts, naive, stride: int = 1) -> np.ndarray:
    """Two-sided Diebold-Mariano p-values of |actual - forecast| against |actual - naive|.

    Per step h of (origins, H) arrays whose origins lie ``stride`` trading days apart: their
    h-step errors overlap ceil(h / stride) - 1 neighbours, the lags the test's variance
    allows for. NaN where a step has too few known outcomes; 1 where the forecast is naive.
    """
    actual = np.asarray(actual, dtype=np.float64)
    ours = np.abs(actual - np.asarray(forecasts, dtype=np.float64))
    theirs = np.abs(actual - np.asarray(naive, dtype=np.float64))
    return diebold_mariano_steps(ours, theirs, stride)[1]


def interval_score(actual, low, high, level: float) -> np.ndarray:
    """Mean interval (Winkler) score per step; lower is better.

    S_ih = (u - l) + (2/alpha)(l - y)[y < l] + (2/alpha)(y - u)[y > u], alpha = 1 - level,
    for outcome y and band [l, u]. Origins with a NaN outcome or bound are left out of that step.
    """
    alpha = _alpha(level)
    actual, low = _pair(actual, low)
    _, high = _pair(actual, high)
    with np.errstate(invalid="ignore"):  # NaN comparisons; those cells are blanked below
        below = np.where(actual < low, low - actual, 0.0)
        above = np.where(actual > high, actual - high, 0.0)
    scores = (high - low) + (2.0 / alpha) * (below + above)
    scores[np.isnan(actual) | np.isnan(low) | np.isnan(high)] = np.nan
    return _mean(scores)


def _alpha(level) -> float:
    if (isinstance(level, bool) or not isinstance(level, (int, float, np.floating))
            or not 0 < level < 1):
        raise DataError(f"level {level!r} is not valid: expected a number between 0 and 1, "
                        f"exclusive (0.8 for an 80% band)")
    return 1.0 - level


def log_interval_score(actual, low, high, level: float) -> np.ndarray:
    """Mean interval (Winkler) score per step on log prices; lower is better, unit-free.

    ``interval_score`` of log y against [log l, log u]: with alpha = 1 - level,
    S_ih = log(u/l) + (2/alpha) log(l/y)[y < l] + (2/alpha) log(y/u)[y > u].
    0.1 is a band about 10% of the price wide (or its miss penalties). Scaling every price by k
    leaves it unchanged, so periods and tickers of any price level weigh the same. Origins with
    a NaN outcome or bound are left out of that step; a price <= 0 has no log and is refused.
    """
    _alpha(level)
    actual, low = _pair(actual, low)
    _, high = _pair(actual, high)
    for name, values in (("outcomes", actual), ("lower bounds", low), ("upper bounds", high)):
        if (values[~np.isnan(values)] <= 0).any():
            raise DataError(f"{name} must be positive to score on log prices")
    return interval_score(np.log(actual), np.log(low), np.log(high), level)

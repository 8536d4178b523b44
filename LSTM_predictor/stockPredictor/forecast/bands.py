"""Conformal forecast bands that follow volatility and its term structure, per step.

The band for step h at origin t is ``forecast * exp(+-q * s_th)``. s_th is the volatility
expected over the h days after t: sqrt(sum_{k=1..h} (phi^(k-1) v_t + (1 - phi^(k-1)) L_t)),
where v_t is today's variance (an exponentially weighted mean square of the daily log returns
up to t, decay VOLATILITY_DECAY over the last VOLATILITY_RETURNS returns) and L_t the long-run
variance (the plain mean square of the last LONG_RUN_RETURNS returns). Tomorrow is expected to
be as volatile as today; a month out, volatility has mostly returned to its long-run level,
because it mean-reverts (phi = TERM_PHI a day). q is the conformal quantile of the scaled errors
``|log(actual / forecast)| / s_oh`` of the step-h forecasts made at the latest ``calibration``
origins o whose outcome was already known at t (o + h <= t). A calm year followed by a storm
thus widens the near steps of the band as the storm starts, rather than a year later, and the
far steps less (a normalised conformal band). Nothing after t is used, so a band is as honest
as the forecast it surrounds. With n errors the quantile is the ceil((n + 1) * level)-th
smallest, the finite-sample rule that makes coverage at least ``level`` when scores are
exchangeable; daily prices only approximate that, so backtests report the coverage actually
observed. With fewer than MIN_CALIBRATION past errors at a step there is no band at that step:
a quantile of a few overlapping errors is a guess. Each step decides alone (``has_band``), for
the forecast served and the backtest alike, so a step's band is served exactly when
``evaluate`` scores it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from numpy.lib.stride_tricks import sliding_window_view

from ..errors import DataError

DEFAULT_LEVEL = 0.8
CALIBRATION_ORIGINS = 250  # about one trading year of past forecasts per step
MIN_CALIBRATION = 60  # fewer past errors than this give no band rather than a guess
LEVELS = (0.5, 0.8, 0.95)  # the levels offered; any level strictly between 0 and 1 computes
# Chosen on the validation splits by bench/select_model.py (the band method contest): of the
# decays 0.9, 0.94, 0.97 and 0.99 and the unscaled band, 0.99 had the lowest interval score
# (0.960 of the unscaled band's) with pooled coverage of 77-81% at every step.
VOLATILITY_DECAY = 0.99
VOLATILITY_RETURNS = 100  # returns a volatility reads; the weight of the oldest is 0.99 ** 99
MIN_VOLATILITY_RETURNS = 20
# Chosen on four validation folds of the sample tickers (2002-2011) by bench/bands_study.py: of
# phi in 0, 0.9, 0.95 .. 0.995 and 1 (today's volatility carried flat, the former band), 0.9
# had the lowest mean interval score, 0.991 / 1.001 of a plain rolling conformal band at 80% /
# 95% (flat: 1.007 / 1.044; GARCH(1,1)-t: 1.003 / 1.017).
TERM_PHI = 0.9
LONG_RUN_RETURNS = 1000  # four years of returns; fixed before the study, not chosen by it
_MEAN_ROWS = 4096  # rows whose long-run windows are summed at a time: 32 MB
_VOLATILITY_FLOOR = 1e-4  # a flat price (no returns) still gets a band of a basis point
_FEW_ORIGINS = 16  # up to this many origins (a request's band), gathering the windows is fastest
_GATHER_WINDOWS = 4096  # windows ranked at a time: 8 MB of errors


def check_level(level: float) -> float:
    """``level`` as a float if it lies strictly between 0 and 1, else a DataError."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) \
            or not 0.0 < float(level) < 1.0:
        raise DataError(f"level={level!r} must be a band coverage strictly between 0 and 1, "
                        f"such as 0.8")
    return float(level)


def offered(level: float) -> float:
    """``level`` if it is one of LEVELS, the levels every answer offers, else a DataError."""
    level = check_level(level)
    if level not in LEVELS:
        raise DataError(f"level={level!r} is not offered; use {level_list()}")
    return level


def level_list() -> str:
    """LEVELS as a sentence names them: '0.5, 0.8 or 0.95'."""
    return f"{', '.join(map(str, LEVELS[:-1]))} or {LEVELS[-1]}"


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
    return halfwidths_at(positions, errors, origins, (level,), calibration,
                         min_calibration)[level]


def halfwidths_at(positions: np.ndarray, errors: np.ndarray, origins: np.ndarray, levels,
                  calibration: int = CALIBRATION_ORIGINS,
                  min_calibration: int = MIN_CALIBRATION) -> dict[float, np.ndarray]:
    """``halfwidths`` at each of ``levels``, from one pass over the windows of past errors."""
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
    full = counts == calibration
    rolling = len(origins) > _FEW_ORIGINS and calibration >= max(2, min_calibration)
    out = {level: np.full(ends.shape, np.nan) for level in levels}
    gather = np.ones(ends.shape, bool)
    if rolling:
        # A table's bands: pandas' rolling order statistic (a skiplist, log-time a step) gives
        # every full window's k-th smallest error at once; with 'lower' it picks the value at
        # floor(q * (n - 1)), which is k for this q. Windows with a missing error come out NaN.
        frame = pd.DataFrame(padded.T).rolling(calibration)
        for level in levels:
            k = int(_rank(calibration, level)) - 1
            q = min(1.0, (k + 0.5) / (calibration - 1))
            rolled = frame.quantile(q, interpolation="lower").to_numpy()
            out[level][full] = rolled[ends + calibration - 1, steps][full]
        gather = ~full
    # The rest (a request's few origins, or windows still filling up near the start of a
    # series): every such window gathered once, a few thousand at a time, and ranked at each
    # level.
    pairs = np.argwhere(gather)
    for i in range(0, len(pairs), _GATHER_WINDOWS):
        rows, cols = pairs[i:i + _GATHER_WINDOWS].T
        windows = padded[cols[:, None], ends[rows, cols][:, None] + np.arange(calibration)]
        found = _quantiles(windows, counts[rows, cols], levels, min_calibration)
        for level in levels:
            out[level][rows, cols] = found[level]
    return out


def _quantiles(windows: np.ndarray, counts: np.ndarray, levels,
               min_calibration: int) -> dict[float, np.ndarray]:
    # ``windows`` is a fresh copy, one row per (origin, step), NaN where no error is known. The
    # conformal rank is the same for every full row, so those need only a partial sort in place
    # (np.partition, linear time, every level's rank in one call); the few rows still filling
    # up near the start of a series, or holding a missing error, are sorted (NaN sorts last).
    size = windows.shape[1]
    out = {level: np.full(len(windows), np.nan) for level in levels}
    full = counts == size
    ranks = {level: int(_rank(size, level)) - 1 for level in levels}
    kth = sorted({k for k in ranks.values() if 0 <= k < size})
    if full.any() and kth:
        ranked = windows[full] if not full.all() else windows
        ranked.partition(kth, axis=1)
        for level, k in ranks.items():
            if 0 <= k < size and min_calibration <= size:
                out[level][full] = ranked[:, k]
    partial = ~full & (counts >= min_calibration)
    if partial.any():
        ordered = np.sort(windows[partial], axis=1)
        for level in levels:
            rank = _rank(counts[partial], level)
            ok = rank <= counts[partial]
            picked = np.full(len(ordered), np.nan)
            picked[ok] = ordered[np.arange(len(ordered))[ok], rank[ok] - 1]
            out[level][partial] = picked
    return out


def volatility(closes: np.ndarray, rows: np.ndarray, decay: float = VOLATILITY_DECAY,
               window: int = VOLATILITY_RETURNS) -> np.ndarray:
    """Exponentially weighted RMS of the daily log returns up to each of ``rows``.

    sigma_t = sqrt(sum_k d^k r_{t-k}^2 / sum_k d^k) over k = 0 .. window - 1, r_s the log
    return from row s - 1 to s, d the decay. It reads rows t - window .. t alone, so equal
    closes there give an equal value. NaN with fewer than MIN_VOLATILITY_RETURNS returns.
    """
    rows = np.asarray(rows, dtype=np.intp)
    if not len(rows):
        return np.empty(0)
    padded, rows = _padded_squares(closes, rows, window)
    windows = sliding_window_view(padded, window)[rows + 1]
    weights = decay ** np.arange(window - 1, -1, -1, dtype=np.float64)
    known = ~np.isnan(windows)
    total = np.where(known, windows, 0.0) @ weights
    norm = known @ weights
    enough = known.sum(axis=1) >= MIN_VOLATILITY_RETURNS
    sigma = np.sqrt(np.divide(total, norm, out=np.zeros(len(rows)), where=norm > 0))
    return np.where(enough, np.maximum(sigma, _VOLATILITY_FLOOR), np.nan)


def long_run_variance(closes: np.ndarray, rows: np.ndarray,
                      window: int = LONG_RUN_RETURNS) -> np.ndarray:
    """Mean square of the daily log returns up to each of ``rows``, the last ``window`` of them.

    Like ``volatility`` it reads rows t - window .. t alone, summed the same way whatever the
    other rows, so a request's band equals its table's. NaN with fewer than
    MIN_VOLATILITY_RETURNS returns.
    """
    rows = np.asarray(rows, dtype=np.intp)
    if not len(rows):
        return np.empty(0)
    padded, rows = _padded_squares(closes, rows, window)
    known = ~np.isnan(padded)
    # Counts from a running count (exact integers); sums from each row's own window, copied
    # with the missing returns already zero, so every row is summed alike in any batch.
    running = np.concatenate([[0], np.cumsum(known)])
    count = running[rows + 1 + window] - running[rows + 1]
    view = sliding_window_view(np.where(known, padded, 0.0), window)
    total = np.empty(len(rows))
    for i in range(0, len(rows), _MEAN_ROWS):
        total[i:i + _MEAN_ROWS] = view[rows[i:i + _MEAN_ROWS] + 1].sum(axis=1)
    return np.where(count >= MIN_VOLATILITY_RETURNS, total / np.maximum(count, 1), np.nan)


def _padded_squares(closes: np.ndarray, rows: np.ndarray, window: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    # The squared daily log returns the rows' windows read (NaN where not finite), padded so
    # that padded[window + s] is the return ending at row s of the slice; and the rows in it.
    # Only those closes: a request's few rows need not log a whole series.
    low = max(0, int(rows.min()) - window)
    closes = np.asarray(closes, dtype=np.float64)[low:int(rows.max()) + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        squared = np.diff(np.log(closes)) ** 2
    squared[~np.isfinite(squared)] = np.nan
    return np.concatenate([np.full(window + 1, np.nan), squared]), rows - low


def term_scale(closes: np.ndarray, rows: np.ndarray, steps: int,
               decay: float = VOLATILITY_DECAY, phi: float = TERM_PHI) -> np.ndarray:
    """The volatility expected over the next 1..``steps`` days at each of ``rows``, (rows, steps).

    sqrt(sum_{k=1..h} (phi^(k-1) v + (1 - phi^(k-1)) L)), v today's EWMA variance
    (``volatility`` squared) and L the long-run variance; phi = 1 carries today's volatility
    flat to every step. NaN where either is unknown.
    """
    today = volatility(closes, rows, decay) ** 2
    if phi == 1.0:
        long_run = today  # not read: every weight on today's variance
    else:
        long_run = long_run_variance(closes, rows)
    weights = np.cumsum(phi ** np.arange(steps, dtype=np.float64))
    variance = (long_run[:, None] * np.arange(1, steps + 1)
                + (today - long_run)[:, None] * weights)
    return np.sqrt(np.maximum(variance, 0.0))


def widths(closes: np.ndarray, positions: np.ndarray, errors: np.ndarray, origins: np.ndarray,
           level: float = DEFAULT_LEVEL, calibration: int = CALIBRATION_ORIGINS,
           min_calibration: int = MIN_CALIBRATION,
           decay: float | None = VOLATILITY_DECAY, phi: float = TERM_PHI) -> np.ndarray:
    """Band half-widths in log units (origins, H) that follow volatility; see the module doc.

    ``errors`` are the log errors of the forecasts made at consecutive rows ``positions`` of
    ``closes``. ``decay=None`` gives the unscaled conformal band (a constant width between
    recalibrations) and ``phi=1`` today's volatility carried flat, both kept for comparison.
    """
    return widths_at(closes, positions, errors, origins, (level,), calibration,
                     min_calibration, decay, phi)[level]


def widths_at(closes: np.ndarray, positions: np.ndarray, errors: np.ndarray,
              origins: np.ndarray, levels, calibration: int = CALIBRATION_ORIGINS,
              min_calibration: int = MIN_CALIBRATION,
              decay: float | None = VOLATILITY_DECAY,
              phi: float = TERM_PHI) -> dict[float, np.ndarray]:
    """``widths`` at each of ``levels``, from one set of scaled past errors."""
    if decay is None:
        return halfwidths_at(positions, errors, origins, levels, calibration, min_calibration)
    positions, origins = np.asarray(positions), np.asarray(origins)
    if not len(origins):
        return {level: np.empty((0, errors.shape[1])) for level in levels}
    # One pass over the rows both read: the origins lie among or just after the positions.
    low = min(positions.min(initial=origins.min()), origins.min())
    high = max(positions.max(initial=origins.max()), origins.max())
    scale = term_scale(closes, np.arange(low, high + 1), errors.shape[1], decay, phi)
    scores = errors / scale[positions - low]
    scaled = halfwidths_at(positions, scores, origins, levels, calibration, min_calibration)
    return {level: width * scale[origins - low] for level, width in scaled.items()}


def has_band(halfwidth: np.ndarray) -> np.ndarray:
    """Where a step has a band: its half-width is known (MIN_CALIBRATION past errors of that
    step or more). The one rule both the served forecast and ``evaluate`` follow, per step."""
    return np.isfinite(np.asarray(halfwidth, dtype=np.float64))


def band(forecasts: np.ndarray, halfwidth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds forecast * exp(-q) and forecast * exp(q); NaN without a forecast
    and at steps without a band (``has_band``)."""
    forecasts = np.asarray(forecasts, dtype=np.float64)
    positive = np.where((forecasts > 0) & has_band(halfwidth), forecasts, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        return positive * np.exp(-halfwidth), positive * np.exp(halfwidth)

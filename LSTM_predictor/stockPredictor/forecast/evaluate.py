"""Walk-forward backtests: the model and four baselines on identical origins, with bands.

At each origin the forecasts see prices up to that origin only: the model's input window ends
there and its scaling is the one fitted on its training data; the baselines read only past
closes. Weights stay fixed (no retraining), so origins inside the model's training period flatter
it: by default the range starts after that period, and any origin inside it is counted and
reported. The model is scored as it is served, its point policy applied (model/policy.py); where the
policy changes anything, the raw network is scored beside it as "<model> (raw)". Every forecast
gets a band calibrated on errors known by its origin (see bands.py), so the coverage a backtest
reports is what a user would have seen: a step has a band exactly where the served forecast
serves one (bands.has_band). Band scores read one set of origins at every step, those where every
method has a band and an outcome at every step (``banded``; to_dict says how many). Every
method's errors are tested against naive's with a Diebold-Mariano test per step
(``p_value_vs_naive``, two-sided).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..lru import ByteBoundedLRU
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from . import metrics, tables
from .bands import (CALIBRATION_ORIGINS, DEFAULT_LEVEL, VOLATILITY_DECAY, band, check_level,
                    log_errors, widths)
from .baselines import BASELINES, FUNCTIONS
from .predict import DEFAULT_HORIZON, check_horizon

METRICS = ("mae", "rmse", "mape", "mae_vs_naive", "p_value_vs_naive", "directional_accuracy",
           "coverage", "interval_score", "mae_relative", "mae_relative_vs_naive",
           "interval_score_log")
# The unit of each metric, which to_dict reports. Price units read well for one short period
# but let the dearest years or tickers dominate; compare periods and tickers in relative units.
UNITS = {"mae": "price", "rmse": "price", "mape": "percent of the outcome",
         "mae_vs_naive": "ratio of price-unit MAEs", "p_value_vs_naive": "probability",
         "directional_accuracy": "share", "coverage": "share",
         "interval_score": "price", "mae_relative": "fraction of the origin's close",
         "mae_relative_vs_naive": "ratio of MAEs in origin-close units",
         "interval_score_log": "log price (unit-free)"}


@dataclass(frozen=True)
class Backtest:
    """Forecasts of the model and baselines at each origin, against what happened."""

    ticker: str
    model: str
    horizon: int
    stride: int
    level: float
    origins: pd.DatetimeIndex  # (n,) the forecast origins
    dates: np.ndarray  # (n, H) datetime64: the trading day each step lands on
    last_closes: np.ndarray  # (n,)
    actual: np.ndarray  # (n, H)
    forecasts: dict  # method name -> (n, H) closes; the model first (then raw), then BASELINES
    lows: dict  # method name -> (n, H), NaN where too little history to calibrate
    highs: dict
    trained_until: pd.Timestamp | None
    closes: pd.Series  # the actual closes from the first origin to the last outcome
    in_training: np.ndarray  # (n,) True where the origin lies inside the model's training data

    def metrics(self) -> dict[str, dict[str, np.ndarray]]:
        """Per method, each metric of METRICS as an array over steps 1..H."""
        naive = self.forecasts["naive"]
        return {name: {"mae": metrics.mae(self.actual, f),
                       "rmse": metrics.rmse(self.actual, f),
                       "mape": metrics.mape(self.actual, f),
                       "mae_vs_naive": metrics.relative_mae(self.actual, f, naive),
                       "p_value_vs_naive": self.p_values(f),
                       "directional_accuracy": metrics.directional_accuracy(
                           self.actual, f, self.last_closes),
                       "coverage": metrics.coverage(*self.banded_bounds(name)),
                       "interval_score": metrics.interval_score(
                           *self.banded_bounds(name), self.level),
                       "mae_relative": metrics.mae_relative(self.actual, f, self.last_closes),
                       "mae_relative_vs_naive": metrics.relative_mae_of_close(
                           self.actual, f, naive, self.last_closes),
                       "interval_score_log": metrics.log_interval_score(
                           *self.banded_bounds(name), self.level)}
                for name, f in self.forecasts.items()}

    @functools.cached_property
    def banded(self) -> np.ndarray:
        """(n,) True at the origins where every method has a band and an outcome at every step:
        the one set of origins every band score (coverage, interval scores) reads."""
        return metrics.banded(*(metrics.band_flags(self.actual, self.lows[name],
                                                   self.highs[name])
                                for name in self.forecasts))

    def banded_bounds(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The outcomes and ``name``'s band bounds at the ``banded`` origins."""
        common = self.banded
        return self.actual[common], self.lows[name][common], self.highs[name][common]

    def p_values(self, forecasts: np.ndarray) -> np.ndarray:
        """Two-sided Diebold-Mariano p-value of absolute errors against naive's, per step."""
        return metrics.p_values_vs_naive(self.actual, forecasts, self.forecasts["naive"],
                                         self.stride)

    def to_dict(self) -> dict:
        """JSON-ready summary: the range, the level and every method's metrics per step."""
        return {"ticker": self.ticker, "model": self.model, "horizon": self.horizon,
                "origins": len(self.origins), "stride": self.stride,
                "start": _day(self.origins[0]), "end": _day(self.origins[-1]),
                "level": self.level, "trained_until": _day(self.trained_until),
                "origins_in_training": int(self.in_training.sum()),
                "banded_origins": int(self.banded.sum()), "units": dict(UNITS),
                "models": {name: {k: metrics.rounded(v) for k, v in values.items()}
                           for name, values in self.metrics().items()}}

    def to_frame(self) -> pd.DataFrame:
        """Every forecast against its actual value: origin, date, step, model, forecast, ..."""
        n, horizon = self.actual.shape
        parts = []
        for name, values in self.forecasts.items():
            parts.append(pd.DataFrame({
                "origin": np.repeat(self.origins.values, horizon),
                "date": self.dates.ravel(), "step": np.tile(np.arange(1, horizon + 1), n),
                "model": name, "forecast": values.ravel(), "actual": self.actual.ravel(),
                "low": self.lows[name].ravel(), "high": self.highs[name].ravel()}))
        return pd.concat(parts, ignore_index=True)


SUMMARY_METRICS = ("mae_vs_naive", "p_value_vs_naive", "directional_accuracy", "coverage",
                   "mae_relative_vs_naive", "interval_score_log")


def summary(results: Sequence[Backtest]) -> dict:
    """One model's backtests on several tickers, pooled: the entry model.json keeps.

    Per step, each metric is the mean over tickers of that ticker's value, so every ticker
    weighs the same: MAE vs naive is the mean of the per-ticker ratios MAE(model) / MAE(naive),
    not a ratio of summed price errors, which the dearest stock would dominate. Each ticker's
    own ratios are kept under ``per_ticker``.
    """
    if not results:
        raise DataError("no backtests to summarise")
    first = results[0]
    for r in results[1:]:
        if (r.model, r.horizon, r.stride, r.level) != \
                (first.model, first.horizon, first.stride, first.level):
            raise DataError(f"backtests of {first.ticker} and {r.ticker} differ in model, "
                            f"horizon, stride or level; only like ones can be pooled")
    scores = [r.metrics() for r in results]

    def pooled(name: str, metric: str) -> list:
        return metrics.rounded(np.mean([s[name][metric] for s in scores], axis=0))

    model = next(iter(first.forecasts))
    entry = {"tickers": [r.ticker for r in results], "model": first.model,
             "start": min(_day(r.origins[0]) for r in results),
             "end": max(_day(r.origins[-1]) for r in results),
             "horizon": first.horizon, "stride": first.stride, "level": first.level,
             "origins": sum(len(r.origins) for r in results),
             "origins_in_training": sum(int(r.in_training.sum()) for r in results),
             "pooling": "mean over tickers of each ticker's value per step",
             "units": {m: UNITS[m] for m in SUMMARY_METRICS}}
    entry.update({metric: pooled(model, metric) for metric in SUMMARY_METRICS})
    entry["baselines"] = {name: {metric: pooled(name, metric) for metric in SUMMARY_METRICS}
                          for name in BASELINES}
    entry["per_ticker"] = {r.ticker: {"start": _day(r.origins[0]), "end": _day(r.origins[-1]),
                                      "origins": len(r.origins),
                                      "trained_until": _day(r.trained_until),
                                      "mae_vs_naive": metrics.rounded(s[model]["mae_vs_naive"]),
                                      "mae_relative_vs_naive": metrics.rounded(
                                          s[model]["mae_relative_vs_naive"])}
                           for r, s in zip(results, scores)}
    return entry


def _day(value) -> str | None:
    return None if value is None else pd.Timestamp(value).strftime("%Y-%m-%d")


def _date(value, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).tz_localize(None).normalize()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}={value!r} is not a date; expected YYYY-MM-DD") from exc


def _check_stride(stride: int) -> int:
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise DataError(f"stride={stride!r} must be a whole number of trading days, 1 or more")
    return int(stride)


def _origin_rows(frame: pd.DataFrame, model: Artifact, horizon: int, stride: int,
                 start: pd.Timestamp | None, end: pd.Timestamp | None,
                 until: pd.Timestamp | None) -> np.ndarray:
    # Origins need a full input window up to them and all H outcomes on or before ``end``.
    index = frame.index
    first_row = model.windowing.rows_needed - 1
    begin = start if start is not None else (
        until + pd.Timedelta(days=1) if until is not None else None)
    first = max(first_row, 0 if begin is None else int(index.searchsorted(begin)))
    last = (len(index) if end is None else int(index.searchsorted(end, side="right"))) - 1
    rows = np.arange(first, last - horizon + 1, stride)
    if len(rows):
        return rows
    why = (f" (by default the range starts after the model's training data, which ends "
           f"{until.date()}; give a start date to evaluate earlier)"
           if start is None and until is not None else "")
    raise DataError(
        f"the range {_day(begin) or index[0].date()} to {_day(end) or index[-1].date()} holds "
        f"no origin for a {horizon}-day backtest of {frame.attrs.get('ticker', 'these prices')}:"
        f" an origin needs {first_row + 1} rows of prices up to it (window "
        f"{model.config.window}) and {horizon} trading days after it within the range; the "
        f"prices run from {index[0].date()} to {index[-1].date()}{why}")


def backtest(frame: pd.DataFrame, model: Artifact, horizon: int = DEFAULT_HORIZON,
             start=None, end=None, stride: int = 1, level: float = DEFAULT_LEVEL,
             calibration: int = CALIBRATION_ORIGINS,
             cache: ByteBoundedLRU | None = None,
             band_decay: float | None = VOLATILITY_DECAY) -> Backtest:
    """Walk-forward backtest of ``model`` and the baselines from ``start`` to ``end``.

    The model's forecasts are read from its forecast table over ``frame`` (tables.py), the
    same forecasts a forecast page or the API serves at those origins. ``band_decay`` picks
    the bands' volatility scaling (None: unscaled), for comparing band methods.
    """
    horizon = check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    stride, level = _check_stride(stride), check_level(level)
    start, end = _date(start, "start"), _date(end, "end")
    ticker = str(frame.attrs.get("ticker", ""))
    until = model.trained_until(ticker)
    since = model.trained_from(ticker)
    # A series that ends before the training data begins lies wholly outside it.
    after = until if since is None or frame.index[-1] >= since else None
    origins = _origin_rows(frame, model, horizon, stride, start, end, after)
    # Band calibration needs the forecasts of every trading day up to calibration + H days
    # before the first origin: all of them are computed in one batch per method.
    first = max(model.windowing.rows_needed - 1, origins[0] - horizon - calibration + 1)
    positions = np.arange(first, origins[-1] + 1)
    closes = frame["close"].to_numpy(np.float64)
    table = tables.table_for(frame, model, cache)
    name = model.name if model.name not in BASELINES else f"{model.name} (model)"
    every = {name: table.forecasts(positions, horizon)}
    if not table.policy.is_identity:
        every[f"{name} (raw)"] = table.forecasts(positions, horizon, raw=True)
    every.update({name: fn(closes, positions, horizon) for name, fn in FUNCTIONS.items()})
    rows = origins - first
    targets = origins[:, None] + np.arange(1, horizon + 1)
    forecasts, lows, highs = {}, {}, {}
    for name, values in every.items():
        width = widths(closes, positions, log_errors(closes, positions, values), origins, level,
                       calibration, decay=band_decay)
        forecasts[name] = values[rows]
        lows[name], highs[name] = band(forecasts[name], width)
    return Backtest(ticker=ticker, model=model.name, horizon=horizon, stride=stride, level=level,
                    origins=frame.index[origins], dates=frame.index.values[targets],
                    last_closes=closes[origins], actual=closes[targets], forecasts=forecasts,
                    lows=lows, highs=highs, trained_until=until,
                    closes=frame["close"].iloc[origins[0]:targets[-1, -1] + 1],
                    in_training=model.in_training(frame.index[origins], ticker))

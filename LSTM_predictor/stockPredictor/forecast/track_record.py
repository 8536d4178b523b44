"""A model's track record on one series: its past forecasts on ONE set of origins, in numbers, in
one plain sentence, and as the forecasts the record's pictures draw.

The set is the last ``origins`` trading days (a year by default; None: all the series allows)
whose outcomes ``steps`` days on were known by ``as_of``. Every figure is scored on it: the error
against no change at each step 1..steps (the by-step picture, and at the chosen horizon the
card's figure), the p-values, direction and band coverage, and the forecasts ``horizon`` days
ahead beside what happened (the past-forecasts picture). Band coverage reads the part of the
set with a band at every step (``banded_origins`` of them, metrics.banded, as evaluate's).
``steps`` is the model's (30), fewer only where a short series would otherwise leave fewer than
MIN_FORECASTS origins.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd

from .. import rounding
from ..data.calendar import iso_days
from ..lru import BoundedCache, ByteBoundedLRU
from ..model.artifacts import Artifact
from . import metrics, tables
from .bands import DEFAULT_LEVEL, check_level, offered
from .predict import rows_until

# A trading year of origins: what "the last year" means on the forecast page.
YEAR_OF_ORIGINS = 250
# Fewer forecasts than this are too few to judge: a verdict says so and claims nothing.
MIN_FORECASTS = 30
SIGNIFICANCE = 0.05  # a difference is claimed only when its p-value is below this

Served = Callable[[np.ndarray, int], np.ndarray]  # (rows, steps) -> served closes (n, steps)


def scored_rows(table: tables.ForecastTable, end: int, horizon: int,
                origins: int | None = YEAR_OF_ORIGINS) -> tuple[np.ndarray, int]:
    """The one set of origin rows a record at row ``end`` scores, and the steps scored there.

    Empty when not even a ``horizon``-day outcome is known by ``end`` for any origin.
    """
    if end - table.first < horizon:
        return np.arange(0), horizon
    steps = min(table.steps, max(horizon, end - table.first - MIN_FORECASTS + 1))
    last = end - steps
    first = table.first if origins is None else max(table.first, last - origins + 1)
    return np.arange(first, last + 1), steps


def score(table: tables.ForecastTable, index: pd.DatetimeIndex, end: int, horizon: int,
          origins: int | None = YEAR_OF_ORIGINS, level: float = DEFAULT_LEVEL,
          ticker: str = "", served: Served | None = None,
          kept: tuple[BoundedCache, Hashable] | None = None) -> dict:
    """The record of ``table``'s model before row ``end`` of a series dated by ``index``.

    ``served(rows, steps)`` gives the served forecasts at those rows (default: read from the
    table); a report passes the slice it read once. ``kept`` is a cache and the key of this
    series up to ``end`` in it: the figures of every step do not depend on the horizon, so a
    second request at the same as_of reads them from there. Nothing after ``end`` is read.
    """
    level = offered(level)
    rows, steps = scored_rows(table, end, horizon, origins)
    if not len(rows):
        return {"available": False, "reason": (
            f"no origin for a {horizon}-day track record before {index[end].date()}: an "
            f"origin needs {table.first + 1} rows of prices up to it and {horizon} trading days "
            f"after it, and the prices from {index[0].date()} hold {end + 1} rows")}
    cache, key = kept or (None, None)
    key = (key, origins, level, steps, ticker)
    figures = None if cache is None else cache.get(key)
    forecasts = (served or table.forecasts)(rows, steps if figures is None else horizon)
    last = table.closes[rows]
    if figures is None:
        figures = _figures(table, index, rows, steps, level, ticker, forecasts)
        if cache is not None:
            cache.put(key, figures)
    record = {"available": True, "origins": len(rows), "steps": steps, "horizon": horizon,
              **figures}
    record["verdict"] = verdict(record, whole=origins is None)
    # The forecasts `horizon` days ahead at the same origins, on the day each was for.
    dates = iso_days(index.values[rows + horizon])
    n = len(rows)
    values = rounding.prices(np.concatenate([forecasts[:, horizon - 1],
                                             table.closes[rows + horizon], last]))
    record["past"] = [{"date": d, "forecast": f, "actual": a, "last_close": c} for d, f, a, c in
                      zip(dates, values[:n], values[n:2 * n], values[2 * n:])]
    return record


def _figures(table: tables.ForecastTable, index: pd.DatetimeIndex, rows: np.ndarray,
             steps: int, level: float, ticker: str, forecasts: np.ndarray) -> dict:
    # Every step's figures on the set of origins ``rows``: what a record at any horizon shows.
    actual = table.closes[rows[:, None] + np.arange(1, steps + 1)]
    last = table.closes[rows]
    naive = np.repeat(last[:, None], steps, axis=1)
    weights = np.asarray(table.policy.weights[:steps])
    # Coverage on one set at every step, as evaluate's: the origins with a band at every step.
    flags = table.flags(rows, steps, level)
    common = metrics.banded(flags)
    per_step = {"mae_vs_naive": metrics.relative_mae(actual, forecasts, naive),
                "p_value_vs_naive": metrics.p_values_vs_naive(actual, forecasts, naive),
                # A step served as no change never moves: its direction is not a score.
                "directional_accuracy": np.where(
                    weights > 0, metrics.directional_accuracy(actual, forecasts, last), np.nan),
                "coverage": metrics.coverage_of(flags[common])}
    model: Artifact = table.model
    return {"start": iso_days(index.values[rows[:1]])[0],
            "end": iso_days(index.values[rows[-1:]])[0], "level": level,
            "banded_origins": int(common.sum()),
            "origins_in_training": int(model.in_training(index[rows], ticker).sum()),
            "policy_weights": [float(w) for w in weights],
            **{name: metrics.rounded(values) for name, values in per_step.items()}}


def track_record(frame: pd.DataFrame, model: Artifact, horizon: int, as_of=None,
                 origins: int | None = YEAR_OF_ORIGINS, level: float = DEFAULT_LEVEL,
                 cache: ByteBoundedLRU | None = None) -> dict:
    """How ``model`` did on ``frame`` before ``as_of``: ``score`` on the model's forecast table
    over ``frame`` (its blocks from ``cache``, default the process's)."""
    table = tables.table_for(frame, model, cache)
    end = rows_until(frame, as_of) - 1
    return score(table, frame.index, end, horizon, origins, check_level(level),
                 str(frame.attrs.get("ticker", "")))


def verdict(record: dict, whole: bool = False) -> str:
    """One sentence: better or worse than assuming no change at the horizon, if measurably so.

    A percentage difference is claimed only when the Diebold-Mariano p-value is below
    SIGNIFICANCE; otherwise the sentence says there is no measurable difference and how often
    chance alone gives one as large. Under MIN_FORECASTS forecasts it declines to judge.
    """
    h, n = record["horizon"], record["origins"]
    ratio = record["mae_vs_naive"][h - 1]
    p = (record.get("p_value_vs_naive") or [None] * h)[h - 1]
    weights = record.get("policy_weights")
    span = (f"over the {n} forecasts this data allows" if whole
            else f"over the last {n} trading days")
    days = "1 day" if h == 1 else f"{h} days"
    if weights is not None and weights[h - 1] == 0.0:
        return (f"{days.capitalize()} ahead this model serves the no-change forecast: on its "
                f"validation data its own forecast did not beat no change convincingly.")
    if n < MIN_FORECASTS:
        return (f"{span.capitalize()} there are {n} forecasts {days} ahead, too few to judge "
                f"this model against assuming no change (at least {MIN_FORECASTS} are needed).")
    if ratio is None or p is None:
        return f"{span.capitalize()}, there was nothing to compare with."
    change = abs(1.0 - ratio) * 100
    if p < SIGNIFICANCE:
        amount = f"{change:.1f}%" if change < 1 else f"{change:.0f}%"
        sentence = (f"{span.capitalize()}, this model's forecasts {days} ahead were {amount} "
                    f"{'more' if ratio < 1 else 'less'} accurate than assuming no change "
                    f"({p_text(p)}: a difference this large {_chance(p)}).")
    else:
        sentence = (f"{span.capitalize()}, this model's forecasts {days} ahead showed no "
                    f"measurable difference from assuming no change: their {change:.1f}% "
                    f"{'edge' if ratio < 1 else 'shortfall'} {_chance(p)} ({p_text(p)}).")
    if record["origins_in_training"]:
        sentence += (f" {record['origins_in_training']} of those days lie inside its training "
                     "period, which flatters it.")
    return sentence


def p_text(p: float) -> str:
    """A p-value as the verdict writes it: 'p < 0.001', 'p = 0.004', 'p = 0.23'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _chance(p: float) -> str:
    # The p-value in words: how often chance alone would give a difference this large.
    if p < 0.001:
        return "would turn up by chance alone less than once in 1,000 tries"
    if p >= 0.5:
        return "would turn up by chance alone at least every other time"
    return f"would turn up by chance alone about once in {max(2, round(1 / p)):,} tries"

"""A model's track record on one series, in numbers and in one plain sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics, rounding, tables
from .artifacts import Artifact
from .bands import DEFAULT_LEVEL
from .config import MAX_HORIZON
from .evaluate import p_values_vs_naive
from .lru import ByteBoundedLRU
from .predict import rows_until

# A trading year of origins: what "the last year" means on the forecast page.
YEAR_OF_ORIGINS = 250
# Fewer forecasts than this are too few to judge: a verdict says so and claims nothing.
MIN_FORECASTS = 30
SIGNIFICANCE = 0.05  # a difference is claimed only when its p-value is below this


def track_record(frame: pd.DataFrame, model: Artifact, horizon: int, as_of=None,
                 origins: int | None = YEAR_OF_ORIGINS,
                 cache: ByteBoundedLRU | None = None) -> dict:
    """How ``model`` did on ``frame`` before ``as_of``: the last ``origins`` forecasts (None: all).

    Returns the per-step MAE vs naive (with its Diebold-Mariano p-value), directional accuracy
    and band coverage of the model's
    ``horizon``-day forecasts made at each earlier trading day whose outcome was known by
    ``as_of``, with a verdict sentence; ``{"available": False, "reason": ...}`` when the
    series is too short for even one such forecast. Every number is a slice of the model's
    forecast table over ``frame`` (its blocks from ``cache``, default the process's).
    """
    table = tables.table_for(frame, model, cache)
    end, rows = _scored_origins(frame, table, horizon, as_of, origins)
    if not len(rows):
        return {"available": False, "reason": (
            f"no origin for a {horizon}-day track record before {frame.index[end].date()}: an "
            f"origin needs {table.first + 1} rows of prices up to it and {horizon} trading days "
            f"after it, and the prices from {frame.index[0].date()} hold {end + 1} rows")}
    first, last = rows[0], rows[-1]
    forecasts, actual, naive = _scored(table, rows, horizon)
    step = {"mae_vs_naive": metrics.relative_mae(actual, forecasts, naive),
            "p_value_vs_naive": p_values_vs_naive(actual, forecasts, naive),
            # A step served as no change never moves: its direction is not a score.
            "directional_accuracy": np.where(
                np.asarray(table.policy.weights[:horizon]) > 0,
                metrics.directional_accuracy(actual, forecasts, table.closes[rows]), np.nan),
            "coverage": metrics.coverage_of(table.flags(rows, horizon))}
    inside = int(model.in_training(frame.index[rows], str(frame.attrs.get("ticker", ""))).sum())
    record = {"available": True, "origins": len(rows), "horizon": horizon,
              "start": frame.index[first].strftime("%Y-%m-%d"),
              "end": frame.index[last].strftime("%Y-%m-%d"), "level": DEFAULT_LEVEL,
              "origins_in_training": inside,
              "policy_weights": [float(w) for w in table.policy.weights[:horizon]],
              **{name: metrics.rounded(values) for name, values in step.items()}}
    record["verdict"] = verdict(record, whole=origins is None)
    return record


def _scored_origins(frame: pd.DataFrame, table: tables.ForecastTable, horizon: int, as_of,
                    origins: int | None) -> tuple[int, np.ndarray]:
    # The row of as_of, and the last ``origins`` rows (None: all) whose outcome it knows.
    end = rows_until(frame, as_of) - 1
    last = end - horizon
    first = table.first if origins is None else max(table.first, last - origins + 1)
    return end, np.arange(first, last + 1)


def _scored(table: tables.ForecastTable, rows: np.ndarray, horizon: int):
    # The forecasts made at ``rows``, what happened, and the naive forecast: (n, horizon) each.
    forecasts = table.forecasts(rows, horizon)
    actual = table.closes[rows[:, None] + np.arange(1, horizon + 1)]
    naive = np.repeat(table.closes[rows][:, None], horizon, axis=1)
    return forecasts, actual, naive


def by_step(frame: pd.DataFrame, model: Artifact, as_of=None,
            origins: int | None = YEAR_OF_ORIGINS, cache: ByteBoundedLRU | None = None
            ) -> dict | None:
    """MAE vs naive (and its p-value) at every step the model forecasts, 1 to 30.

    Step h is scored on the origins ``track_record`` scores at horizon h (the last ``origins``
    whose h-day outcome ``as_of`` knows; None: all), so the curve at the chosen horizon is the
    figure beside it. None when not even a 1-day forecast can be scored.
    """
    table = tables.table_for(frame, model, cache)
    end = rows_until(frame, as_of) - 1
    steps = min(MAX_HORIZON, model.config.output_steps, end - table.first)
    if steps < 1:
        return None
    _, fewest = _scored_origins(frame, table, steps, as_of, origins)  # the furthest step's
    first = fewest[0] if origins is None else max(table.first, end - origins - steps + 1)
    rows = np.arange(first, end)  # every origin some step scores
    horizons = np.arange(1, steps + 1)
    # Step h scores the rows _scored_origins gives at horizon h; the rest of its column is NaN,
    # and the targets are clipped to `end` before indexing: nothing after as_of is read.
    lowest = end - horizons - (end - first if origins is None else origins) + 1
    scored = (rows[:, None] >= np.maximum(lowest, table.first)) & (
        rows[:, None] + horizons <= end)
    actual = np.where(scored, table.closes[np.minimum(rows[:, None] + horizons, end)], np.nan)
    served = table.forecasts(rows, steps)
    naive = np.repeat(table.closes[rows][:, None], steps, axis=1)
    ratio = metrics.relative_mae(actual, served, naive)
    p_value = p_values_vs_naive(actual, served, naive)  # NaN pairs are left out per step
    return {"steps": steps, "origins": len(fewest),
            "start": frame.index[first].strftime("%Y-%m-%d"),
            "end": frame.index[end - 1].strftime("%Y-%m-%d"),
            "mae_vs_naive": metrics.rounded(ratio), "p_value_vs_naive": metrics.rounded(p_value),
            "policy_weights": [float(w) for w in table.policy.weights[:steps]]}


def past_forecasts(frame: pd.DataFrame, model: Artifact, horizon: int, as_of=None,
                   origins: int | None = YEAR_OF_ORIGINS, cache: ByteBoundedLRU | None = None
                   ) -> list[dict]:
    """The track record's forecasts ``horizon`` days ahead, each on the day it was for, beside
    the close that day: ``[{"date", "forecast", "actual"}]``, oldest first."""
    table = tables.table_for(frame, model, cache)
    _, rows = _scored_origins(frame, table, horizon, as_of, origins)
    if not len(rows):
        return []
    forecasts, actual, _ = _scored(table, rows, horizon)
    dates = frame.index[rows + horizon].strftime("%Y-%m-%d")
    return [{"date": d, "forecast": f, "actual": a} for d, f, a in
            zip(dates, rounding.prices(forecasts[:, -1]), rounding.prices(actual[:, -1]))]


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

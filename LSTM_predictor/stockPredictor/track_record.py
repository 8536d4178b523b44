"""A model's track record on one series, in numbers and in one plain sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics, tables
from .artifacts import Artifact
from .bands import DEFAULT_LEVEL
from .lru import ByteBoundedLRU
from .predict import rows_until

# A trading year of origins: what "the last year" means on the forecast page.
YEAR_OF_ORIGINS = 250


def track_record(frame: pd.DataFrame, model: Artifact, horizon: int, as_of=None,
                 origins: int | None = YEAR_OF_ORIGINS,
                 cache: ByteBoundedLRU | None = None) -> dict:
    """How ``model`` did on ``frame`` before ``as_of``: the last ``origins`` forecasts (None: all).

    Returns the per-step MAE vs naive, directional accuracy and band coverage of the model's
    ``horizon``-day forecasts made at each earlier trading day whose outcome was known by
    ``as_of``, with a verdict sentence; ``{"available": False, "reason": ...}`` when the
    series is too short for even one such forecast. Every number is a slice of the model's
    forecast table over ``frame`` (its blocks from ``cache``, default the process's).
    """
    end = rows_until(frame, as_of) - 1
    table = tables.table_for(frame, model, cache)
    last = end - horizon  # the latest origin whose outcome ``as_of`` knows
    first = table.first if origins is None else max(table.first, last - origins + 1)
    if last < first:
        return {"available": False, "reason": (
            f"no origin for a {horizon}-day track record before {frame.index[end].date()}: an "
            f"origin needs {table.first + 1} rows of prices up to it and {horizon} trading days "
            f"after it, and the prices from {frame.index[0].date()} hold {end + 1} rows")}
    rows = np.arange(first, last + 1)
    forecasts = table.forecasts(rows, horizon)
    actual = table.closes[rows[:, None] + np.arange(1, horizon + 1)]
    naive = np.repeat(table.closes[rows][:, None], horizon, axis=1)
    step = {"mae_vs_naive": metrics.relative_mae(actual, forecasts, naive),
            "directional_accuracy": metrics.directional_accuracy(actual, forecasts,
                                                                 table.closes[rows]),
            "coverage": metrics.coverage_of(table.flags(rows, horizon))}
    until = model.trained_until(str(frame.attrs.get("ticker", "")))
    inside = 0 if until is None else int(np.sum(frame.index[rows] <= until))
    record = {"available": True, "origins": len(rows), "horizon": horizon,
              "start": frame.index[first].strftime("%Y-%m-%d"),
              "end": frame.index[last].strftime("%Y-%m-%d"), "level": DEFAULT_LEVEL,
              "origins_in_training": inside,
              **{name: metrics.rounded(values) for name, values in step.items()}}
    record["verdict"] = verdict(record, whole=origins is None)
    return record


def verdict(record: dict, whole: bool = False) -> str:
    """One sentence: better or worse than assuming no change at the horizon, and by how much."""
    h, n = record["horizon"], record["origins"]
    ratio = record["mae_vs_naive"][h - 1]
    span = (f"over the {n} forecasts this data allows" if whole
            else f"over the last {n} trading days")
    days = "1 day" if h == 1 else f"{h} days"
    if ratio is None:
        return f"{span.capitalize()}, there was nothing to compare with."
    change = abs(1.0 - ratio) * 100
    if change < 0.5:
        compared = "about as accurate as assuming no change"
    else:
        compared = (f"{change:.0f}% {'more' if ratio < 1 else 'less'} accurate than assuming "
                    "no change")
    sentence = f"{span.capitalize()}, this model's forecasts {days} ahead were {compared}."
    if record["origins_in_training"]:
        sentence += (f" {record['origins_in_training']} of those days lie inside its training "
                     "period, which flatters it.")
    return sentence

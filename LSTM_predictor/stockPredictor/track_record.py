"""A model's track record on one series, in numbers and in one plain sentence."""

from __future__ import annotations

import pandas as pd

from .artifacts import Artifact
from .errors import DataError
from .evaluate import backtest
from .metrics import rounded
from .predict import history_until

# A trading year of origins: what "the last year" means on the forecast page.
YEAR_OF_ORIGINS = 250


def track_record(frame: pd.DataFrame, model: Artifact, horizon: int, as_of=None,
                 origins: int | None = YEAR_OF_ORIGINS) -> dict:
    """How ``model`` did on ``frame`` before ``as_of``: the last ``origins`` forecasts (None: all).

    Returns the per-step MAE vs naive, directional accuracy and band coverage of the model's
    ``horizon``-day forecasts made at each earlier trading day whose outcome was known by
    ``as_of``, with a verdict sentence; ``{"available": False, "reason": ...}`` when the
    series is too short for even one such forecast.
    """
    history = history_until(frame, as_of)
    first = 0 if origins is None else max(0, len(history) - origins - horizon)
    try:
        result = backtest(history, model, horizon, start=history.index[first],
                          end=history.index[-1])
    except DataError as exc:
        return {"available": False, "reason": str(exc)}
    scores = result.metrics()[next(iter(result.forecasts))]
    step = {name: rounded(scores[name]) for name in
            ("mae_vs_naive", "directional_accuracy", "coverage")}
    inside = int(result.in_training.sum())
    record = {"available": True, "origins": len(result.origins), "horizon": horizon,
              "start": result.origins[0].strftime("%Y-%m-%d"),
              "end": result.origins[-1].strftime("%Y-%m-%d"), "level": result.level,
              "origins_in_training": inside, **step}
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

"""How a newly trained model did, in the figures a job's page shows: on its validation split
against no change, the general model and what serves its ticker today; its held-out test record;
the steps its point policy serves.

Every model is scored through forecast tables (forecast/tables.py), as it is served (its point
policy applied), on the same origins: from the new model's last training day to the end of its
validation split, where every outcome lies in that split. No TensorFlow here: the models run on
the NumPy runtime.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..forecast import tables
from ..forecast.words import ranges
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from ..model.policy import Policy
from ..model.registry import GENERAL


def validation(model: Artifact, frame: pd.DataFrame, ticker: str,
               others: Mapping[str, Artifact | None]) -> dict:
    """Per step, each model's validation MAE relative to no change's, on the same origins.

    ``others`` names the models to compare ("general", "incumbent"; None: not there). The
    origins are the new model's validation origins where every model has a full window.
    """
    split = model.metadata["data"][ticker]
    index = frame.index
    first = int(index.searchsorted(pd.Timestamp(split["train_end"]), side="right"))
    stop = int(index.searchsorted(pd.Timestamp(split["val_end"]), side="right"))
    closes = frame["close"].to_numpy(np.float64)[:stop]
    cache = tables.private_cache()  # a job never fills a serving cache
    built = {"model": tables.ForecastTable(closes, model, cache)}
    for key, other in others.items():
        if other is not None:
            built[key] = tables.ForecastTable(closes, other, cache)
    start = max(first - 1, *(table.first for table in built.values()))
    origins = np.arange(start, stop - 1)
    steps = []
    for h in range(1, min(MAX_HORIZON, model.config.output_steps) + 1):
        rows = origins[origins + h < stop]
        row = {"h": h, **{key: None for key in ("model", *others)}}
        if len(rows):
            last, actual = closes[rows], closes[rows + h]
            scale = np.abs(actual - last).mean()
            for key, table in built.items():
                if h <= table.steps and scale > 0:
                    served = table.forecasts(rows, h)[:, h - 1]
                    row[key] = round(float(np.abs(actual - served).mean() / scale), 4)
        steps.append(row)
    used = index[origins] if len(origins) else index[:0]
    out = {"start": str(used[0].date()) if len(used) else None,
           "end": str(index[stop - 1].date()) if len(used) else None,
           "origins": int(len(origins)), "steps": steps}
    # Every mean over the same steps: those where each model there has a figure (a model with
    # fewer output steps would otherwise be averaged over easier, nearer steps).
    present = [key for key in ("model", *others) if key in built]
    common = [row for row in steps if all(row[key] is not None for key in present)]
    for key in ("model", *others):
        out[f"mean_{key}"] = _mean([row[key] for row in common]) if key in built else None
    return out


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(float(np.mean(known)), 4) if known else None


def decide(record: dict, ticker: str | None, incumbent: Artifact | None,
           incumbent_name: str | None) -> tuple[bool, str]:
    """Whether the new model becomes ``ticker``'s default, and the sentence that says why.

    Only a model trained on a ticker's prices can become its default, and only when its mean
    served validation ratio over the steps is below the incumbent's on the same origins.
    """
    mine, theirs = record.get("mean_model"), record.get("mean_incumbent")
    if ticker is None:
        return False, ("A model trained on an uploaded file never becomes a ticker's default: "
                       "the file's prices are not the market's. It is kept and can be chosen "
                       "by name.")
    if mine is None:
        return False, (f"The validation period is too short to compare it with what serves "
                       f"{ticker}, so it is not {ticker}'s default; it is kept and can be "
                       f"chosen by name.")
    steps = sum(1 for row in record["steps"] if row["model"] is not None)
    if incumbent is None:
        return True, (f"It is now {ticker}'s default: no model served {ticker} before; over "
                      f"{steps} steps its validation error was {mine:.2f} of no change's on "
                      f"average.")
    if theirs is None:
        return False, (f"{incumbent_name}, which serves {ticker}, could not be scored on these "
                       f"validation days, so the new model is not {ticker}'s default; it is "
                       f"kept and can be chosen by name.")
    seen = _seen(incumbent, ticker, record)
    # Three places, as the page's figures; four when three would show a tie that is not one.
    mine_, theirs_ = (f"{v:.3f}" if round(mine, 3) != round(theirs, 3) else f"{v:.4f}"
                      for v in (mine, theirs))
    general = record.get("mean_general")
    # The general model serves a ticker only while it has no model of its own: say when it
    # did better all the same, so that a "default" is never read as "the best there is".
    also = (f" The general model's was lower still ({general:.3f})."
            if general is not None and general < mine and incumbent_name != GENERAL else "")
    if mine < theirs:
        return True, (f"It is now {ticker}'s default: over {steps} steps its validation error "
                      f"was {mine_} of no change's on average, below {theirs_} for "
                      f"{incumbent_name}, which served {ticker} until now{seen}.{also}")
    return False, (f"It is kept but is not {ticker}'s default: over {steps} steps its "
                   f"validation error was {mine_} of no change's on average, not below "
                   f"{theirs_} for {incumbent_name}, which still serves {ticker}{seen}. "
                   f"Choose it by name to forecast with it.")


def _seen(incumbent: Artifact, ticker: str, record: dict) -> str:
    if not record.get("start"):
        return ""
    dates = pd.DatetimeIndex([record["start"], record["end"]])
    if not incumbent.in_training(dates, ticker).any():
        return ""
    return (f" ({incumbent.name} may have seen these dates in training, which flatters its "
            f"figure)")


def policy_steps(model: Artifact) -> tuple[list[int], str]:
    """The steps where the model's point policy serves its own move, and a sentence saying so."""
    weights = Policy.of(model).weights
    served = [h for h, weight in enumerate(weights, 1) if weight > 0]
    if not served:
        return served, ("Its point policy serves no change (the last close) at every step: on "
                        "validation data its moves did not beat no change clearly enough.")
    return served, (f"Its point policy serves the network's move, shrunk by its validation "
                    f"evidence, at {ranges(served)} trading days ahead, and no change at the "
                    f"other steps of {len(weights)}.")


def held_out_part(record: dict | None, words: str) -> dict:
    """The held-out test record (training.train.held_out_record) as the job's result holds it."""
    if record is None:
        return {"start": None, "end": None, "steps": [], "words": words}
    return {"start": record["start"], "end": record["end"], "words": words,
            "steps": [{"h": row["h"], "n": row["n"], "verdict": row["verdict"],
                       "ratio": None if row["ratio"] is None else round(row["ratio"], 4),
                       "p": None if np.isnan(row["p"]) else round(float(row["p"]), 4)}
                      for row in record["steps"]]}

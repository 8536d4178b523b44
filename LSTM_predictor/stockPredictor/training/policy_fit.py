"""The per-step point policy (``fit-policy --form per-step``), and the tests every form uses.

Per step h, the grid weight with the lowest validation MAE relative to naive (pooled as the mean
over tickers of each ticker's ratio) is shrunk by the Diebold-Mariano evidence that it beats
naive: w_h = b_h * max(0, 1 - 1 / t_h^2). Only rows up to each ticker's validation end are read.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import DataError
from ..forecast import metrics, tables
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from ..model.policy import METHOD, Policy

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
MIN_ORIGINS = 100  # a ticker's step counts in the fit only with this many validation origins


def validation_frames(model: Artifact, frames: Mapping[str, pd.DataFrame]
                      ) -> dict[str, tuple[pd.DataFrame, int]]:
    """Per ticker: its prices up to the end of the validation split, and that split's first row.

    Reads the split dates from model.json (``data.<ticker>.train_end`` and ``val_end``), so a
    later price never reaches the fit.
    """
    data = model.metadata.get("data") or {}
    out = {}
    for ticker, frame in frames.items():
        split = data.get(ticker) or {}
        if not split.get("train_end") or not split.get("val_end"):
            raise DataError(f"model {model.name!r} does not record the validation split of "
                            f"{ticker}; expected data.{ticker}.train_end and val_end in model.json")
        index = frame.index
        first = int(index.searchsorted(pd.Timestamp(split["train_end"]), side="right"))
        stop = int(index.searchsorted(pd.Timestamp(split["val_end"]), side="right"))
        out[ticker] = (frame.iloc[:stop], first)
    return out


def fit(model: Artifact, frames: Mapping[str, pd.DataFrame]) -> dict:
    """The ``policy`` entry for model.json, fitted on the validation splits of ``frames``.

    ``frames`` maps the tickers the model was trained on to their prices; only rows up to each
    ticker's validation end are read.
    """
    steps = min(model.config.output_steps, MAX_HORIZON)
    cache = tables.private_cache()  # the fit never fills the serving cache
    parts = []
    for ticker, (frame, first_val) in validation_frames(model, frames).items():
        table = tables.ForecastTable(frame["close"].to_numpy(np.float64), model, cache,
                                     policy=Policy.identity(steps))
        # Origins from the last training day: their outcomes all lie in the validation split.
        rows = np.arange(max(table.first, first_val - 1), len(frame) - 1)
        if len(rows):
            parts.append((ticker, frame.index[rows], table, rows))
    if not parts:
        raise DataError(f"no validation origins to fit model {model.name!r}'s policy on")
    evidence, weights = [], []
    for h in range(1, steps + 1):
        step = _fit_step(parts, h)
        evidence.append(step)
        weights.append(step["weight"])
    return {"method": METHOD, "fitted_on": "validation", "shrinkage": "max(0, 1 - 1/t^2)",
            "grid": [float(w) for w in WEIGHT_GRID], "min_origins": MIN_ORIGINS,
            "tickers": sorted({t for t, *_ in parts}),
            "start": min(str(d[0].date()) for _, d, *_ in parts),
            "end": max(str(d[-1].date()) for _, d, *_ in parts),
            "weights": weights, "evidence": evidence}


def _fit_step(parts, h: int) -> dict:
    ratios, served_loss, naive_loss = [], [], []
    for ticker, dates, table, rows in parts:
        rows_h = rows[rows + h < len(table)]
        if len(rows_h) < MIN_ORIGINS:
            continue
        last = table.closes[rows_h]
        actual = table.closes[rows_h + h]
        raw = table.forecasts(rows_h, h)[:, h - 1]
        moves = np.log(raw / last)
        # Every grid weight at once: (weights, origins) absolute errors.
        errors = np.abs(actual - last * np.exp(WEIGHT_GRID[:, None] * moves))
        naive = np.abs(actual - last)
        scale = naive.mean()
        ratios.append(errors.mean(axis=1) / scale)
        index = dates[rows_h - rows[0]]
        served_loss.append(pd.DataFrame(errors.T / scale, index=index))
        naive_loss.append(pd.Series(naive / scale, index=index))
    if not ratios:
        return {"step": h, "weight": 0.0, "origins": 0, "reason": "too few validation origins"}
    pooled = np.mean(ratios, axis=0)
    best = int(np.argmin(pooled))  # the first minimum: ties go to the smaller weight
    stat, p_two = pooled_test([frame[best] for frame in served_loss], naive_loss, h)
    p_one = float("nan") if np.isnan(p_two) else (p_two / 2 if stat > 0 else 1 - p_two / 2)
    dates = pd.concat(naive_loss).index.nunique()
    return {"step": h, "weight": shrunk(float(WEIGHT_GRID[best]), stat),
            "best_weight": float(WEIGHT_GRID[best]), "origins": int(dates),
            "raw_mae_vs_naive": round(float(pooled[-1]), 4),
            "best_mae_vs_naive": round(float(pooled[best]), 4),
            "t": None if np.isnan(stat) else round(float(stat), 3),
            "p_value_one_sided": None if np.isnan(p_one) else round(p_one, 4)}


def pooled_test(losses: list[pd.Series], naive: list[pd.Series], horizon: int
                ) -> tuple[float, float]:
    """Diebold-Mariano statistic (> 0: ``losses`` smaller) and two-sided p over several tickers.

    Each series holds one ticker's losses by origin date, already scaled by that ticker's naive
    MAE. The test runs on the cross-ticker mean of each date, so tickers moving together on the
    same day are not counted as independent evidence.
    """
    ours = pd.concat(losses).groupby(level=0).mean().sort_index().to_numpy()
    theirs = pd.concat(naive).groupby(level=0).mean().sort_index().to_numpy()
    return metrics.diebold_mariano(theirs, ours, horizon)


def shrunk(weight: float, t: float) -> float:
    """``weight`` * max(0, 1 - 1 / t^2), rounded to 2 places; 0 unless t > 1 (NaN included)."""
    return round(weight * (1.0 - 1.0 / t ** 2), 2) if t > 1 else 0.0


def describe(entry: dict) -> str:
    """The fitted weights and their validation evidence as a few lines of text."""
    lines = [f"point policy fitted on validation data {entry['start']} to {entry['end']} "
             f"({', '.join(entry['tickers'])}): weight on the network's move per step "
             f"(0 = no change), the best weight shrunk by {entry['shrinkage']}",
             f"{'step':>4}  {'weight':>6}  {'raw MAE/naive':>13}  {'best':>12}  {'t':>6}  "
             f"{'p':>7}"]
    for step in entry["evidence"]:
        if not step.get("origins"):
            lines.append(f"{step['step']:>4}  {step['weight']:>6.2f}  {step['reason']}")
            continue
        p, t = step["p_value_one_sided"], step["t"]
        t_text = "-" if t is None else f"{t:.2f}"
        p_text = "-" if p is None else f"{p:.4f}"
        lines.append(f"{step['step']:>4}  {step['weight']:>6.2f}  "
                     f"{step['raw_mae_vs_naive']:>13.4f}  "
                     f"{step['best_mae_vs_naive']:>.4f} @{step['best_weight']:.2f}  "
                     f"{t_text:>6}  {p_text:>7}")
    return "\n".join(lines)

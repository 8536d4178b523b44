"""The point policy: how much of the network's predicted move to serve at each step.

On daily prices the naive forecast (no change) is very hard to beat a few days ahead, so the
served forecast at step h is the network's forecast shrunk toward the last close:

    served_h = c_t * (f_h / c_t) ** w_h,  i.e.  log(served_h / c_t) = w_h * log(f_h / c_t),

with a weight w_h in [0, 1] per step. w_h = 0 serves the naive forecast itself, w_h = 1 the raw
network. The weights are fitted on the model's validation split only (never its test split nor
anything later), in two moves per step:

1. b_h is the grid value (0, 0.05, ..., 1) with the lowest validation MAE relative to naive,
   pooled as the mean over tickers of each ticker's ratio (so no price level dominates);
2. b_h is shrunk by the strength of the evidence that it beats naive on the same data:
   w_h = b_h * max(0, 1 - 1 / t_h^2), where t_h is the Diebold-Mariano statistic of naive's
   absolute errors against the shrunk forecast's (HAC variance with h - 1 lags, Harvey-
   Leybourne-Newbold correction) on the daily cross-ticker mean of price-normalised errors.
   Where t_h <= 1 (one-sided p above about 0.16) the evidence is not convincing and w_h = 0:
   the forecast is "no change". As t_h grows the weight approaches b_h: the positive-part
   James-Stein factor, which shrinks an estimated gain toward zero by its own noise.

The rule was fixed before the held-out test period was scored (a hard gate at p < 0.05 left every
step of every candidate at 0 on validation, i.e. naive everywhere). ``p_value_one_sided`` is
recorded beside each weight.

model.json keeps the weights and this evidence under ``policy``; an artifact without one serves
the raw network (``Policy.identity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from . import metrics
from .artifacts import Artifact
from .config import MAX_HORIZON
from .errors import ArtifactError, DataError
from .lru import ByteBoundedLRU

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
MIN_ORIGINS = 100  # a ticker's step counts in the fit only with this many validation origins
METHOD = "shrink-toward-naive"


@dataclass(frozen=True)
class Policy:
    """Per-step weights on the network's predicted log move; see the module docstring."""

    weights: tuple[float, ...]

    @classmethod
    def identity(cls, steps: int = MAX_HORIZON) -> "Policy":
        """Serve the raw network at every step (an artifact fitted before policies existed)."""
        return cls((1.0,) * steps)

    @classmethod
    def of(cls, model: Artifact) -> "Policy":
        """The policy recorded in ``model``'s model.json, else the identity."""
        entry = model.metadata.get("policy")
        steps = model.config.output_steps
        if entry is None:
            return cls.identity(steps)
        weights = entry.get("weights") if isinstance(entry, dict) else None
        if not isinstance(weights, list) or len(weights) != steps or not all(
                isinstance(w, (int, float)) and 0.0 <= w <= 1.0 for w in weights):
            raise ArtifactError(f"model {model.name!r}: policy.weights in model.json must be "
                                f"{steps} numbers from 0 to 1")
        return cls(tuple(float(w) for w in weights))

    @property
    def is_identity(self) -> bool:
        """True when every weight is 1: the served forecast is the raw network's."""
        return all(w == 1.0 for w in self.weights)

    def apply(self, forecasts: np.ndarray, last_close) -> np.ndarray:
        """Served closes from raw forecast closes (n, H) and each origin's last close (n,)."""
        forecasts = np.asarray(forecasts, dtype=np.float64)
        if self.is_identity:
            return forecasts
        last = np.asarray(last_close, dtype=np.float64).reshape(-1, 1)
        weights = np.asarray(self.weights[:forecasts.shape[1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            served = last * np.exp(weights * np.log(forecasts / last))
        # w = 0 is the naive forecast exactly, whatever the network said (NaN: no forecast).
        return np.where(weights == 0.0, np.where(np.isnan(forecasts), np.nan, last), served)


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
    from . import tables  # tables applies a Policy, so it imports this module first

    steps = min(model.config.output_steps, MAX_HORIZON)
    cache = ByteBoundedLRU(64 * 1024 * 1024)  # private: the fit never fills the serving cache
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

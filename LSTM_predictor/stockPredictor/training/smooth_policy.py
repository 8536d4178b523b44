"""Smooth point policies: weights that change smoothly with the step, fitted on several folds.

The first served policy (policy_fit.py) picked each step's weight on its own and zeroed it
unless the Diebold-Mariano evidence was convincing, so the served path could be flat for ten
days and then bend. The forms here tie the steps together:

- ``per-step``: policy_fit's rule (best grid weight, shrunk by max(0, 1 - 1/t^2)) per step;
- ``isotonic``: those weights made non-decreasing in h (pool-adjacent-violators);
- ``constant``: one c for the whole path, w_h = c;
- ``curve``: w_h = c * (1 - exp(-h / tau)).

Each is fitted on folds before the test split (the validation split, and windows of years before
it, which lie in the network's training years, so they score it in sample): windows of origins
whose outcomes lie inside the window
(``Fold``), from several tickers and years, pooled as the mean over folds of each fold's
MAE / naive MAE, so no price level or period dominates. ``constant`` and ``curve`` minimise the
mean of that ratio over steps, then scale by the same James-Stein factor as policy_fit, with t
the Diebold-Mariano statistic of the path's mean loss against naive's.

FORM is the one served: bench/policy_study.py chose it on those folds of the sample
tickers (2001-2011) by a rule fixed before the run (the largest jump between adjacent steps at
most 0.1, then the lowest leave-one-fold-out mean ratio): ``constant``, mean ratio 0.9856
(``per-step`` 0.9870, ``isotonic`` 0.9862, ``curve`` 0.9856 with a jump above 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import policy_fit
from ..forecast import tables
from ..model.config import MAX_HORIZON
from ..model.policy import Policy

# Weights are searched on a grid of 0.005: fine enough that rounding to 2 places is the limit.
FINE_GRID = np.round(np.linspace(0.0, 1.0, 201), 3)
TAU_GRID = np.round(np.geomspace(0.5, 60.0, 41), 3)
FORMS = ("per-step", "isotonic", "constant", "curve")
FORM = "constant"


@dataclass(frozen=True)
class Fold:
    """One ticker's validation window: origins, each one's last close, outcomes and raw move."""

    ticker: str
    label: str
    dates: pd.DatetimeIndex  # origin dates (n,)
    last: np.ndarray         # last close at each origin (n,)
    actual: np.ndarray       # closes h = 1..H days later (n, H)
    moves: np.ndarray        # the network's predicted log move log(raw / last) (n, H)

    def served(self, weights) -> np.ndarray:
        """Served closes under per-step ``weights`` (H,)."""
        return self.last[:, None] * np.exp(np.asarray(weights)[None, :] * self.moves)

    @property
    def naive_mae(self) -> np.ndarray:
        """Per-step MAE of no change (H,)."""
        return np.abs(self.actual - self.last[:, None]).mean(axis=0)


def ratio_table(folds: list[Fold], grid=FINE_GRID) -> np.ndarray:
    """Per fold, step and grid weight: MAE of the shrunk forecast / naive MAE, (F, H, G).

    A step's ratio depends on that step's weight alone, so any form is scored by reading it.
    """
    out = []
    for fold in folds:
        served = fold.last[:, None, None] * np.exp(grid[None, None, :] * fold.moves[:, :, None])
        errors = np.abs(fold.actual[:, :, None] - served).mean(axis=0)
        out.append(errors / fold.naive_mae[:, None])
    return np.array(out)


def ratios_at(table: np.ndarray, weights, grid=FINE_GRID) -> np.ndarray:
    """Per-step ratio pooled over folds (mean) for ``weights`` (H,), interpolated on ``grid``."""
    pooled = table.mean(axis=0)
    weights = np.asarray(weights, np.float64)
    return np.array([np.interp(w, grid, pooled[h]) for h, w in enumerate(weights)])


def pava(values, weights=None) -> np.ndarray:
    """The non-decreasing sequence nearest ``values`` in weighted least squares."""
    values = np.asarray(values, np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, np.float64)
    blocks = []  # [mean, weight, count]; merge while the previous block's mean is above
    for v, w in zip(values, weights):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(n, m) for m, _, n in blocks])


def _losses(folds: list[Fold], weights) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    # Per fold, absolute errors of the served path and of naive, by origin date, each step
    # scaled by the fold's naive MAE (as policy_fit does per ticker).
    ours, naive = [], []
    for fold in folds:
        scale = fold.naive_mae
        ours.append(pd.DataFrame(np.abs(fold.actual - fold.served(weights)) / scale, fold.dates))
        naive.append(pd.DataFrame(np.abs(fold.actual - fold.last[:, None]) / scale, fold.dates))
    return ours, naive


def path_evidence(folds: list[Fold], weights) -> float:
    """Diebold-Mariano t (> 0: served better) of the path's mean loss vs naive, pooled by date."""
    ours, naive = _losses(folds, weights)
    horizon = len(np.asarray(weights))
    stat, _ = policy_fit.pooled_test([o.mean(axis=1) for o in ours],
                                     [n.mean(axis=1) for n in naive], horizon)
    return stat


def step_tests(folds: list[Fold], weights) -> tuple[np.ndarray, np.ndarray]:
    """Per step: DM t (> 0: served better than naive) and the one-sided p that it is WORSE."""
    ours, naive = _losses(folds, weights)
    stats, p_worse = [], []
    for h in range(len(np.asarray(weights))):
        stat, p_two = policy_fit.pooled_test([o[h] for o in ours], [n[h] for n in naive], h + 1)
        stats.append(stat)
        p_worse.append(np.nan if np.isnan(p_two) else p_two / 2 if stat < 0 else 1 - p_two / 2)
    return np.array(stats), np.array(p_worse)


def _james_stein(weights: np.ndarray, t: float) -> np.ndarray:
    # policy_fit's factor, applied to the whole path: one t, so the shape is kept.
    factor = 1.0 - 1.0 / t ** 2 if t > 1 else 0.0
    return np.round(weights * factor, 2)


def fit_per_step(folds: list[Fold], table: np.ndarray | None = None) -> np.ndarray:
    """policy_fit's rule on pooled folds: per step the best weight of its grid, shrunk by its t."""
    table = ratio_table(folds, policy_fit.WEIGHT_GRID) if table is None else table
    best = policy_fit.WEIGHT_GRID[np.argmin(table.mean(axis=0), axis=1)]
    stats, _ = step_tests(folds, best)
    return np.array([policy_fit.shrunk(float(b), t) for b, t in zip(best, stats)])


def fit_isotonic(folds: list[Fold]) -> np.ndarray:
    """The per-step weights made non-decreasing in h."""
    return np.round(pava(fit_per_step(folds)), 2)


def fit_constant(folds: list[Fold], table: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """One weight c for every step: the c of least mean ratio over steps, then shrunk by its t."""
    table = ratio_table(folds) if table is None else table
    steps = table.shape[1]
    mean_ratio = table.mean(axis=0).mean(axis=0)  # (G,)
    c = float(FINE_GRID[int(np.argmin(mean_ratio))])
    t = path_evidence(folds, np.full(steps, c))
    return _james_stein(np.full(steps, c), t), {"c": c, "t": round(float(t), 3)}


def curve(c: float, tau: float, steps: int) -> np.ndarray:
    """w_h = c * (1 - exp(-h / tau)), h = 1..steps."""
    return c * (1.0 - np.exp(-np.arange(1, steps + 1) / tau))


def fit_curve(folds: list[Fold], table: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """(c, tau) of least mean ratio over steps on a grid, the path then shrunk by its t."""
    table = ratio_table(folds) if table is None else table
    pooled = table.mean(axis=0)  # (H, G)
    steps = pooled.shape[0]
    best = (np.inf, 0.0, TAU_GRID[0])
    for tau in TAU_GRID:
        shape = curve(1.0, tau, steps)
        for c in FINE_GRID:
            score = np.mean([np.interp(c * s, FINE_GRID, pooled[h]) for h, s in enumerate(shape)])
            if score < best[0] - 1e-12:  # ties keep the smaller c, then the smaller tau
                best = (score, float(c), float(tau))
    _, c, tau = best
    t = path_evidence(folds, curve(c, tau, steps))
    return _james_stein(curve(c, tau, steps), t), {"c": c, "tau": tau, "t": round(float(t), 3)}


def fit_form(form: str, folds: list[Fold]) -> tuple[np.ndarray, dict]:
    """The weights (H,) of ``form`` (one of FORMS) fitted on ``folds``, and its parameters."""
    if form == "per-step":
        return fit_per_step(folds), {}
    if form == "isotonic":
        return fit_isotonic(folds), {}
    if form == "constant":
        return fit_constant(folds)
    if form == "curve":
        return fit_curve(folds)
    raise ValueError(f"form {form!r} is not one of {FORMS}")


def smoothness(weights) -> float:
    """The largest jump between adjacent steps' weights."""
    weights = np.asarray(weights, np.float64)
    return float(np.max(np.abs(np.diff(weights)))) if weights.size > 1 else 0.0


def fold_from_table(ticker: str, label: str, dates, table, rows: np.ndarray,
                    steps: int) -> Fold:
    """A Fold of ``rows`` (origins whose outcomes all lie in the table) of a forecast table."""
    raw = table.forecasts(rows, steps, raw=True)
    last = table.closes[rows]
    actual = table.closes[rows[:, None] + np.arange(1, steps + 1)]
    return Fold(ticker, label, pd.DatetimeIndex(dates[rows]), last, actual,
                np.log(raw / last[:, None]))


def validation_folds(model, frames, years: int = 2, count: int = 5,
                     min_origins: int = policy_fit.MIN_ORIGINS) -> tuple[list[Fold], dict]:
    """Folds per ticker: its validation split, then ``years``-year windows before it.

    Reads ``data.<ticker>.train_end`` and ``val_end`` from model.json; no origin's outcome lies
    after val_end. Returns the folds and each ticker's forecast table (for its test period).
    """
    steps = min(model.config.output_steps, MAX_HORIZON)
    cache = tables.private_cache()
    folds, tabs = [], {}
    data = model.metadata.get("data") or {}
    for ticker, frame in frames.items():
        split = data[ticker]
        table = tables.ForecastTable(frame["close"].to_numpy(np.float64), model, cache,
                                     policy=Policy.identity(steps))
        tabs[ticker] = table
        index = frame.index
        ends = [pd.Timestamp(split["val_end"]), pd.Timestamp(split["train_end"])]
        ends += [ends[-1] - pd.DateOffset(years=years * k) for k in range(1, count - 1)]
        starts = ends[1:] + [ends[-1] - pd.DateOffset(years=years)]
        for k, (start, end) in enumerate(zip(starts, ends)):
            first = max(table.first, int(index.searchsorted(start, side="right")) - 1)
            stop = int(index.searchsorted(end, side="right")) - 1  # the last row in the fold
            rows = np.arange(first, stop - steps + 1)
            if len(rows) >= min_origins:
                label = "val" if k == 0 else f"pre{k}"
                folds.append(fold_from_table(ticker, label, index, table, rows, steps))
    return folds, tabs


def fit_entry(model, frames, years: int = 2, count: int = 5,
              min_origins: int = policy_fit.MIN_ORIGINS, form: str = FORM) -> dict:
    """A ``policy`` entry for model.json of ``form`` (model/policy.py reads its weights).

    ``frames`` maps the tickers the model was trained on to their prices; no origin's outcome
    after a ticker's validation end is read. ``per-step`` is policy_fit's own entry. With no
    fold of ``min_origins`` origins the weights are 0: no evidence, so no change is served.
    """
    if form == "per-step":
        return policy_fit.fit(model, frames)
    policy_fit.validation_frames(model, frames)  # every ticker's split is recorded
    folds, _ = validation_folds(model, frames, years, count, min_origins)
    steps = min(model.config.output_steps, MAX_HORIZON)
    common = {"method": f"{form}-shrinkage", "fitted_on": "validation folds",
              "shrinkage": "max(0, 1 - 1/t^2), t of the path's mean loss against naive's",
              "min_origins": min_origins}
    if not folds:
        return {**common, "tickers": sorted(frames), "start": None, "end": None, "folds": [],
                "reason": f"no validation fold of {min_origins} origins",
                "weights": [0.0] * steps}
    weights, params = fit_form(form, folds)
    return {**common, **params,
            "tickers": sorted({f.ticker for f in folds}),
            "start": str(min(f.dates[0] for f in folds).date()),
            "end": str(max(f.dates[-1] for f in folds).date()),
            "folds": [f"{f.ticker}/{f.label} {f.dates[0].date()}..{f.dates[-1].date()}"
                      for f in folds],
            "weights": [float(w) for w in weights]}


def describe(entry: dict) -> str:
    """A fitted ``policy`` entry as a few lines of text."""
    if entry.get("evidence"):
        return policy_fit.describe(entry)
    weights = entry["weights"]
    if not entry.get("folds"):
        return f"point policy: {entry.get('reason')}; every step serves no change"
    params = ", ".join(f"{k} = {entry[k]}" for k in ("c", "tau", "t") if k in entry)
    return (f"point policy ({entry['method']}, {params}) fitted on {len(entry['folds'])} "
            f"validation folds {entry['start']} to {entry['end']} "
            f"({', '.join(entry['tickers'])}): weight on the network's move "
            f"{min(weights):.2f} to {max(weights):.2f} over steps 1-{len(weights)} "
            f"(0 = no change)")

"""The served band against GARCH(1,1)-t and a plain rolling conformal band on held-out origins.

For bench/accuracy.py. Per model and ticker, on the test period (origins after model.json's
data.<ticker>.val_end whose 30 outcomes lie by its test_end), around the served point forecast
and in log prices: ours (bands.widths_at, the term-structure band served), GARCH(1,1)-t
(bands_study.garch_scale: ``arch``, refit every 20 days, the conformal quantile of errors scaled
by the 1..h step variance sum) and plain (the conformal quantile of the last 250 absolute h-step
log errors, unscaled). Every band is scored on ONE set of origins per series: those where all
three have a band at both levels at every step 1..30. Bench only: ``arch`` is imported by
bands_study inside garch_scale, never by the package. These numbers only report.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bands_study import CALIBRATION, garch_scale
from stockPredictor.data.sources import load as load_prices
from stockPredictor.forecast import metrics, tables
from stockPredictor.forecast.bands import band, halfwidths_at, log_errors, widths_at

H = 30
LEVELS = (0.8, 0.95)
BANDS = ("ours", "GARCH(1,1)-t", "plain")
STEPS = (1, 5, 10, 20, 30)
_GARCH: dict[str, np.ndarray] = {}  # ticker -> GARCH scale at every row (same for every model)
TIMING = {"garch_s": 0.0}


def _garch(ticker: str, closes: np.ndarray) -> np.ndarray:
    """GARCH(1,1)-t scale (rows, H) of a ticker's closes, fitted once per run."""
    if ticker not in _GARCH:
        t0 = time.time()
        _GARCH[ticker] = garch_scale(closes, np.arange(len(closes)))
        TIMING["garch_s"] += time.time() - t0
    return _GARCH[ticker]


def series(artifact, ticker: str) -> dict | None:
    """Scores of the three bands on one ticker's held-out origins; None without any."""
    data = (artifact.metadata.get("data") or {}).get(ticker) or {}
    if not data.get("val_end") or not data.get("test_end"):
        return None
    frame = load_prices(ticker, "sample")
    closes, dates = frame["close"].to_numpy(np.float64), frame.index
    val_row = int(dates.searchsorted(pd.Timestamp(data["val_end"]), side="right")) - 1
    end_row = int(dates.searchsorted(pd.Timestamp(data["test_end"]), side="right")) - 1
    origins = np.arange(val_row + 1, end_row - H + 1)  # all H outcomes by test_end
    if not len(origins):
        return None  # FB: its test period is shorter than the horizon
    first = max(artifact.windowing.rows_needed - 1, origins[0] - H - CALIBRATION + 1)
    positions = np.arange(first, origins[-1] + 1)
    forecasts = tables.table_for(frame, artifact).forecasts(positions, H)
    errors = log_errors(closes[:end_row + 1], positions, forecasts)
    scale = _garch(ticker, closes)
    garch = halfwidths_at(positions, errors / scale[positions], origins, LEVELS, CALIBRATION)
    half = {"ours": widths_at(closes, positions, errors, origins, LEVELS, CALIBRATION),
            "GARCH(1,1)-t": {lv: garch[lv] * scale[origins] for lv in LEVELS},
            "plain": halfwidths_at(positions, errors, origins, LEVELS, CALIBRATION)}
    point = forecasts[origins - first]
    actual = closes[origins[:, None] + np.arange(1, H + 1)]
    bounds = {name: {lv: band(point, half[name][lv]) for lv in LEVELS} for name in BANDS}
    common = np.isfinite(actual).all(axis=1)
    for name in BANDS:
        for lv in LEVELS:
            common &= np.isfinite(bounds[name][lv][0]).all(axis=1)
    scores = {name: {lv: {"coverage": metrics.coverage(actual[common], lo[common], hi[common]),
                          "score": metrics.log_interval_score(actual[common], lo[common],
                                                              hi[common], lv)}
                     for lv, (lo, hi) in bounds[name].items()} for name in BANDS}
    return {"ticker": ticker, "origins": dates[origins[common]], "scores": scores,
            "ours80": dict(zip(dates[origins], zip(*bounds["ours"][0.8])))}


def goals(s: dict, name: str) -> tuple[float, float]:
    """Share of steps with 80% coverage in 77-83%, and the least 95% coverage over steps."""
    c80, c95 = s["scores"][name][0.8]["coverage"], s["scores"][name][0.95]["coverage"]
    return float(np.mean((c80 >= 0.77) & (c80 <= 0.83))), float(c95.min())


def ratio(s: dict, name: str, lv: float) -> float:
    """Mean over steps of the per-step interval score of ``name`` over plain's."""
    return float(np.mean(s["scores"][name][lv]["score"] / s["scores"]["plain"][lv]["score"]))


def per_series_table(model: str, all_series: list) -> list[str]:
    """Markdown rows: coverage per step, mean log interval score and its ratio to plain."""
    rows = []
    for s in all_series:
        where = f"{s['ticker']} ({len(s['origins'])})"
        for name in BANDS:
            share, low95 = goals(s, name)
            for lv in LEVELS:
                sc = s["scores"][name][lv]
                c = sc["coverage"]
                goal = (f"{share:.0%} of steps in 77-83%" if lv == 0.8
                        else f"min {low95:.1%}: {'yes' if low95 >= 0.92 else 'no'}")
                rows.append(f"| {model} | {where} | {name} | {lv:.0%} | "
                            + " | ".join(f"{c[h - 1]:.1%}" for h in STEPS)
                            + f" | {c.min():.1%}-{c.max():.1%} | {np.mean(sc['score']):.4f} | "
                            f"{ratio(s, name, lv):.3f} | {goal} |")
    return rows


def summary_rows(model: str, all_series: list) -> list[str]:
    """Markdown rows: ratios to plain averaged over tickers and steps, and the three goals."""
    rows = []
    for name in BANDS:
        r80 = np.mean([ratio(s, name, 0.8) for s in all_series])
        r95 = np.mean([ratio(s, name, 0.95) for s in all_series])
        got = [goals(s, name) for s in all_series]
        shares = ", ".join(f"{s['ticker']} {g[0]:.0%}" for s, g in zip(all_series, got))
        mins = ", ".join(f"{s['ticker']} {g[1]:.1%}" for s, g in zip(all_series, got))
        met = [r80 <= 0.98 and r95 <= 0.98, all(g[0] >= 0.85 for g in got),
               all(g[1] >= 0.92 for g in got)]
        rows.append(f"| {model} | {name} | {r80:.3f} | {r95:.3f} | {shares} | {mins} | "
                    + " / ".join("yes" if m else "no" for m in met) + " |")
    return rows


def check_served(s: dict, result, model: str) -> None:
    """Ours at 80% must be the band evaluate.backtest serves on the same origins."""
    low, high = result.lows[model], result.highs[model]
    at = {d: i for i, d in enumerate(result.origins)}
    for day in s["origins"]:
        lo, hi = s["ours80"][day]
        i = at[day]
        if not (np.allclose(lo, low[i]) and np.allclose(hi, high[i])):
            raise AssertionError(f"{model} {s['ticker']} {day.date()}: the band recomputed here "
                                 f"is not the one evaluate serves")

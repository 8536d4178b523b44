"""How accurate is it? The committed models, served and raw, on the held-out test period.

Usage: python bench/accuracy.py [--models DIR]

For each model in the models folder (default: the committed ones), a walk-forward backtest with
evaluate.backtest: horizon 30, an origin every trading day, 80% bands, from the day after the
model's validation split for each ticker to the last origin with 30 days of outcomes in the
bundled sample (2013-03-01): the test split, which no choice read (bench/select_model.py chose on
validation). A model is scored on each ticker it was trained on that has such origins (FB,
listed 2012, has none). Every figure is in relative units (metrics.py), so dear days and dear
tickers do not dominate: each error is divided by its origin's close (MAE vs naive is the ratio
of those, evaluate's mae_relative_vs_naive) and bands get the interval (Winkler) score on log
prices. Several tickers: each ratio is the mean of the per-ticker ratios, and each p-value is a
Diebold-Mariano test on the daily cross-ticker mean of those errors, scaled by each ticker's mean
naive one (training/policy_fit.py, pooled_test). Prints the markdown tables README shows. These
numbers only report: none of them decided anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stockPredictor.cli.evaluate import p_cell  # noqa: E402
from stockPredictor.data.sources import load as load_prices  # noqa: E402
from stockPredictor.errors import DataError  # noqa: E402
from stockPredictor.forecast import evaluate  # noqa: E402
from stockPredictor.model.registry import Registry  # noqa: E402
from stockPredictor.training import policy_fit  # noqa: E402

HORIZON = 30
STEPS = (1, 2, 5, 10, 20, 30)


def backtests(artifact, decay="default") -> list:
    """Held-out backtests of ``artifact`` on its own tickers (``decay``: the band's scaling)."""
    extra = {} if decay == "default" else {"band_decay": decay}
    results = []
    for ticker in artifact.tickers:
        try:
            results.append(evaluate.backtest(load_prices(ticker, "sample"), artifact,
                                             horizon=HORIZON, **extra))
        except DataError:
            continue  # FB: no held-out origin
    return results


def pooled(results, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per step: the mean of per-ticker MAE/naive, and the pooled Diebold-Mariano p-value."""
    ratios = np.mean([r.metrics()[method]["mae_relative_vs_naive"] for r in results], axis=0)
    p_values = []
    for k in range(HORIZON):
        ours, naive = [], []
        for r in results:
            actual = r.actual[:, k]
            # Errors in units of each origin's close, then of the ticker's mean naive error.
            theirs = np.abs(actual - r.forecasts["naive"][:, k]) / r.last_closes
            mine = np.abs(actual - r.forecasts[method][:, k]) / r.last_closes
            scale = np.mean(theirs)
            ours.append(pd.Series(mine / scale, r.origins))
            naive.append(pd.Series(theirs / scale, r.origins))
        p_values.append(policy_fit.pooled_test(ours, naive, k + 1)[1])
    return ratios, np.array(p_values)


def main() -> None:
    """Print the held-out accuracy, band and p-value tables of every committed model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder (default: $MODELS_DIR or the committed models)")
    args = parser.parse_args()
    registry = Registry(args.models).load()
    head = (["model", "forecast", "tickers (origins)"] + [f"h={h}" for h in STEPS]
            + ["worst h=1..30", "mean h=1..30"])
    points = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tests = ["| model | forecast | " + " | ".join(f"p h={h}" for h in STEPS) + " |",
             "|---|---|" + "---|" * len(STEPS)]
    band_rows = ["| model | ticker | 80% coverage h=1..30, min-max | mean | log interval "
                 "score vs unscaled band |", "|---|---|---|---|---|"]
    for name in registry.names():
        artifact = registry.get(name)
        results = backtests(artifact)
        where = ", ".join(f"{r.ticker} ({len(r.origins)})" for r in results)
        methods = [name] + [m for m in results[0].forecasts if m != name and "(raw)" in m]
        for method in methods + ["long_run_drift", "drift"]:
            ratios, p_values = pooled(results, method)
            label = ("served" if method == name else "raw network" if "(raw)" in method
                     else f"*{method}* baseline")
            worst = int(np.nanargmax(ratios))
            points.append(f"| {name} | {label} | {where} | "
                          + " | ".join(f"{ratios[h - 1]:.3f}" for h in STEPS)
                          + f" | {ratios[worst]:.3f} (h={worst + 1}) | {np.nanmean(ratios):.3f} |")
            tests.append(f"| {name} | {label} | "
                         + " | ".join(p_cell(p_values[h - 1]) for h in STEPS) + " |")
        unscaled = backtests(artifact, decay=None)
        for r, u in zip(results, unscaled):
            ours, theirs = r.metrics()[name], u.metrics()[name]
            ratio = (np.nanmean(ours["interval_score_log"])
                     / np.nanmean(theirs["interval_score_log"]))
            band_rows.append(f"| {name} | {r.ticker} | {np.nanmin(ours['coverage']):.1%}-"
                             f"{np.nanmax(ours['coverage']):.1%} | "
                             f"{np.nanmean(ours['coverage']):.1%} | {ratio:.3f} |")
    print(f"Held-out test period, horizon {HORIZON}, an origin every trading day, bundled sample "
          f"prices. MAE vs naive, each error in units of its origin's close (below 1 beats no "
          f"change; several tickers: mean of per-ticker ratios):\n")
    print("\n".join(points))
    print("\nTwo-sided Diebold-Mariano p-values against naive, same origins (a dash: the "
          "forecast is naive itself at that step):\n")
    print("\n".join(tests))
    print("\nBands (volatility-scaled, bands.py) on the same origins:\n")
    print("\n".join(band_rows))


if __name__ == "__main__":
    main()

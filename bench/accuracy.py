"""How accurate is it? The committed models, served and raw, on the held-out test period.

Usage: python bench/accuracy.py [--models DIR] [--no-anchors]

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
naive one (training/policy_fit.py, pooled_test); the served point's table adds the one-sided
p-value of "worse than naive". Then, unless --no-anchors, the band anchors (band_anchors.py):
the served band against GARCH(1,1)-t (``arch``, bench only) and a plain rolling conformal band
at 80% and 95% on one common set of held-out origins per series. Prints the markdown tables
README shows. These numbers only report: none of them decided anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))
sys.path.insert(0, str(ROOT / "bench"))

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import band_anchors  # noqa: E402

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


def pooled(results, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step: the mean of per-ticker MAE/naive, the pooled Diebold-Mariano p-value, and its
    one-sided p of "worse than naive" (NaN where the forecast is naive itself)."""
    ratios = np.mean([r.metrics()[method]["mae_relative_vs_naive"] for r in results], axis=0)
    p_values, worse = [], []
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
        statistic, p = policy_fit.pooled_test(ours, naive, k + 1)
        p_values.append(p)
        # statistic > 0: ours smaller. Student's t is symmetric, so the one-sided p of "ours
        # larger" is half the two-sided one when ours is larger, else one minus that half.
        naive_itself = all(np.array_equal(r.forecasts[method][:, k], r.forecasts["naive"][:, k])
                           for r in results)
        worse.append(np.nan if naive_itself else p / 2 if statistic < 0 else 1 - p / 2)
    return ratios, np.array(p_values), np.array(worse)


def least(p_values: np.ndarray) -> str:
    """The least p-value over steps with its step, or a dash when every step is naive."""
    if np.isnan(p_values).all():
        return "-"
    k = int(np.nanargmin(p_values))
    return f"{p_cell(p_values[k])} (h={k + 1})"


def main() -> None:
    """Print the held-out accuracy, band and p-value tables of every committed model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder (default: $MODELS_DIR or the committed models)")
    parser.add_argument("--no-anchors", action="store_true",
                        help="skip the band anchors (GARCH(1,1)-t needs the `arch` package)")
    args = parser.parse_args()
    t0 = time.time()
    registry = Registry(args.models).load()
    head = (["model", "forecast", "tickers (origins)"] + [f"h={h}" for h in STEPS]
            + ["worst h=1..30", "mean h=1..30"])
    points = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tests = ["| model | forecast | " + " | ".join(f"p h={h}" for h in STEPS) + " |",
             "|---|---|" + "---|" * len(STEPS)]
    served = ["| model | " + " | ".join(f"h={h}" for h in band_anchors.STEPS)
              + " | least p h=1..30 |", "|---|" + "---|" * (len(band_anchors.STEPS) + 1)]
    per_series = ["| model | ticker (origins) | band | level | "
                  + " | ".join(f"h={h}" for h in band_anchors.STEPS)
                  + " | min-max h=1..30 | mean log IS | IS / plain | goal |", "|" + "---|" * 13]
    summary = ["| model | band | IS/plain 80% | IS/plain 95% | 80% cov in 77-83%: share of "
               "steps | 95% cov: least over steps | goals met: IS <= 0.98 / 80% >= 85% of "
               "steps / 95% >= 92% |", "|" + "---|" * 7]
    for name in registry.names():
        artifact = registry.get(name)
        results = backtests(artifact)
        where = ", ".join(f"{r.ticker} ({len(r.origins)})" for r in results)
        methods = [name] + [m for m in results[0].forecasts if m != name and "(raw)" in m]
        for method in methods + ["long_run_drift", "drift"]:
            ratios, p_values, worse = pooled(results, method)
            label = ("served" if method == name else "raw network" if "(raw)" in method
                     else f"*{method}* baseline")
            worst = int(np.nanargmax(ratios))
            points.append(f"| {name} | {label} | {where} | "
                          + " | ".join(f"{ratios[h - 1]:.3f}" for h in STEPS)
                          + f" | {ratios[worst]:.3f} (h={worst + 1}) | {np.nanmean(ratios):.3f} |")
            tests.append(f"| {name} | {label} | "
                         + " | ".join(p_cell(p_values[h - 1]) for h in STEPS) + " |")
            if method == name:
                served.append(f"| {name} | " + " | ".join(
                    f"{ratios[h - 1]:.3f} (p {p_cell(worse[h - 1])})"
                    for h in band_anchors.STEPS) + f" | {least(worse)} |")
        if args.no_anchors:
            continue
        anchored = []
        for r in results:
            s = band_anchors.series(artifact, r.ticker)
            if s is not None:
                band_anchors.check_served(s, r, name)
                anchored.append(s)
        per_series += band_anchors.per_series_table(name, anchored)
        summary += band_anchors.summary_rows(name, anchored)
    print(f"Held-out test period, horizon {HORIZON}, an origin every trading day, bundled sample "
          f"prices. MAE vs naive, each error in units of its origin's close (below 1 beats no "
          f"change; several tickers: mean of per-ticker ratios):\n")
    print("\n".join(points))
    print("\nTwo-sided Diebold-Mariano p-values against naive, same origins (a dash: the "
          "forecast is naive itself at that step):\n")
    print("\n".join(tests))
    print("\nThe served point forecast: MAE vs naive, with the one-sided p-value of \"worse than "
          "naive\" (a dash: naive itself at that step):\n")
    print("\n".join(served))
    if not args.no_anchors:
        print("\nBands around the served forecast, in log prices, on one common set of origins "
              "per series (every band has both levels at every step 1..30): ours (term "
              "structure, bands.py), GARCH(1,1)-t refit every 20 days, plain rolling conformal "
              "(last 250 absolute h-step log errors). Coverage per step; IS: mean log interval "
              "score over steps 1..30; IS / plain: mean over steps of the per-step ratio:\n")
        print("\n".join(per_series))
        print("\nAveraged over tickers and steps, and the issue's goals (every ticker):\n")
        print("\n".join(summary))
        print(f"\nGARCH fits {band_anchors.TIMING['garch_s']:.0f} s of {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

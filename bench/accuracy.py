"""How accurate is it? The committed models and the baselines, backtested on held-out data.

Usage: python bench/accuracy.py [--models DIR]

For each model in the models folder (default: the committed ones), a walk-forward backtest with
evaluate.backtest: horizon 30, an origin every trading day, 80% bands, from the day after the
model's training data for each ticker to the last origin with 30 days of outcomes in the bundled
sample (2013-03-01). A model is scored on each ticker it was trained on that has such origins
(FB, listed 2012, has none). Over several tickers each metric is the mean of the per-ticker
values (evaluate.summary), as `stock-predictor evaluate --record` writes into model.json; the
naive, drift and moving-average baselines are scored on the same origins. Prints the markdown
table README shows, and says whether each model.json's recorded figures agree.
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

from stockPredictor import evaluate, prices  # noqa: E402
from stockPredictor.errors import DataError  # noqa: E402
from stockPredictor.preload import Registry  # noqa: E402

HORIZON = 30
STEPS = (1, 5, 10, 30)
COLUMNS = (["model", "scored on (origins)"] + [f"MAE vs naive h={h}" for h in STEPS]
           + ["worst h=1..30", "direction h=1", "direction h=30", "80% coverage h=1",
              "80% coverage h=30"])


def scored(artifact) -> tuple[dict, list[str]]:
    """The pooled backtest of a model on its own tickers, and notes on each ticker."""
    results, notes = [], []
    for ticker in artifact.tickers:
        try:
            frame = prices.load(ticker, "sample")
            results.append(evaluate.backtest(frame, artifact, horizon=HORIZON))
        except DataError as exc:
            notes.append(f"{artifact.name}: {ticker} not scored: {str(exc).split(':')[0]}")
    if not results:
        raise DataError(f"{artifact.name} has no held-out origin on the bundled data")
    for result in results:  # pooled coverage can hide tickers whose bands were off
        coverage = result.metrics()[artifact.name]["coverage"]
        notes.append(f"{artifact.name}: {result.ticker} 80% band coverage over steps 1..{HORIZON}: "
                     f"{np.nanmin(coverage):.1%} to {np.nanmax(coverage):.1%} "
                     f"(mean {np.nanmean(coverage):.1%}, {len(result.origins)} origins)")
    return evaluate.summary(results), notes


def _cells(label: str, where: str, row: dict) -> list[str]:
    def share(values: list, step: int) -> str:
        value = values[step - 1]
        return "-" if value is None else f"{value:.1%}"

    ratios = row["mae_vs_naive"]
    worst = max(range(len(ratios)), key=lambda k: ratios[k])
    return ([label, where] + [f"{ratios[h - 1]:.3f}" for h in STEPS]
            + [f"{ratios[worst]:.3f} (h={worst + 1})", share(row["directional_accuracy"], 1),
               share(row["directional_accuracy"], 30), share(row["coverage"], 1),
               share(row["coverage"], 30)])


def agrees(recorded: dict | None, fresh: dict) -> str:
    """A note on whether model.json's recorded backtest matches this run."""
    if not recorded:
        return "no backtest recorded in model.json"
    keys = ("tickers", "start", "end", "origins", "mae_vs_naive", "directional_accuracy",
            "coverage")
    differ = [k for k in keys if recorded.get(k) != fresh.get(k)]
    return ("model.json's recorded backtest matches" if not differ
            else f"model.json's recorded backtest differs in {', '.join(differ)}")


def main() -> None:
    """Print the accuracy table of every committed model and its baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder (default: $MODELS_DIR or the committed models)")
    args = parser.parse_args()
    registry = Registry(args.models).load()
    rows, notes = [], []
    for name in registry.names():
        artifact = registry.get(name)
        summary, ticker_notes = scored(artifact)
        where = f"{', '.join(summary['tickers'])} ({summary['origins']})"
        rows.append(_cells(f"**{name}** ({artifact.config.arch}, {artifact.config.target})",
                           where, summary))
        rows += [_cells(f"{baseline} (same origins)", where, summary["baselines"][baseline])
                 for baseline in ("naive", "drift", "moving_average")]
        notes += ticker_notes
        notes.append(f"{name}: origins {summary['start']} to {summary['end']}, "
                     f"{summary['origins_in_training']} inside its training data; "
                     f"{agrees(artifact.metadata.get('backtest'), summary)}")
    print(f"Walk-forward backtest, horizon {HORIZON}, every trading day after each model's "
          f"training data, bundled sample prices; several tickers: mean of per-ticker values\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for note in notes:
        print(note)
    print("MAE vs naive below 1 beats the naive forecast; direction: share of origins where the "
          "forecast moved the way the price did (naive never moves, so it scores about 0)")


if __name__ == "__main__":
    main()

"""A one-year walk-forward backtest from the committed models, against one forecast() per origin.

Usage: python bench/bench_evaluate.py [--reps N] [--horizon H]
For each committed model, times evaluate.backtest() over the last 250 origins of the bundled IBM
prices that have H days of outcomes (the model and three baselines, conformal bands calibrated on
a trailing year of every trading day, all windows in one batch), beside 250 separate forecast()
calls for the same origins without bands, and one forecast() with its band. Prints a table;
never pass/fail.
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
from bench_runtime import median_ms, print_table  # noqa: E402

from stockPredictor import prices  # noqa: E402
from stockPredictor.evaluate import backtest  # noqa: E402
from stockPredictor.predict import forecast  # noqa: E402
from stockPredictor.preload import Registry  # noqa: E402

ORIGINS = 250


def bench_model(artifact, frame, horizon: int, reps: int) -> tuple:
    """One row: the batched backtest vs a loop of forecast() calls over the same origins."""
    start = frame.index[-(ORIGINS + horizon)]
    origins = frame.index[-(ORIGINS + horizon):-horizon]

    def loop() -> list:
        return [forecast(frame, artifact, horizon, as_of=day, level=None) for day in origins]

    result = backtest(frame, artifact, horizon, start=start)
    assert len(result.origins) == ORIGINS
    # Same numbers both ways (float32 batches may differ in the last bits).
    looped = np.array([f.closes for f in loop()])
    diff = np.max(np.abs(looped - result.forecasts[artifact.name]))
    ours = median_ms(lambda: backtest(frame, artifact, horizon, start=start), reps)
    theirs = median_ms(loop, max(1, reps // 2))
    banded = median_ms(lambda: forecast(frame, artifact, horizon), reps)
    return (artifact.name, ORIGINS, horizon, f"{ours:.0f}", f"{theirs:.0f}",
            f"{theirs / ours:.1f}", f"{banded:.1f}", f"{diff:.1e}")


def main() -> None:
    """Print the backtest table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="timed calls per cell")
    parser.add_argument("--horizon", type=int, default=30, help="trading days per forecast")
    args = parser.parse_args()
    registry = Registry().load()
    frame = prices.load("IBM", "sample")
    rows = [bench_model(a, frame, args.horizon, args.reps) for a in registry.artifacts.values()]
    print(f"one-year backtest of IBM, median of {args.reps} runs; numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    print_table(rows, ("model", "origins", "horizon", "backtest ms (4 methods + bands)",
                       f"{ORIGINS} x forecast() ms (no band)", "x faster",
                       "1 forecast() with band ms", "max |diff| in price"))


if __name__ == "__main__":
    main()

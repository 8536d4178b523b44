"""A one-year walk-forward backtest from the committed models, against one origin at a time.

Usage: python bench/bench_evaluate.py [--reps N] [--horizon H]
For each committed model, times evaluate.backtest() over the last 250 origins of the bundled IBM
prices that have H days of outcomes (the model and three baselines, conformal bands calibrated on
a trailing year of every trading day), with an empty table cache (the table's blocks are built
first, in batches) and with the table built, beside the model run on each origin's window
alone (250 runtime calls, no bands). Prints a table; never pass/fail.
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
from bench_runtime import median_ms  # noqa: E402
from loadkit import print_table  # noqa: E402

from stockPredictor.data.sources import load as load_prices  # noqa: E402
from stockPredictor.forecast.evaluate import backtest  # noqa: E402
from stockPredictor.lru import ByteBoundedLRU  # noqa: E402
from stockPredictor.model.registry import Registry  # noqa: E402

ORIGINS = 250


def bench_model(artifact, frame, horizon: int, reps: int) -> tuple:
    """One row: the backtest from a cold and a built table vs the model run origin by origin."""
    start = frame.index[-(ORIGINS + horizon)]
    rows = np.arange(len(frame) - ORIGINS - horizon, len(frame) - horizon)
    closes = frame["close"].to_numpy()

    def one_by_one() -> np.ndarray:  # the per-origin way: one window, one runtime call each
        return np.array([artifact.windowing.decode(
            artifact.model(artifact.windowing.inputs(frame.iloc[:row + 1]))[:, :horizon],
            closes[row])[0] for row in rows])

    def cold():
        return backtest(frame, artifact, horizon, start=start, cache=ByteBoundedLRU(1 << 26))

    result = cold()
    assert len(result.origins) == ORIGINS
    # Same numbers both ways (float32 batches may differ in the last bits).
    diff = np.max(np.abs(one_by_one() - result.forecasts[artifact.name]))
    cache = ByteBoundedLRU(1 << 26)
    ours_cold = median_ms(cold, reps)
    ours_warm = median_ms(lambda: backtest(frame, artifact, horizon, start=start, cache=cache),
                          reps)
    theirs = median_ms(one_by_one, max(1, reps // 2))
    return (artifact.name, ORIGINS, horizon, f"{ours_cold:.0f}", f"{ours_warm:.0f}",
            f"{theirs:.0f}", f"{theirs / ours_cold:.1f}", f"{diff:.1e}")


def main() -> None:
    """Print the backtest table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="timed calls per cell")
    parser.add_argument("--horizon", type=int, default=30, help="trading days per forecast")
    args = parser.parse_args()
    registry = Registry().load()
    frame = load_prices("IBM", "sample")
    rows = [bench_model(a, frame, args.horizon, args.reps) for a in registry.artifacts.values()]
    print(f"one-year backtest of IBM, median of {args.reps} runs; numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    print_table(rows, ("model", "origins", "horizon", "backtest ms, cold table (4 methods + bands)",
                       "backtest ms, table built", f"{ORIGINS} windows one by one ms (no band)",
                       "x faster (cold)", "max |diff| in price"))


if __name__ == "__main__":
    main()

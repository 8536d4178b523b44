"""A whole forecast from the committed models: NumPy runtime against Keras, and a cold CLI call.

Usage: python bench/bench_forecast.py [--reps N]
For each committed model, times predict.forecast() on the bundled IBM prices (the runtime path the
CLI and web app use) against the same window, the same decoding, through Keras model.predict.
Then times `stock-predictor predict --ticker IBM --source sample` as a fresh process. Prints
tables; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from bench_runtime import median_ms, print_table  # noqa: E402

from stockPredictor import prices  # noqa: E402
from stockPredictor.predict import forecast  # noqa: E402
from stockPredictor.preload import Registry  # noqa: E402

HORIZON = 4


def bench_model(artifact, frame, reps: int) -> tuple:
    """One row: forecast() through the runtime vs the same steps through Keras."""
    model = keras.models.load_model(artifact.path / "model.h5", compile=False)

    def through_keras() -> np.ndarray:
        x = artifact.windowing.inputs(frame)
        out = model.predict(x, verbose=0)[:, :HORIZON]
        return artifact.windowing.decode(out, frame["close"].iloc[-1])[0]

    # No band: the Keras side computes none either, so both do the same work.
    ours = median_ms(lambda: forecast(frame, artifact, HORIZON, level=None), reps)
    theirs = median_ms(through_keras, reps)
    diff = np.max(np.abs(forecast(frame, artifact, HORIZON, level=None).closes - through_keras()))
    return (artifact.name, f"{ours:.2f}", f"{theirs:.2f}", f"{theirs / ours:.1f}",
            f"{diff:.1e}")


def cold_cli(reps: int) -> list[float]:
    """Wall seconds of a fresh `stock-predictor predict` process, each run."""
    command = [sys.executable, "-m", "stockPredictor.cli", "predict", "--ticker", "IBM",
               "--source", "sample", "--format", "json"]
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Print the forecast table and the cold-start line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30, help="timed calls per cell")
    args = parser.parse_args()
    registry = Registry().load()
    frame = prices.load("IBM", "sample")
    rows = [bench_model(a, frame, args.reps) for a in registry.artifacts.values()]
    print(f"forecast of {HORIZON} days for IBM, median of {args.reps} calls; "
          f"keras {keras.__version__}, {os.cpu_count()} CPUs")
    print_table(rows, ("model", "runtime forecast ms", "keras predict forecast ms",
                       "x faster", "max |diff| in price"))
    runs = cold_cli(5)
    print(f"cold `stock-predictor predict --ticker IBM --source sample`: median "
          f"{statistics.median(runs):.2f} s, min {min(runs):.2f} s over {len(runs)} runs")


if __name__ == "__main__":
    main()

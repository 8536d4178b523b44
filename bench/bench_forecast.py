"""A whole forecast from the committed models: NumPy runtime against Keras, and a cold CLI call.

Usage: python bench/bench_forecast.py [--reps N]
For each committed model, times the last window of the bundled IBM prices through the NumPy
runtime against the same window, the same decoding, through Keras model.predict; then
predict.forecast() with its band, with an empty table cache (its blocks built first) and with
the table built (a slice, as the web app serves it).
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
from bench_runtime import median_ms  # noqa: E402
from loadkit import print_table  # noqa: E402

from stockPredictor.data.sources import load as load_prices  # noqa: E402
from stockPredictor.lru import ByteBoundedLRU  # noqa: E402
from stockPredictor.forecast.predict import forecast  # noqa: E402
from stockPredictor.model.registry import Registry  # noqa: E402

HORIZON = 4


def bench_model(artifact, frame, reps: int) -> tuple:
    """One row: one window through the runtime and through Keras; forecast() cold and warm."""
    model = keras.models.load_model(artifact.path / "model.h5", compile=False)

    def one_window(predict) -> np.ndarray:
        out = predict(artifact.windowing.inputs(frame))[:, :HORIZON]
        return artifact.windowing.decode(out, frame["close"].iloc[-1])[0]

    # The same work both ways: the last window, decoded to closes, no band.
    ours = median_ms(lambda: one_window(artifact.model), reps)
    theirs = median_ms(lambda: one_window(lambda x: model.predict(x, verbose=0)), reps)
    diff = np.max(np.abs(one_window(artifact.model)
                         - one_window(lambda x: model.predict(x, verbose=0))))
    # What serving does: the forecast with its band, a slice of the model's table. Cold, the
    # table's last blocks are built first (an empty cache each call); warm, they exist.
    cold = median_ms(lambda: forecast(frame, artifact, HORIZON, cache=ByteBoundedLRU(1 << 26)),
                     max(3, reps // 5))
    cache = ByteBoundedLRU(1 << 26)
    warm = median_ms(lambda: forecast(frame, artifact, HORIZON, cache=cache), reps)
    return (artifact.name, f"{ours:.2f}", f"{theirs:.2f}", f"{theirs / ours:.1f}",
            f"{diff:.1e}", f"{cold:.0f}", f"{warm:.2f}")


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
    frame = load_prices("IBM", "sample")
    rows = [bench_model(a, frame, args.reps) for a in registry.artifacts.values()]
    print(f"forecast of {HORIZON} days for IBM, median of {args.reps} calls; "
          f"keras {keras.__version__}, {os.cpu_count()} CPUs")
    print_table(rows, ("model", "runtime, 1 window ms", "keras predict, 1 window ms",
                       "x faster", "max |diff| in price", "forecast() + band, cold table ms",
                       "forecast() + band, table built ms"))
    runs = cold_cli(5)
    print(f"cold `stock-predictor predict --ticker IBM --source sample`: median "
          f"{statistics.median(runs):.2f} s, min {min(runs):.2f} s over {len(runs)} runs")


if __name__ == "__main__":
    main()

"""Serving speed: the NumPy runtime against Keras on the same saved .h5 model.

Usage: python bench/bench_runtime.py [--reps N] [model.h5 ...]
Without paths it builds the default ModelConfig (window 60, units 32, 2 layers, 1 feature,
30 outputs) for each architecture with random weights. Prints a table; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "LSTM_predictor"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from loadkit import print_table  # noqa: E402

from stockPredictor.model.config import ModelConfig  # noqa: E402
from stockPredictor.training.networks import build_model  # noqa: E402
from stockPredictor.model.runtime import load_model  # noqa: E402

BATCH = 250
HEADER = ("model", "windows", "runtime ms", "predict ms", "model(x) ms", "x predict",
          "x model(x)", "max |diff|")


def median_ms(fn: Callable[[], object], reps: int) -> float:
    """Median wall time of ``fn`` in milliseconds, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def default_models(folder: Path) -> list[tuple[str, Path]]:
    """Save the default network of each architecture, with seeded random weights."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    saved = []
    for arch in ("lstm", "attention"):
        path = folder / f"{arch}.h5"
        model = build_model(ModelConfig(arch=arch), n_features=1)
        # Fresh biases are zero; nudge every weight so the comparison resembles a trained net.
        model.set_weights([w + rng.normal(0.0, 0.1, w.shape) for w in model.get_weights()])
        model.save(path)
        saved.append((arch, path))
    return saved


def bench(label: str, path: Path, reps: int) -> tuple[list[tuple], str]:
    """Rows for one saved model (one window, then BATCH windows) and a line on load times."""
    ours_load = median_ms(lambda: load_model(path), 5)
    keras_load = median_ms(lambda: keras.models.load_model(path, compile=False), 5)
    net = load_model(path)
    model = keras.models.load_model(path, compile=False)
    loads = f"{label}: load_model {ours_load:.1f} ms (runtime) vs {keras_load:.1f} ms (keras)"
    rng = np.random.default_rng(1)
    rows = []
    for batch in (1, BATCH):
        # Min-max scaled closes live in [0, 1]; that range drives the gates harder than returns.
        x = rng.uniform(0.0, 1.0, size=(batch, *net.input_shape)).astype("float32")
        ours = median_ms(lambda: net(x), reps)
        predict = median_ms(lambda: model.predict(x, verbose=0), reps)
        direct = median_ms(lambda: model(x, training=False), reps)
        diff = np.max(np.abs(net(x) - model.predict(x, verbose=0)))
        rows.append((label, batch, f"{ours:.2f}", f"{predict:.2f}", f"{direct:.2f}",
                     f"{predict / ours:.1f}", f"{direct / ours:.1f}", f"{diff:.1e}"))
    return rows, loads


def main() -> None:
    """Bench the given .h5 files, or the default networks when none are given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="saved Keras .h5 models")
    parser.add_argument("--reps", type=int, default=50, help="timed calls per cell")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        models = [(p.stem, p) for p in args.paths] or default_models(Path(folder))
        results = [bench(label, path, args.reps) for label, path in models]
    print(f"median of {args.reps} calls; x = how many times faster the runtime is; "
          f"keras {keras.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print_table([row for rows, _ in results for row in rows], HEADER)
    for _, loads in results:
        print(loads)


if __name__ == "__main__":
    main()

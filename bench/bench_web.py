"""Serving speed: POST /api/v1/forecast for IBM in-process and over loopback under gunicorn.

Usage: python bench/bench_web.py [--reps N]
Times the API's forecast of IBM (bundled sample, committed models) through the Flask test
client (a repeated request, served from the forecast cache, and with the cache off, so each
request computes its band and track record) and through the Procfile's gunicorn command on a
loopback port, beside the way the tutorials served a request (load the Keras model and scaler
from disk, then model.predict).
Prints p50 and p90 in a table; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PRICE_SOURCE"] = "sample"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_runtime import print_table  # noqa: E402

from Flask_webapp.app import create_app  # noqa: E402
from tests.servers import free_port, serve  # noqa: E402
from tests.webapp.test_procfile import procfile_web_command  # noqa: E402

BODY = {"ticker": "IBM", "horizon": 4}
HEADER = ("path", "requests", "p50 ms", "p90 ms", "x p50 vs reload per request")


def percentiles(fn, reps: int) -> tuple[float, float]:
    """p50 and p90 of ``fn`` in milliseconds, after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    deciles = statistics.quantiles(times, n=10)
    return statistics.median(times), deciles[8]


def reload_per_request():
    """The tutorials' way: read model and scaler from disk for every request, Keras predict."""
    import joblib
    import keras
    from stockPredictor import prices
    from stockPredictor.artifacts import load
    folder = ROOT / "Flask_webapp" / "models" / "ibm"
    windowing = load(folder).windowing

    def request():
        model = keras.models.load_model(folder / "model.h5", compile=False)
        windowing.scaler_ = joblib.load(folder / "scaler.pkl")
        frame = prices.from_sample("IBM")
        outputs = model.predict(windowing.inputs(frame), verbose=0)[:, :4]
        return windowing.decode(outputs, float(frame["close"].iloc[-1]))
    return request


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    reps = parser.parse_args().reps
    rows = []
    for label, size in (("test client, repeat (cached)", 256),
                        ("test client, no cache: band + track record", 0)):
        client = create_app({"PRICE_SOURCE": "sample", "FORECAST_CACHE_SIZE": size}).test_client()
        rows.append((label, *percentiles(
            lambda: client.post("/api/v1/forecast", json=BODY), reps if size else reps // 4)))
    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with serve(procfile_web_command(), port, env=env) as server:
        rows.append(("gunicorn, loopback, repeat", *percentiles(
            lambda: server.post_json("/api/v1/forecast", BODY), reps)))
    rows.append(("reload + Keras per request", *percentiles(reload_per_request(),
                                                            max(10, reps // 10))))
    slow = rows[-1][1]
    counts = [reps, reps // 4, reps, max(10, reps // 10)]
    print_table([(name, n, f"{p50:.1f}", f"{p90:.1f}", f"{slow / p50:.0f}x")
                 for n, (name, p50, p90) in zip(counts, rows)], HEADER)


if __name__ == "__main__":
    main()

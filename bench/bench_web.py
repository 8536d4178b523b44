"""Serving speed: POST /api/v1/forecast for IBM in-process and over loopback under gunicorn.

Usage: python bench/bench_web.py [--reps N]
Times the API's forecast of IBM (bundled sample, committed models): through the Flask test
client with the forecast table built (distinct horizons and as_of dates, each a slice), and with
an empty table cache before each request (each builds the one or two blocks it reads); through
the Procfile's gunicorn command on a loopback port; beside the way the seed served a request
(bench/seed_app.py: load the Keras model and scaler from disk, then one model.predict per
forecast day, fed back recursively). Prints p50 and p90 in a table; never pass/fail.
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

BODY = {"ticker": "IBM", "horizon": 4}  # the seed's request: IBM's latest prices
HEADER = ("path", "requests", "p50 ms", "p90 ms", "x p50 vs seed")


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
    """The seed's way (seed_app.py, shared with bench_load.py): reload, predict once per day."""
    from seed_app import seed_forecast
    return lambda: seed_forecast(BODY["ticker"], BODY["horizon"])


def distinct_bodies(count: int) -> list[dict]:
    """IBM forecasts at varied horizons and as_of dates, shuffled with a fixed seed."""
    import random

    from stockPredictor.data.sample import from_sample
    days = from_sample("IBM").index[300:]
    rng = random.Random(0)
    return [{"ticker": "IBM", "horizon": rng.randint(1, 30),
             "as_of": days[rng.randrange(len(days))].strftime("%Y-%m-%d")} for _ in range(count)]


def cycling(send, bodies: list[dict]):
    """A no-argument call that sends the next body each time, round the list."""
    state = {"i": 0}

    def call():
        state["i"] += 1
        return send(bodies[state["i"] % len(bodies)])
    return call


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    reps = parser.parse_args().reps
    bodies = distinct_bodies(reps + 3)
    # RATE_LIMITS=0: hundreds of forecasts from one address, on purpose (said below).
    app = create_app({"PRICE_SOURCE": "sample", "PRELOAD_TABLES": True, "RATE_LIMITS": "0"})
    print("(rate limits off: RATE_LIMITS=0, as one address floods the app)")
    client = app.test_client()
    rows = [("test client, table built: a slice", reps, *percentiles(cycling(
        lambda body: client.post("/api/v1/forecast", json=body), bodies), reps))]

    def cold(body):
        app.extensions["tables"].clear()
        return client.post("/api/v1/forecast", json=body)
    rows.append(("test client, table cache emptied first", reps // 4,
                 *percentiles(cycling(cold, bodies), reps // 4)))
    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample", "RATE_LIMITS": "0",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with serve(procfile_web_command(), port, env=env) as server:
        rows.append(("gunicorn, loopback, table built", reps, *percentiles(cycling(
            lambda body: server.post_json("/api/v1/forecast", body), bodies), reps)))
    seeds = max(10, reps // 10)
    rows.append(("seed: reload + Keras predict per day", seeds,
                 *percentiles(reload_per_request(), seeds)))
    slow = rows[-1][2]
    print_table([(name, n, f"{p50:.1f}", f"{p90:.1f}", f"{slow / p50:.0f}x")
                 for name, n, p50, p90 in rows], HEADER)


if __name__ == "__main__":
    main()

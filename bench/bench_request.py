"""CPU of one request in process: an API forecast and a forecast page, each a slice of built tables.

Usage: python bench/bench_request.py [--reps N] [--tree DIR ...] [--rounds N]
Builds the app on the bundled sample with its tables preloaded, then sends N requests through
the Flask test client, POST /api/v1/forecast and GET /prediction/<ticker>, in two sets (the
same lists for every tree): "any as-of", IBM and MSFT at shuffled horizons, as-of dates and band
levels, each request a forecast from a day no other asked for; and "latest", the same tickers,
horizons and levels from the latest prices, as most requests are. It times each
request's CPU on the thread that serves it (time.thread_time: the ledger's writer thread and
other processes are left out) and prints the median and p90 per request. ``--tree`` names
checkouts of this repository to time beside each other in one run, each in a fresh process
(default: this one), so a change can be measured against the commit before it; ``--rounds``
runs the trees in turn that many times and keeps each figure's median over the rounds, so a
busy moment of the machine does not land on one tree alone. Never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKERS = ("IBM", "MSFT")
LEVELS = (0.5, 0.8, 0.95)


def requests(count: int, days: list[str] | None) -> list[dict]:
    """Forecast requests: a ticker, horizon, level and as-of date (None: the latest) each."""
    rng = random.Random(0)
    # Distinct as-of dates when given: a request never repeats another's.
    chosen = rng.sample(days, count) if days else [None] * count
    return [{"ticker": rng.choice(TICKERS), "horizon": rng.randint(1, 30),
             "level": rng.choice(LEVELS), **({"as_of": day} if day else {})}
            for day in chosen]


def measure(tree: Path, reps: int) -> dict:
    """Per-request thread CPU in ms (median, p90) of the API and the page, in this process."""
    sys.path[:0] = [str(tree), str(tree / "LSTM_predictor")]
    os.environ["PRICE_SOURCE"] = "sample"
    from Flask_webapp.app import create_app

    folder = tempfile.mkdtemp()
    # RATE_LIMITS=0: hundreds of requests from one address (an older tree ignores the key).
    app = create_app({"PRICE_SOURCE": "sample", "PRELOAD_TABLES": True, "TESTING": True,
                      "RATE_LIMITS": "0",
                      "DATABASE_URL": f"sqlite:///{folder}/bench.db"})
    client = app.test_client()
    # Days that leave a year of track record before them, inside the sample.
    days = [f"{year}-{month:02d}-{day:02d}" for year in range(2004, 2013)
            for month in range(1, 13) for day in range(1, 29)]

    def api(body):
        return client.post("/api/v1/forecast", json=body)

    def page(body):
        query = {k: v for k, v in body.items() if k != "ticker"}
        return client.get(f"/prediction/{body['ticker']}", query_string=query)

    out = {}
    for kind, bodies in (("any as-of", requests(reps + 5, days)),
                         ("latest", requests(reps + 5, None))):
        for name, send in (("api", api), ("page", page)):
            for body in bodies[:5]:  # warm-up: imports, templates, the first calendar years
                assert send(body).status_code == 200
            times = []
            for body in bodies[5:]:
                start = time.thread_time()
                answer = send(body)
                times.append(1000 * (time.thread_time() - start))
                assert answer.status_code == 200, answer.get_data(as_text=True)[:200]
            out[f"{name}, {kind}"] = (statistics.median(times),
                                      statistics.quantiles(times, n=10)[8])
    import stockPredictor
    # The tree whose package was timed, to be sure it is not the installed one.
    assert Path(stockPredictor.__file__).is_relative_to(tree), stockPredictor.__file__
    return out


def main() -> None:
    """Print the table, one row per tree and surface."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--tree", type=Path, action="append", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.reps)))
        return
    trees = args.tree or [ROOT]
    rounds = {tree: [] for tree in trees}
    for _ in range(args.rounds):
        for tree in trees:
            # A fresh process per tree: each imports its own package and app.
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            done = subprocess.run([sys.executable, __file__, "--child", str(tree.resolve()),
                                   "--reps", str(args.reps)], capture_output=True, text=True,
                                  env=env, check=True)
            rounds[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    results = {tree: {surface: [statistics.median(r[surface][i] for r in runs) for i in (0, 1)]
                      for surface in runs[0]} for tree, runs in rounds.items()}
    first = results[trees[0]]
    print(f"CPU per request on the serving thread, {args.reps} requests a set (IBM, MSFT; "
          f"horizons 1-30; levels 50/80/95%; as-of: a different day each, 2004-2012, or the "
          f"latest); the median of {args.rounds} rounds; rate limits off (RATE_LIMITS=0)")
    print(f"| tree | request | median ms | p90 ms | median vs {trees[0].name} |")
    print("|---|---|---|---|---|")
    for tree, figures in results.items():
        for surface, (median, p90) in figures.items():
            ratio = median / first[surface][0]
            print(f"| {tree.name} | {surface} | {median:.2f} | {p90:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()

"""The Procfile's server with a Yahoo that accepts the connection and never answers: requests for
unknown tickers get a 503 within the deadline, and the health check and a sample forecast stay
fast meanwhile (issue 20)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.hanging import hanging_listener
from tests.webapp.test_procfile import procfile_web_command

DEADLINE = 2.0
# Short, so that the back-off set by the start-up's own fetches (PRELOAD_TABLES builds the
# sample's tables, asking Yahoo first in auto mode) is over when the test begins.
BACKOFF = 6.0  # long enough that the checks after the hang still fall inside it
MARGIN = 3.0  # a worker's first import of yfinance, and a slow shared machine
UNKNOWN = [f"ZZQ{letter}" for letter in "ABCDEFGH"]


def _ask(base: str, path: str, payload: dict | None = None) -> tuple[int, dict | str, float]:
    """(status, body, seconds) of one request; JSON bodies decoded."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    took = time.monotonic() - started
    try:
        return status, json.loads(raw), took
    except ValueError:
        return status, raw.decode(errors="replace"), took


def test_with_yahoo_hanging_unknown_tickers_get_503s_within_the_deadline(
        serve, free_port, tmp_path):
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    with hanging_listener() as yahoo:
        env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "auto",
               "YAHOO_DEADLINE": str(DEADLINE), "YAHOO_BACKOFF": str(BACKOFF),
               "PRELOAD_TABLES": "1",  # IBM's forecast table is built before, not during
               "CACHE_DIR": str(tmp_path / "cache"),
               "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", **yahoo.proxy_environment()}
        with serve(procfile_web_command(), port, env=env) as server:
            time.sleep(BACKOFF + 0.5)  # Yahoo may be asked again: each fetch meets the hang
            answers: dict[str, tuple] = {}

            def ask(name, path, payload=None):
                answers[name] = _ask(server.base, path, payload)

            threads = [threading.Thread(target=ask, args=(t, "/api/v1/forecast",
                                                          {"ticker": t, "horizon": 5}))
                       for t in UNKNOWN]
            for thread in threads:
                thread.start()
            time.sleep(0.2)  # the unknown tickers' fetches are under way
            health = threading.Thread(target=ask, args=("health", "/healthz"))
            ibm = threading.Thread(target=ask, args=("IBM", "/api/v1/forecast",
                                                     {"ticker": "IBM", "horizon": 5}))
            health.start()
            ibm.start()
            for thread in [*threads, health, ibm]:
                thread.join(timeout=60)
            print({k: (a[0], round(a[2], 2)) for k, a in answers.items()})  # shown on failure
            # The fetches really went out, and hung: some requests waited on them (each HTTP
            # call's timeout is cut to what is left of the deadline, so a fetch may end early).
            assert len(yahoo.accepted) >= 1
            assert max(answers[t][2] for t in UNKNOWN) >= DEADLINE / 2
            for ticker in UNKNOWN:
                status, body, took = answers[ticker]
                assert status == 503 and body["error"] == "source_unavailable", (ticker, body)
                assert took < DEADLINE + MARGIN, (ticker, took)
                words = body["message"]
                assert "Yahoo Finance" in words and "127.0.0.1" not in words
            told_when = [a[1]["message"] for a in answers.values() if isinstance(a[1], dict)
                         and "asked again in" in a[1].get("message", "")]
            assert told_when  # those after the first failures are told when Yahoo is tried
            status, _, took = answers["health"]
            assert status == 200 and took < DEADLINE + MARGIN
            status, body, took = answers["IBM"]
            assert status == 200 and len(body["forecast"]) == 5 and took < DEADLINE + MARGIN
            assert any("sample" in notice for notice in body["notices"])

            # Afterwards, with Yahoo backed off: the sample forecast and the 503s come at once.
            status, body, took = _ask(server.base, "/api/v1/forecast",
                                      {"ticker": "IBM", "horizon": 5})
            assert status == 200 and took < 1.5
            status, body, took = _ask(server.base, "/api/v1/forecast",
                                      {"ticker": "ZZQZ", "horizon": 5})
            assert status == 503 and took < 1.5 and "asked again in" in body["message"]

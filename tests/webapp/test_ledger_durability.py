"""The Procfile's gunicorn writes what its workers queued for the ledger when they stop: on SIGTERM
(a deploy, a dyno restart) and when --max-requests recycles a worker.

The forecasts are live (what the ledger records): the tickers' prices sit fresh in the shared
price store, as Yahoo's would minutes after a fetch, so the server never asks Yahoo. The writer's
interval is set far past the test (LEDGER_FLUSH_S), so only the stop can write the queue.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockPredictor.data.sample import from_sample
from stockPredictor.store import engine_for, upgrade
from stockPredictor.store.models import LedgerForecast
from stockPredictor.store.prices import PriceStore
from tests.webapp.test_procfile import procfile_web_command

TICKERS = ("IBM", "MSFT", "AAPL", "GOOG")


def _database(tmp_path) -> str:
    """A migrated SQLite file whose price store holds TICKERS' prices, fetched just now."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    engine = engine_for(url)
    try:
        store = PriceStore(engine, lambda ticker, start=None: from_sample(ticker))
        for ticker in TICKERS:
            assert len(store.load(ticker)) > 1000
    finally:
        engine.dispose()
    return url


def _env(url: str, port: int, workers: int) -> dict:
    return {"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(workers),
            "DATABASE_URL": url, "PRICE_SOURCE": "yahoo", "PRICE_TTL": "3600",
            "LEDGER_FLUSH_S": "600", "RATE_LIMITS": "0",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}


def _recorded(url: str) -> list[tuple[str, str]]:
    engine = engine_for(url)
    try:
        with Session(engine) as session:
            return sorted(session.execute(select(LedgerForecast.ticker, LedgerForecast.source)))
    finally:
        engine.dispose()


def _live_forecast(server, ticker: str) -> None:
    status, body = server.post_json("/api/v1/forecast", {"ticker": ticker, "horizon": 3})
    assert status == 200 and body["kind"] == "live", body


def test_sigterm_writes_what_the_workers_queued(tmp_path, serve, free_port):
    url, port = _database(tmp_path), free_port()
    with serve(procfile_web_command(), port, env=_env(url, port, 2)) as server:
        for ticker in TICKERS * 2:  # each twice: one entry per ticker, model and day
            _live_forecast(server, ticker)
        assert _recorded(url) == []  # queued in the workers, not written yet
    # serve() sent SIGTERM to the server's processes, as Heroku does, and waited for them.
    assert _recorded(url) == [(ticker, "yahoo") for ticker in sorted(TICKERS)]


def test_a_worker_recycled_by_max_requests_writes_its_queue(tmp_path, serve, free_port):
    url, port = _database(tmp_path), free_port()
    # One worker, recycled after 4 requests: serve()'s health check, then three forecasts.
    command = f"{procfile_web_command()} --max-requests 4 --max-requests-jitter 0"
    with serve(command, port, env=_env(url, port, 1)) as server:
        for ticker in TICKERS[:3]:
            _live_forecast(server, ticker)
        deadline = time.monotonic() + 30
        for _ in range(300):  # bounded in count and time: the old worker writes as it leaves
            if _recorded(url) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert _recorded(url) == [(ticker, "yahoo") for ticker in sorted(TICKERS[:3])]

"""The Procfile's gunicorn with two workers writing the ledger at once: nothing lost or locked.

Each worker queues what it serves and writes it in batches from its own thread, so the two write
the same tables at the same moments (every 2 s, and both at shutdown). SQLite in WAL mode with
BEGIN IMMEDIATE makes the second writer wait its turn; PostgreSQL locks rows. Either way every
distinct forecast must be in the ledger once, with ``served`` counting every answer.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockPredictor.store import engine_for
from stockPredictor.store.models import ForecastRow, LedgerForecast
from tests.webapp.test_procfile import children, procfile_web_command

# 24 distinct forecasts, each asked for twice, by 8 clients at once.
BODIES = [{"ticker": ticker, "horizon": horizon, "as_of": as_of}
          for ticker in ("IBM", "MSFT", "AAPL")
          for horizon in (1, 3)
          for as_of in ("2012-06-01", "2012-09-04", "2012-12-03", "2013-03-01")]


def test_two_workers_record_every_forecast_once(empty_url, serve, free_port):
    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample",
           "WEB_CONCURRENCY": "2", "DATABASE_URL": empty_url,
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with serve(procfile_web_command(), port, env=env) as server:
        assert _workers(server.pid, 2) == 2
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda body: server.post_json("/api/v1/forecast", body),
                                    BODIES + BODIES[::-1]))
        assert [status for status, _ in answers] == [200] * len(answers)
    # Stopped: each worker has written what it still held.
    engine = engine_for(empty_url)
    try:
        with Session(engine) as session:
            entries = session.execute(select(LedgerForecast.ticker, LedgerForecast.horizon,
                                             LedgerForecast.as_of, LedgerForecast.served)).all()
            rows = session.scalar(select(func.count()).select_from(ForecastRow))
    finally:
        engine.dispose()
    assert sorted((t, h, d.isoformat()) for t, h, d, _ in entries) == sorted(
        (b["ticker"], b["horizon"], b["as_of"]) for b in BODIES)
    assert sum(served for *_, served in entries) == 2 * len(BODIES)
    assert rows == sum(b["horizon"] for b in BODIES)


def _workers(master: int, wanted: int, seconds: float = 30.0) -> int:
    """How many gunicorn workers ``master`` has, once ``wanted`` are up or ``seconds`` passed."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds * 10)):  # bounded in count and in time
        count = sum("gunicorn" in Path(f"/proc/{pid}/cmdline").read_text()
                    for pid in children(master))
        if count >= wanted or time.monotonic() > deadline:
            return count
        time.sleep(0.1)
    return count

"""The Procfile's gunicorn with two workers writing the ledger at once: nothing lost or locked.

Each worker queues the live forecasts it serves, once per ticker, model and day, and writes them
in batches from its own thread, so the two write the same tables at the same moments (every 2 s,
and both at shutdown), often the same keys. SQLite in WAL mode with BEGIN IMMEDIATE makes the
second writer wait its turn; PostgreSQL's unique key picks the winner. Either way every live
forecast must be in the ledger once, with its whole path, and no replay at all.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockPredictor.store import engine_for
from stockPredictor.store.models import ForecastRow, LedgerForecast
from tests.webapp.test_procfile import children, procfile_web_command

ROOT = Path(__file__).resolve().parents[2]
TICKERS = ("IBM", "MSFT", "AAPL")
# 36 forecasts, each asked for twice, by 8 clients at once: of each ticker, 6 from the latest
# close (live: one entry between them) and 6 from a past day (replays: none).
BODIES = [{"ticker": ticker, "horizon": horizon, "level": level, **as_of}
          for ticker in TICKERS
          for horizon in (1, 3)
          for level in (0.5, 0.8, 0.95)
          for as_of in ({}, {"as_of": "2012-06-01"})]
# A fake Yahoo inside the server's processes: each ticker's last 300 days of the sample, as
# yfinance's Ticker.history shapes them (tests/fakes.py), installed before the app starts.
FAKE_YAHOO = """
    import sys
    sys.path.insert(0, {root!r})
    import yfinance
    from stockPredictor.data.sample import from_sample
    from tests.fakes import history_frame


    class FakeTicker:
        def __init__(self, ticker, session=None):
            self.ticker, self._price_history = ticker, None

        def get_history_metadata(self):
            return {{"currency": "USD", "symbol": self.ticker, "longName": self.ticker}}

        def history(self, *args, actions=True, **kwargs):
            sample = from_sample(self.ticker)
            frame = history_frame(sample.index[-300:], close=sample["close"].to_numpy()[-300:])
            return frame if actions else frame.drop(columns=["Dividends", "Stock Splits"])


    yfinance.Ticker = yfinance.multi.Ticker = FakeTicker
"""


def test_two_workers_record_every_live_forecast_once_and_no_replay(empty_url, serve, free_port,
                                                                   tmp_path):
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(FAKE_YAHOO.format(
        root=str(ROOT))))
    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "yahoo",
           "WEB_CONCURRENCY": "2", "DATABASE_URL": empty_url, "PYTHONPATH": str(tmp_path),
           "CACHE_DIR": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with serve(procfile_web_command(), port, env=env) as server:
        assert _workers(server.pid, 2) == 2
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda body: server.post_json("/api/v1/forecast", body),
                                    BODIES + BODIES[::-1]))
        assert [status for status, _ in answers] == [200] * len(answers)
        kinds = {(body["ticker"], answer["kind"], answer["as_of"])
                 for body, (_, answer) in zip(BODIES + BODIES[::-1], answers)}
    assert {kind for _, kind, _ in kinds} == {"live", "replay"}
    # Stopped: each worker has written what it still held.
    engine = engine_for(empty_url)
    try:
        with Session(engine) as session:
            entries = session.execute(select(LedgerForecast.ticker, LedgerForecast.as_of,
                                             LedgerForecast.horizon)).all()
            rows = session.scalar(select(func.count()).select_from(ForecastRow))
    finally:
        engine.dispose()
    live = sorted((t, d) for t, kind, d in kinds if kind == "live")
    assert sorted((t, d.isoformat()) for t, d, _ in entries) == live
    assert len(entries) == len(TICKERS) and {h for *_, h in entries} == {30}
    assert rows == 30 * len(TICKERS)


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

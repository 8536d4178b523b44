"""Bench-only: a fake Yahoo and a SQLite that refuses writes, for a server bench_abuse.py starts.

Python imports ``sitecustomize`` at start-up from the first folder on its path that has one;
bench_abuse.py puts this folder on the benched server's PYTHONPATH, so nothing of this reaches
the app's code or any other process. Each part is off unless its variable is set:

- ``BENCH_FAKE_YAHOO=1``: yfinance's ``Ticker.history`` answers from synthetic prices, shaped as
  the real one answers (a tz-aware New York index named Date; Open, High, Low, Close, Volume,
  Dividends, Stock Splits), with no network. It knows the bundled sample's tickers and every
  ``X<digits>`` ticker (so a bench can ask for as many distinct live forecasts as it likes);
  any other ticker is missing, as Yahoo says of a ticker it does not know. Each ticker has
  ``BENCH_FAKE_YAHOO_DAYS`` business days (default 500) ending on the last weekday before today,
  the same every call, so a refetch never looks like a re-adjusted history.
- ``BENCH_SQLITE_FILE`` and ``BENCH_SQLITE_MAX_PAGES``: every connection to that SQLite file gets
  ``PRAGMA max_page_count``, so past that size each write fails as on a full disk
  (SQLITE_FULL, "database or disk is full"). The pragma is per connection, hence this hook.
"""

from __future__ import annotations

import os
import re
import zlib

KNOWN = re.compile(r"^(AAPL|GOOG|IBM|MSFT|FB|X\d+)$")


def _fake_yahoo() -> None:
    try:
        import curl_cffi  # noqa: F401  (as the app does: before TensorFlow, if it is there)
    except ImportError:
        pass
    import numpy as np
    import pandas as pd
    import yfinance
    from yfinance.exceptions import YFTickerMissingError

    days = int(os.environ.get("BENCH_FAKE_YAHOO_DAYS", "500"))

    def frame(ticker: str) -> pd.DataFrame:
        rng = np.random.default_rng(zlib.crc32(ticker.encode()))
        today = pd.Timestamp.now(tz="America/New_York").normalize().tz_localize(None)
        index = pd.bdate_range(end=today - pd.Timedelta(days=1), periods=days)
        index = index.tz_localize("America/New_York").rename("Date")
        close = 20.0 + 80.0 * rng.random() * np.exp(np.cumsum(rng.normal(0, 0.015, days)))
        spread = np.abs(rng.normal(0, 0.01, days))
        open_ = close * (1 + rng.normal(0, 0.005, days))
        return pd.DataFrame({
            "Open": open_, "High": np.maximum(open_, close) * (1 + spread),
            "Low": np.minimum(open_, close) * (1 - spread), "Close": close,
            "Volume": rng.integers(100_000, 5_000_000, days).astype("int64"),
            "Dividends": 0.0, "Stock Splits": 0.0}, index=index)

    def history(self, period="1mo", interval="1d", start=None, end=None, actions=True,
                auto_adjust=True, **kwargs) -> pd.DataFrame:
        ticker = str(self.ticker).upper()
        if not KNOWN.match(ticker):
            raise YFTickerMissingError(ticker, "no price data found")
        found = frame(ticker)
        # start inclusive, end exclusive, compared on the exchange's calendar day
        days_ = found.index.tz_localize(None)
        if start is not None:
            found = found[days_ >= pd.Timestamp(start)]
            days_ = found.index.tz_localize(None)
        if end is not None:
            found = found[days_ < pd.Timestamp(end)]
        return found if actions else found.drop(columns=["Dividends", "Stock Splits"])

    def metadata(self, *args, **kwargs) -> dict:
        return {"currency": "USD", "symbol": self.ticker, "longName": f"{self.ticker} Inc.",
                "exchangeTimezoneName": "America/New_York"}

    yfinance.Ticker.history = history
    yfinance.Ticker.get_history_metadata = metadata


def _full_sqlite(path: str, pages: int) -> None:
    import sqlite3
    import sqlite3.dbapi2

    target = os.path.realpath(path)
    connect = sqlite3.dbapi2.connect

    def limited(database, *args, **kwargs):
        connection = connect(database, *args, **kwargs)
        if isinstance(database, str) and os.path.realpath(database) == target:
            connection.execute(f"PRAGMA max_page_count = {int(pages)}")
        return connection

    sqlite3.dbapi2.connect = sqlite3.connect = limited


if os.environ.get("BENCH_FAKE_YAHOO") == "1":
    _fake_yahoo()
if os.environ.get("BENCH_SQLITE_FILE") and os.environ.get("BENCH_SQLITE_MAX_PAGES"):
    _full_sqlite(os.environ["BENCH_SQLITE_FILE"], int(os.environ["BENCH_SQLITE_MAX_PAGES"]))

"""Fakes shaped exactly like what the outside world returns: here, yfinance's frames."""

from __future__ import annotations

import numpy as np
import pandas as pd


def history_frame(days, tz="America/New_York", close=None):
    """Shaped as yfinance 1.7 Ticker.history(interval="1d", auto_adjust=True) returns it.

    yfinance rebuilds a daily index as pd.to_datetime(dates).tz_localize(exchange tz), names it
    "Date", keeps Volume as int64 and appends Dividends and Stock Splits (scrapers/history.py).
    """
    index = pd.to_datetime(pd.DatetimeIndex(days).date).tz_localize(
        tz, ambiguous=True, nonexistent="shift_forward")
    close = np.linspace(100.0, 110.0, len(index)) if close is None else np.asarray(close, float)
    frame = pd.DataFrame({
        "Open": close * 0.99, "High": close * 1.01, "Low": close * 0.98, "Close": close,
        "Volume": np.arange(1, len(index) + 1, dtype=np.int64) * 1000,
        "Dividends": 0.0, "Stock Splits": 0.0}, index=index)
    frame.index.name = "Date"
    return frame

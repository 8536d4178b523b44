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


class FakeTicker:
    """yfinance's Ticker as yf.download uses it: ``history`` answers from ``answers``.

    Install with ``fake_tickers(yf, answers)``; ``answers(ticker, call)`` returns a frame shaped
    as ``history_frame`` or an exception to raise, as the real history() does with yfinance's
    exceptions turned on. ``call`` counts the downloads so far (1 for the first).
    """

    answers = staticmethod(lambda ticker, call: None)
    call = 0
    calls: list = []

    def __init__(self, ticker, session=None):
        self.ticker = ticker
        self._price_history = None  # read by yf.download after each history() call

    def history(self, period="1mo", interval="1d", start=None, end=None, actions=True,
                auto_adjust=True, **kwargs):
        type(self).calls.append(dict(ticker=self.ticker, period=period, start=start, end=end,
                                     interval=interval, auto_adjust=auto_adjust,
                                     call=type(self).call))
        result = type(self).answers(self.ticker, type(self).call)
        if isinstance(result, BaseException):
            raise result
        frame = result.copy()
        if start is not None:  # as Yahoo answers: the days from start on
            frame = frame[frame.index.tz_localize(None) >= pd.Timestamp(start)]
        return frame if actions else frame.drop(columns=["Dividends", "Stock Splits"])


def fake_tickers(yf, answers):
    """A FakeTicker class answering with ``answers``, and yf.download counting its calls;
    returns (the class, a function undoing both). The real yf.download does the rest."""
    ticker_class = type("FakeTicker", (FakeTicker,), {"answers": staticmethod(answers),
                                                      "call": 0, "calls": []})
    real_ticker, real_download = yf.multi.Ticker, yf.download

    def download(*args, **kwargs):
        ticker_class.call += 1
        return real_download(*args, **kwargs)

    yf.multi.Ticker, yf.download = ticker_class, download

    def undo():
        yf.multi.Ticker, yf.download = real_ticker, real_download

    return ticker_class, undo


def download_frame(yf, frames, group_by="column"):
    """What yf.download(list(frames), auto_adjust=True) returns when each ticker's history()
    answers ``frames[ticker]`` (a history_frame, or an exception for a failed ticker): the real
    download run over FakeTicker, so its columns, index and failed columns are yfinance's own."""
    from yfinance.data import YfData

    _, undo = fake_tickers(yf, lambda ticker, call: frames[ticker])
    try:
        return yf.download(list(frames), period="max", interval="1d", auto_adjust=True,
                           actions=False, threads=False, progress=False, group_by=group_by,
                           session=YfData()._session)
    finally:
        undo()

"""Forecast the next trading days from a loaded artifact (NumPy runtime, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .artifacts import Artifact
from .config import MAX_HORIZON
from .errors import DataError
from .trading_calendar import EQUITY, next_trading_days

DEFAULT_HORIZON = 4


@dataclass(frozen=True)
class Forecast:
    """Closes forecast for the trading days after ``as_of``, and where they came from."""

    ticker: str
    model: str
    as_of: pd.Timestamp
    source: str
    last_close: float
    dates: pd.DatetimeIndex
    closes: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready dict: ticker, model, as_of, source, last_close and the forecast rows."""
        return {"ticker": self.ticker, "model": self.model,
                "as_of": self.as_of.strftime("%Y-%m-%d"), "source": self.source,
                "last_close": round(self.last_close, 4),
                "forecast": [{"date": d.strftime("%Y-%m-%d"), "close": round(float(c), 4)}
                             for d, c in zip(self.dates, self.closes)]}

    def to_frame(self) -> pd.DataFrame:
        """The forecast as a frame indexed by date with one column, close."""
        return pd.DataFrame({"close": self.closes}, index=self.dates)


def check_horizon(horizon: int, limit: int = MAX_HORIZON) -> int:
    """``horizon`` if it is an integer from 1 to ``limit``, else a DataError."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) \
            or not 1 <= horizon <= limit:
        raise DataError(f"horizon={horizon!r} must be a whole number of trading days "
                        f"from 1 to {limit}")
    return int(horizon)


def history_until(frame: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The rows of ``frame`` dated on or before ``as_of`` (default: all of them)."""
    if as_of is None:
        return frame
    try:
        as_of = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise DataError(f"as_of={as_of!r} is not a date; expected YYYY-MM-DD") from exc
    if as_of.tzinfo is not None:
        as_of = as_of.tz_localize(None)
    first = frame.index[0]
    if as_of < first:
        raise DataError(f"as_of={as_of.date()} is before the first price on {first.date()}")
    return frame.loc[:as_of.normalize()]


def forecast(frame: pd.DataFrame, model: Artifact, horizon: int = DEFAULT_HORIZON,
             as_of=None) -> Forecast:
    """Forecast ``horizon`` trading days after ``as_of`` using prices up to ``as_of`` only."""
    horizon = check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    history = history_until(frame, as_of)
    x = model.windowing.inputs(history)
    last_close = float(history["close"].iloc[-1])
    outputs = model.model(x)[:, :horizon]
    closes = model.windowing.decode(outputs, last_close)[0]
    origin = history.index[-1]
    calendar = frame.attrs.get("calendar", EQUITY)
    return Forecast(ticker=str(frame.attrs.get("ticker", "")), model=model.name, as_of=origin,
                    source=str(frame.attrs.get("source", "unknown")), last_close=last_close,
                    dates=next_trading_days(origin, horizon, calendar), closes=closes)

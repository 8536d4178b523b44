"""Forecast the next trading days from a loaded artifact (NumPy runtime, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .artifacts import Artifact
from .bands import CALIBRATION_ORIGINS, DEFAULT_LEVEL, band, check_level, halfwidths, log_errors
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
    # The band: at ``level`` (0.8 = 80%) the close should lie between lows and highs. None when
    # no band was asked for or the history was too short to calibrate one.
    level: float | None = None
    lows: np.ndarray | None = None
    highs: np.ndarray | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict: ticker, model, as_of, source, last_close, forecast rows (and band)."""
        rows = [{"date": d.strftime("%Y-%m-%d"), "close": round(float(c), 4)}
                for d, c in zip(self.dates, self.closes)]
        data = {"ticker": self.ticker, "model": self.model,
                "as_of": self.as_of.strftime("%Y-%m-%d"), "source": self.source,
                "last_close": round(self.last_close, 4), "forecast": rows}
        if self.level is not None:
            data["level"] = self.level
            for row, low, high in zip(rows, self.lows, self.highs):
                row["low"], row["high"] = round(float(low), 4), round(float(high), 4)
        return data

    def to_frame(self) -> pd.DataFrame:
        """The forecast as a frame indexed by date: close, and low and high when banded."""
        columns = {"close": self.closes}
        if self.level is not None:
            columns.update(low=self.lows, high=self.highs)
        return pd.DataFrame(columns, index=self.dates)


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


def model_forecasts(frame: pd.DataFrame, model: Artifact, ends, horizon: int) -> np.ndarray:
    """Closes forecast at each row position in ``ends``, shape (len(ends), horizon), one batch.

    The window for position p holds rows up to p only; the model's scaling is the one fitted
    on its training data, so nothing after p reaches the forecast made at p.
    """
    ends = np.asarray(ends, dtype=np.intp)
    x = model.windowing.inputs(frame, ends=ends)
    outputs = model.model(x)[:, :horizon]
    return model.windowing.decode(outputs, frame["close"].to_numpy(np.float64)[ends])


def forecast(frame: pd.DataFrame, model: Artifact, horizon: int = DEFAULT_HORIZON,
             as_of=None, level: float | None = DEFAULT_LEVEL) -> Forecast:
    """Forecast ``horizon`` trading days after ``as_of`` using prices up to ``as_of`` only."""
    horizon = check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    level = None if level is None else check_level(level)
    history = history_until(frame, as_of)
    origin_row = len(history) - 1
    closes = model_forecasts(history, model, [origin_row], horizon)[0]
    lows = highs = None
    if level is not None:
        lows, highs = _bands(history, model, horizon, level, closes)
    origin = history.index[-1]
    calendar = frame.attrs.get("calendar", EQUITY)
    return Forecast(ticker=str(frame.attrs.get("ticker", "")), model=model.name, as_of=origin,
                    source=str(frame.attrs.get("source", "unknown")),
                    last_close=float(history["close"].iloc[-1]),
                    dates=next_trading_days(origin, horizon, calendar), closes=closes,
                    level=None if lows is None else level, lows=lows, highs=highs)


def _bands(history: pd.DataFrame, model: Artifact, horizon: int, level: float,
           closes: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    # A backtest of every trading day before the origin whose outcome is known by the origin:
    # the last CALIBRATION_ORIGINS errors of each step set that step's band width.
    origin_row = len(history) - 1
    first = max(model.windowing.rows_needed - 1, origin_row - horizon - CALIBRATION_ORIGINS + 1)
    positions = np.arange(first, origin_row)
    if len(positions) <= horizon:
        return None, None
    past = model_forecasts(history, model, positions, horizon)
    errors = log_errors(history["close"].to_numpy(np.float64), positions, past)
    width = halfwidths(positions, errors, np.array([origin_row]), level)[0]
    if np.isnan(width).any():
        return None, None
    return band(closes, width)

"""Forecast the next trading days from a loaded artifact (NumPy runtime, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import rounding, tables
from .artifacts import Artifact
from .bands import (CALIBRATION_ORIGINS, DEFAULT_LEVEL, LEVELS, band, check_level, log_errors,
                    widths)
from .config import MAX_HORIZON
from .errors import DataError, excerpt
from .lru import ByteBoundedLRU
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
    # Sentences a person should read beside the forecast (an as_of moved to the last price).
    notices: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready dict: ticker, model, as_of, source, last_close, forecast rows (and band)."""
        rows = [{"date": d.strftime("%Y-%m-%d"), "close": c}
                for d, c in zip(self.dates, rounding.prices(self.closes))]
        data = {"ticker": self.ticker, "model": self.model,
                "as_of": self.as_of.strftime("%Y-%m-%d"), "source": self.source,
                "last_close": rounding.price(self.last_close), "forecast": rows,
                "notices": list(self.notices)}
        if self.level is not None:
            data["level"] = self.level
            for row, low, high in zip(rows, rounding.prices(self.lows),
                                      rounding.prices(self.highs)):
                row["low"], row["high"] = low, high
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
    return frame.iloc[:rows_until(frame, as_of)]


def rows_until(frame: pd.DataFrame, as_of=None) -> int:
    """How many rows of ``frame`` are dated on or before ``as_of`` (default: all of them)."""
    if as_of is None:
        return len(frame)
    try:
        as_of = pd.Timestamp(as_of)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"as_of={excerpt(as_of)} is not a date; expected YYYY-MM-DD") from exc
    if as_of is pd.NaT:
        raise DataError("as_of is empty; expected a date as YYYY-MM-DD")
    if as_of.tzinfo is not None:
        as_of = as_of.tz_localize(None)
    first = frame.index[0]
    if as_of < first:
        raise DataError(f"as_of={as_of.date()} is before the first price on {first.date()}")
    return int(frame.index.searchsorted(as_of.normalize(), side="right"))


def origin_row(frame: pd.DataFrame, model: Artifact, as_of=None) -> int:
    """The row of the last price on or before ``as_of``, if a full input window ends there."""
    rows = rows_until(frame, as_of)
    windowing = model.windowing
    if rows < windowing.rows_needed:
        reads = (f"{windowing.window} daily returns" if windowing.target == "log_return"
                 else f"{windowing.window} closes")
        held = (f"the prices hold {rows} row(s)" if as_of is None else
                f"as_of={frame.index[rows - 1].date()} leaves {rows} row(s) of prices up to it")
        raise DataError(f"{held}; model {model.name!r} needs at least {windowing.rows_needed} "
                        f"(it reads {reads})")
    return rows - 1


def forecast(frame: pd.DataFrame, model: Artifact, horizon: int = DEFAULT_HORIZON,
             as_of=None, level: float | None = DEFAULT_LEVEL,
             cache: ByteBoundedLRU | None = None) -> Forecast:
    """Forecast ``horizon`` trading days after ``as_of`` using prices up to ``as_of`` only.

    The forecast and its band are slices of the model's forecast table over ``frame``, whose
    blocks come from ``cache`` (default: the process's) when they were computed before.
    """
    horizon = check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    level = None if level is None else check_level(level)
    row = origin_row(frame, model, as_of)
    table = tables.table_for(frame, model, cache)
    closes = table.forecasts([row], horizon)[0]
    lows = highs = None
    if level is not None:
        lows, highs = _bands(table, row, horizon, (level,), closes)[level]
    origin = frame.index[row]
    calendar = frame.attrs.get("calendar", EQUITY)
    return Forecast(ticker=str(frame.attrs.get("ticker", "")), model=model.name, as_of=origin,
                    source=str(frame.attrs.get("source", "unknown")),
                    last_close=float(table.closes[row]),
                    dates=next_trading_days(origin, horizon, calendar), closes=closes,
                    level=None if lows is None else level, lows=lows, highs=highs,
                    notices=_moved(frame, as_of))


def _moved(frame: pd.DataFrame, as_of) -> tuple[str, ...]:
    # An as_of after the last price is served from the last price, and the person is told so.
    if as_of is None:
        return ()
    asked = pd.Timestamp(as_of)
    asked = asked.tz_localize(None) if asked.tzinfo is not None else asked
    last = frame.index[-1]
    if asked.normalize() <= last:
        return ()
    return (f"The prices end on {last.date()}, before the as-of date {asked.date()}, so the "
            f"forecast is made from {last.date()}.",)


def _bands(table: tables.ForecastTable, row: int, horizon: int, levels, closes: np.ndarray
           ) -> dict[float, tuple[np.ndarray | None, np.ndarray | None]]:
    # The errors of every trading day before the origin whose outcome is known by the origin:
    # the last CALIBRATION_ORIGINS of each step set that step's band width.
    positions = np.arange(max(table.first, row - horizon - CALIBRATION_ORIGINS + 1), row)
    if len(positions) <= horizon:
        return {level: (None, None) for level in levels}
    known = table.closes[:row + 1]  # outcomes up to the origin only
    errors = log_errors(known, positions, table.forecasts(positions, horizon))
    out = {}
    for level in levels:
        width = widths(known, positions, errors, np.array([row]), level)[0]
        out[level] = (None, None) if np.isnan(width).any() else band(closes, width)
    return out


def bands_at(frame: pd.DataFrame, model: Artifact, horizon: int, as_of=None, levels=LEVELS,
             cache: ByteBoundedLRU | None = None) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """The forecast's band at each of ``levels``, from one set of past errors; levels too short
    of history to calibrate are left out."""
    horizon = check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    row = origin_row(frame, model, as_of)
    table = tables.table_for(frame, model, cache)
    closes = table.forecasts([row], horizon)[0]
    found = _bands(table, row, horizon, [check_level(level) for level in levels], closes)
    return {level: pair for level, pair in found.items() if pair[0] is not None}

"""Forecast the next trading days from a loaded artifact (NumPy runtime, no TensorFlow).

A forecast at ``as_of`` reads one origin row of the model's forecast table (tables.py): the
served closes there, and its band at each level from the errors of the forecasts made on the
trading days before it whose outcomes were known by then (bands.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import rounding
from ..data.calendar import EQUITY, next_trading_days
from ..errors import DataError, excerpt
from ..lru import ByteBoundedLRU
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from . import tables
from .bands import (CALIBRATION_ORIGINS, DEFAULT_LEVEL, LEVELS, band, check_level, has_band,
                    log_errors, widths_at)

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
    # no band was asked for or no step's history was long enough to calibrate one; NaN at a
    # step too short of history (its band is not served, as evaluate does not score it).
    level: float | None = None
    lows: np.ndarray | None = None
    highs: np.ndarray | None = None
    # Sentences a person should read beside the forecast (an as_of moved to the last price).
    notices: tuple[str, ...] = ()
    # The band at every level computed, (lows, highs) by level; levels too short of history to
    # calibrate are left out.
    bands: dict = field(default_factory=dict, compare=False)

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
            for row, low, high in zip(rows, _bounds(self.lows), _bounds(self.highs)):
                row["low"], row["high"] = low, high
        return data

    def to_frame(self) -> pd.DataFrame:
        """The forecast as a frame indexed by date: close, and low and high when banded."""
        columns = {"close": self.closes}
        if self.level is not None:
            columns.update(low=self.lows, high=self.highs)
        return pd.DataFrame(columns, index=self.dates)


def _bounds(values) -> list:
    # A step without a band is null in JSON, never NaN.
    return [None if v != v else v for v in rounding.prices(values)]


def check_horizon(horizon: int, limit: int = MAX_HORIZON) -> int:
    """``horizon`` if it is an integer from 1 to ``limit``, else a DataError."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) \
            or not 1 <= horizon <= limit:
        raise DataError(f"horizon={horizon!r} must be a whole number of trading days "
                        f"from 1 to {limit}", field="horizon")
    return int(horizon)


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


def usable_dates(frame: pd.DataFrame, model: Artifact
                 ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The earliest and latest as_of ``model`` can forecast ``frame`` from, or None if none.

    The earliest is the day the first full input window ends (the model's ``rows_needed``-th
    price); the latest is the last price (a later as_of is moved there).
    """
    needed = model.windowing.rows_needed
    if len(frame) < needed:
        return None
    return frame.index[needed - 1], frame.index[-1]


def origin_row(frame: pd.DataFrame, model: Artifact, as_of=None) -> int:
    """The row of the last price on or before ``as_of``, if a full input window ends there."""
    rows = rows_until(frame, _day(frame, model, as_of))
    if rows < model.windowing.rows_needed:
        raise _too_early(frame, model, as_of)
    return rows - 1


def _day(frame: pd.DataFrame, model: Artifact, as_of):
    # An as_of before the first price is refused with the dates that can be used instead.
    if as_of is None or isinstance(as_of, str) and not as_of.strip():
        return as_of
    try:
        day = pd.Timestamp(as_of)
    except (TypeError, ValueError, OverflowError):
        return as_of  # rows_until says it is not a date
    if day is not pd.NaT and day.tz_localize(None) < frame.index[0]:
        raise _too_early(frame, model, as_of)
    return as_of


def _too_early(frame: pd.DataFrame, model: Artifact, as_of) -> DataError:
    # In plain words, with the dates: the same sentence on a page, in the API and the CLI.
    needed = model.windowing.rows_needed
    ticker = frame.attrs.get("ticker")
    whose = f"{ticker}'s prices" if ticker else "the prices"
    first, last = frame.index[0].date(), frame.index[-1].date()
    span = usable_dates(frame, model)
    if span is None:
        opening = whose if ticker else "The prices"
        return DataError(f"{opening} hold only {len(frame)} trading day(s), from {first} to "
                         f"{last}; model {model.name!r} needs at least {needed} trading days of "
                         "prices to make a forecast.")
    earliest = span[0].date()
    return DataError(f"The as-of date {pd.Timestamp(as_of).date()} is too early: {whose} start "
                     f"on {first}, and the earliest date a forecast can be made from is "
                     f"{earliest} (model {model.name!r} needs {needed} trading days of prices). "
                     f"Choose a date from {earliest} to {last}.", field="as_of")


def moved(frame: pd.DataFrame, as_of) -> tuple[str, ...]:
    """The notice for an as_of after the last price, which is served from the last price."""
    if as_of is None:
        return ()
    asked = pd.Timestamp(as_of)
    asked = asked.tz_localize(None) if asked.tzinfo is not None else asked
    last = frame.index[-1]
    if asked.normalize() <= last:
        return ()
    return (f"The prices end on {last.date()}, before the as-of date {asked.date()}, so the "
            f"forecast is made from {last.date()}.",)


def band_positions(table: tables.ForecastTable, row: int, horizon: int) -> np.ndarray:
    """The rows whose errors calibrate the band at ``row``: every trading day before it whose
    outcome ``horizon`` days on was known by then, the last CALIBRATION_ORIGINS of each step."""
    return np.arange(max(table.first, row - horizon - CALIBRATION_ORIGINS + 1), row)


def band_widths(table: tables.ForecastTable, row: int, steps: int, levels,
                served: np.ndarray) -> dict[float, np.ndarray]:
    """The band's half-width (log units) at each of ``steps`` steps from ``row``, at each of
    ``levels``, from one set of past errors; ``served`` holds the forecasts at
    ``band_positions(table, row, steps)``, (n, steps). A step's width reads only the errors of
    that step, so the widths of the first h steps are those of an h-day forecast."""
    positions = band_positions(table, row, steps)
    if not len(positions):
        return {}
    known = table.closes[:row + 1]  # outcomes up to the origin only
    errors = log_errors(known, positions, served)
    found = widths_at(known, positions, errors, np.array([row]), levels)
    return {level: width[0] for level, width in found.items()}


def bands_of(closes: np.ndarray, widths: dict[float, np.ndarray]
             ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """The band around ``closes`` at each level of ``band_widths``' answer, NaN at a step too
    short of history to calibrate (``has_band``, the rule ``evaluate`` scores by); a level with
    no step banded is left out."""
    horizon = len(closes)
    return {level: band(closes, width[:horizon]) for level, width in widths.items()
            if has_band(width[:horizon]).any()}


def bands_at(table: tables.ForecastTable, row: int, closes: np.ndarray, levels,
             served: np.ndarray) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """The band around ``closes`` (the forecast at ``row``) at each of ``levels``;
    ``served`` holds the forecasts at ``band_positions`` (n, len(closes))."""
    return bands_of(closes, band_widths(table, row, len(closes), levels, served))


def forecast(frame: pd.DataFrame, model: Artifact, horizon: int = DEFAULT_HORIZON,
             as_of=None, level: float | None = DEFAULT_LEVEL,
             cache: ByteBoundedLRU | None = None) -> Forecast:
    """Forecast ``horizon`` trading days after ``as_of`` using prices up to ``as_of`` only.

    The forecast and its bands (at ``level`` and every offered level) are slices of the
    model's forecast table over ``frame``, whose blocks come from ``cache`` (default: the
    process's) when they were computed before. ``level=None`` asks for no band.
    """
    horizon = check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    level = None if level is None else check_level(level)
    row = origin_row(frame, model, as_of)
    table = tables.table_for(frame, model, cache)
    closes = table.forecasts([row], horizon)[0]
    found = {}
    if level is not None:
        levels = tuple(sorted({*LEVELS, level}))
        found = bands_at(table, row, closes, levels,
                         table.forecasts(band_positions(table, row, horizon), horizon))
    return make(frame, model, row, float(table.closes[row]), closes, level, found,
                moved(frame, as_of))


def make(frame: pd.DataFrame, model: Artifact, row: int, last_close: float,
         closes: np.ndarray, level: float | None, found: dict,
         notices: tuple[str, ...] = ()) -> Forecast:
    """The Forecast at origin ``row`` of ``frame`` from its closes and bands by level."""
    origin = frame.index[row]
    lows, highs = found.get(level, (None, None))
    return Forecast(ticker=str(frame.attrs.get("ticker", "")), model=model.name, as_of=origin,
                    source=str(frame.attrs.get("source", "unknown")), last_close=last_close,
                    dates=next_trading_days(origin, len(closes),
                                            frame.attrs.get("calendar", EQUITY)),
                    closes=closes, level=None if lows is None else level, lows=lows,
                    highs=highs, notices=notices, bands=found)

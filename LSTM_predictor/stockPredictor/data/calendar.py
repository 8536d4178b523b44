"""Which days a market trades: NYSE sessions for equities, every day for crypto."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

EQUITY = "equity"
CRYPTO = "crypto"
# The most trading days any forecast looks ahead (model.config re-exports it): defined on this
# floor because reading prices (an upload's as-of cut keeps a forecast's outcomes) needs it too.
MAX_HORIZON = 30


@lru_cache(maxsize=64)
def _nyse_holidays(year: int) -> frozenset[dt.date]:
    # The holidays package keeps the NYSE calendar current, one-off closures included.
    return frozenset(holidays.financial_holidays("NYSE", years=year).keys())


@lru_cache(maxsize=64)
def _closures(first_year: int, last_year: int) -> np.ndarray:
    return np.array(sorted(day for year in range(first_year, last_year + 1)
                           for day in _nyse_holidays(year)), dtype="datetime64[D]")


def iso_days(values) -> list[str]:
    """Dates (datetime64 values or a DatetimeIndex) as YYYY-MM-DD strings, in one C call."""
    return np.datetime_as_string(np.asarray(values, dtype="datetime64[D]")).tolist()


def is_trading_day(day: dt.date | pd.Timestamp, calendar: str = EQUITY) -> bool:
    """True when the market of ``calendar`` is open on ``day``."""
    day = pd.Timestamp(day).date()
    if calendar == CRYPTO:
        return True
    return day.weekday() < 5 and day not in _nyse_holidays(day.year)


def next_trading_days(after: dt.date | pd.Timestamp, count: int,
                      calendar: str = EQUITY) -> pd.DatetimeIndex:
    """The ``count`` trading days strictly after ``after``."""
    if calendar not in (EQUITY, CRYPTO):
        raise ValueError(f"calendar={calendar!r} is not one of {EQUITY}, {CRYPTO}")
    start = np.datetime64(pd.Timestamp(after).date(), "D") + 1
    # Weekdays and holidays fit well inside twice the count plus two weeks of calendar days.
    span = start + np.arange(2 * count + 14)
    if calendar == EQUITY:
        years = span.astype("datetime64[Y]").astype(int) + 1970
        span = span[np.is_busday(span, holidays=_closures(int(years[0]), int(years[-1])))]
    return pd.DatetimeIndex(span[:count].astype("datetime64[ns]"), name="date")

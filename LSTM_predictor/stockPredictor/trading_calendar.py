"""Which days a market trades: NYSE sessions for equities, every day for crypto."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
import pandas as pd

EQUITY = "equity"
CRYPTO = "crypto"


@lru_cache(maxsize=64)
def _nyse_holidays(year: int) -> frozenset[dt.date]:
    # The holidays package keeps the NYSE calendar current, one-off closures included.
    return frozenset(holidays.financial_holidays("NYSE", years=year).keys())


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
    days = []
    day = pd.Timestamp(after).normalize()
    while len(days) < count:
        day += pd.Timedelta(days=1)
        if is_trading_day(day, calendar):
            days.append(day)
    return pd.DatetimeIndex(days, name="date")

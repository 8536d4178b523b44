"""Forecast dates: NYSE sessions for equities, every day for crypto."""

import pandas as pd

from stockPredictor.data.calendar import CRYPTO, EQUITY, is_trading_day, next_trading_days


def test_equity_days_skip_weekends_and_holidays():
    days = next_trading_days("2026-11-20", 30, EQUITY)  # a Friday, Thanksgiving and Christmas ahead
    assert len(days) == 30 and days.is_monotonic_increasing
    assert (days.day_of_week < 5).all()
    for holiday in ("2026-11-26", "2026-12-25", "2027-01-01"):
        assert pd.Timestamp(holiday) not in days
    assert days[0] == pd.Timestamp("2026-11-23")  # Friday -> Monday


def test_known_closures_of_past_years():
    for day in ("2013-01-01", "2013-03-29", "2012-10-29", "2025-01-09"):  # Good Friday, Sandy
        assert not is_trading_day(pd.Timestamp(day), EQUITY), day
    assert is_trading_day(pd.Timestamp("2013-03-01"), EQUITY)


def test_crypto_trades_every_day():
    days = next_trading_days("2026-12-24", 10, CRYPTO)
    assert list(days) == list(pd.date_range("2026-12-25", periods=10, freq="D"))


def test_days_are_strictly_after_the_origin():
    assert next_trading_days("2013-03-01", 1)[0] == pd.Timestamp("2013-03-04")

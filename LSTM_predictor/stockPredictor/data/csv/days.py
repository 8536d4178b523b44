"""The last stage: a file's rows made into one daily frame, with a sentence for each fix.

Rows without a price are dropped, missing open/high/low become the close, Adj Close / Close adjusts
OHLC, rows are sorted, repeated rows dropped and intraday rows combined into days. What cannot be
fixed (weekly data, two different prices for one day, a price that is not positive) is one
DataError naming the row or column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import DataError
from .dates import stamps

MAX_DAILY_GAP = 4  # median days between rows of daily prices: a long weekend fits
_DAY_NS = 86_400 * 10**9


def daily(raw: dict, rows: np.ndarray, names: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Daily prices from a file's rows, and a sentence for each fix made to them.

    ``raw`` maps a role to its cells: float64 arrays for prices and volume, text (or unix
    seconds) for the date, and an optional "time". ``rows`` are the rows' numbers in the file,
    ``names`` the columns' names as the file writes them. Rows without a price are dropped,
    missing open/high/low become the close, Adj Close / Close adjusts OHLC, rows are sorted,
    repeated rows dropped, intraday rows combined into days; weekly or monthly prices, two prices
    for one day, and prices that are not positive are DataErrors.
    """
    notices: list[str] = []
    price_role = "adj" if "adj" in raw else "close"
    price = raw[price_role]
    missing = np.isnan(price)
    if missing.all():
        raise DataError(f"no row of the file has a price in column {names[price_role]!r}")
    if missing.any():
        keep = ~missing
        raw = {role: values[keep] for role, values in raw.items()}
        rows, price = rows[keep], price[keep]
        count = int(missing.sum())
        notices.append(f"{_rows(count)} without a price in column {names[price_role]!r} "
                       f"{'were' if count > 1 else 'was'} left out.")
    dates = raw["date"]
    if "time" in raw:
        dates = dates.fillna("").str.strip() + " " + raw["time"].fillna("").str.strip()
    when = stamps(dates, names["date"], rows)
    _check_positive(raw, names, when, rows)
    columns, filled = _ohlc(raw, price)
    if filled:
        notices.append(f"{_rows(filled)} had no open, high or low price; the close stands in "
                       f"for {'them' if filled > 1 else 'it'}.")
    when, columns, rows = _sorted(when, columns, rows, notices)
    when, columns = _unique(when, columns, rows, notices)
    days, columns = _days(when, columns, notices)
    gap = float(np.median(np.diff(days.asi8))) / _DAY_NS if len(days) > 1 else 0.0
    if gap > MAX_DAILY_GAP:
        raise DataError(_not_daily(gap))
    return pd.DataFrame(columns, index=pd.DatetimeIndex(days, name="date")), notices


def _rows(count: int) -> str:
    return f"{count:,} row{'s' if count > 1 else ''}"


def _check_positive(raw: dict, names: dict[str, str], when: pd.DatetimeIndex,
                    rows: np.ndarray) -> None:
    # Checked here, not in validate, to name the file's own column and row.
    for role in ("open", "high", "low", "close", "adj"):
        if role not in raw:
            continue
        values = raw[role]
        bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{names[role]} is {values[row]} on {when[row].date()} (data row "
                            f"{rows[row]:,}); prices must be positive numbers")


def _ohlc(raw: dict, price: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    # Yahoo's Close is split-adjusted only; Adj Close also takes out dividends.
    ratio = raw["adj"] / raw["close"] if "adj" in raw and "close" in raw else 1.0
    columns, gaps = {}, np.zeros(len(price), bool)
    for role in ("open", "high", "low"):
        values = raw[role] * ratio if role in raw else price
        missing = np.isnan(values)
        gaps |= missing
        columns[role] = np.where(missing, price, values)
    columns["close"] = price
    volume = raw.get("volume")
    columns["volume"] = np.zeros(len(price)) if volume is None else np.nan_to_num(volume, nan=0.0)
    return columns, int(gaps.sum())


def _sorted(when: pd.DatetimeIndex, columns: dict, rows: np.ndarray, notices: list[str]):
    steps = np.diff(when.asi8)
    if not (steps < 0).any():
        return when, columns, rows
    order = np.argsort(when.asi8, kind="stable")
    if (steps <= 0).all():
        notices.append("The file lists the newest prices first; its rows were sorted oldest "
                       "first.")
    else:
        notices.append("The file's rows were not in date order; they were sorted oldest first.")
    return when[order], {k: v[order] for k, v in columns.items()}, rows[order]


def _unique(when: pd.DatetimeIndex, columns: dict, rows: np.ndarray, notices: list[str]):
    # Repeated rows (two exports pasted together) are dropped; two prices for one time refused.
    repeat = np.diff(when.asi8) == 0
    if not repeat.any():
        return when, columns
    values = np.column_stack(list(columns.values()))
    clash = repeat & ~(values[1:] == values[:-1]).all(axis=1)
    if clash.any():
        row = int(np.argmax(clash))
        stamp = when[row]
        what, label = ("date", stamp.date()) if stamp == stamp.normalize() else ("time", stamp)
        raise DataError(f"{what} {label} appears more than once with different prices (data rows "
                        f"{rows[row]:,} and {rows[row + 1]:,}); each {what} needs one row")
    keep = np.concatenate(([True], ~repeat))
    notices.append(f"{_rows(int(repeat.sum()))} repeating an earlier row "
                   f"{'were' if repeat.sum() > 1 else 'was'} left out.")
    return when[keep], {k: v[keep] for k, v in columns.items()}


def _days(when: pd.DatetimeIndex, columns: dict, notices: list[str]):
    # Several rows a day (Bitstamp's minutes, hourly bars) become one: first open, highest high,
    # lowest low, last close, summed volume.
    days = when.normalize()
    same_day = np.diff(days.asi8) == 0
    if not same_day.any():
        return days, columns
    starts = np.flatnonzero(np.concatenate(([True], ~same_day)))
    ends = np.concatenate((starts[1:], [len(days)])) - 1
    steps = np.diff(when.asi8)[same_day]
    notices.append(f"The file's {_interval(float(np.median(steps)) / 1e9)} rows were combined "
                   f"into daily prices.")
    return days[starts], {
        "open": columns["open"][starts], "high": np.maximum.reduceat(columns["high"], starts),
        "low": np.minimum.reduceat(columns["low"], starts), "close": columns["close"][ends],
        "volume": np.add.reduceat(columns["volume"], starts)}


def _interval(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        count = seconds / size
        if count >= 1 and abs(count - round(count)) < 0.01:
            return "hourly" if (unit, round(count)) == ("hour", 1) else f"{round(count)}-{unit}"
    return "intraday"


def _not_daily(gap: float) -> str:
    kinds = (("weekly", 5, 10), ("monthly", 25, 35), ("quarterly", 80, 100),
             ("yearly", 350, 380))
    kind = next((name for name, low, high in kinds if low <= gap <= high), None)
    if kind:
        return (f"these prices are {kind} (a median of {round(gap)} days between rows); the "
                f"models forecast daily prices")
    return f"these prices are a median of {gap:g} days apart; the models forecast daily prices"

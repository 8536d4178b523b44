"""What a person sees first about a ticker: the info card, how fresh its prices are, and the
price history as rows a page or the API sends."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from .. import rounding
from .calendar import iso_days
from .frame import validate

# A year of trading days, for the 52-week range.
YEAR = pd.DateOffset(weeks=52)
SOURCE_LABELS = {"yahoo": "Yahoo Finance", "sample": "Bundled sample (Quandl WIKI, to 2013)",
                 "csv": "Uploaded file", "synthetic": "Synthetic series"}
# Daily closes older than this (in calendar days) are called stale: a weekend and a holiday fit.
STALE_AFTER_DAYS = 4


def freshness(frame: pd.DataFrame, now: dt.datetime | None = None) -> dict:
    """Where the prices came from, when, and a notice when they are not current."""
    attrs = frame.attrs
    source = str(attrs.get("source", "unknown"))
    now = pd.Timestamp(now or dt.datetime.now(dt.timezone.utc))
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    last = frame.index[-1]
    age = (now.normalize() - last).days
    notice = None
    if source == "sample":
        notice = (f"These are the bundled sample prices, which end on {last.date()}: "
                  "not current prices.")
    elif attrs.get("stale"):
        notice = (f"Yahoo Finance could not be reached; these prices were fetched at "
                  f"{attrs.get('fetched_at')} and end on {last.date()}.")
    elif source == "yahoo" and age > STALE_AFTER_DAYS:
        notice = f"The latest price Yahoo Finance has is from {last.date()}, {age} days ago."
    # What reading the prices changed or left out (an upload cut to its latest rows, say).
    notes = ([notice] if notice else []) + list(attrs.get("notices", ()))
    return {"source": source, "source_label": SOURCE_LABELS.get(source, source),
            "fetched_at": attrs.get("fetched_at"),
            "first_date": frame.index[0].strftime("%Y-%m-%d"),
            "last_date": last.strftime("%Y-%m-%d"), "age_days": int(age),
            "stale": bool(attrs.get("stale")), "notice": " ".join(notes) or None,
            "notices": notes, "file_name": attrs.get("file_name")}


def summary(frame: pd.DataFrame, now: dt.datetime | None = None) -> dict:
    """The info card: name, source, date range, last close, day change, 52-week range."""
    validate(frame, min_rows=1)
    close = frame["close"]
    last_close = float(close.iloc[-1])
    previous = float(close.iloc[-2]) if len(close) > 1 else None
    year = frame.loc[frame.index[-1] - YEAR:]
    change = None if previous is None else last_close - previous
    return {"ticker": frame.attrs.get("ticker"), "name": frame.attrs.get("name"),
            "first_date": frame.index[0].strftime("%Y-%m-%d"), "rows": len(frame),
            "last_close": rounding.price(last_close),
            "change": None if change is None else rounding.price(change),
            "change_pct": None if change is None else round(100.0 * change / previous, 2),
            "low_52w": rounding.price(year["low"].min()),
            "high_52w": rounding.price(year["high"].max()),
            **freshness(frame, now)}


def history(frame: pd.DataFrame, start=None, end=None) -> list[dict]:
    """Daily prices from ``start`` (inclusive) to ``end`` (exclusive), oldest first, rounded."""
    if start is not None:
        frame = frame.loc[str(start):]
    if end is not None:
        frame = frame[frame.index < str(end)]
    columns = [rounding.prices(frame[c]) for c in ("open", "high", "low", "close")]
    return [{"date": day, "open": o, "high": h, "low": lo, "close": c,
             "volume": 0.0 if math.isnan(v) else v}
            for day, o, h, lo, c, v in zip(frame.index.strftime("%Y-%m-%d"), *columns,
                                           frame["volume"].tolist())]


def closes(frame: pd.DataFrame, until, count: int) -> list[dict]:
    """The last ``count`` closes on or before ``until``, as dated rows, oldest first."""
    end = int(frame.index.searchsorted(pd.Timestamp(until), side="right"))
    start = max(0, end - count)
    values = frame["close"].to_numpy()[start:end]
    return [{"date": d, "close": c} for d, c in
            zip(iso_days(frame.index.values[start:end]), rounding.prices(values))]

"""Seeded synthetic price series for tests and demos: a random walk with drift, a noisy sine."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .frame import finish
from .tickers import check_ticker

SYNTHETIC_KINDS = ("random_walk", "sine")


def synthetic(kind: str = "random_walk", n: int = 1000, seed: int = 0,
              start: str = "2010-01-04", drift: float = 0.0003, volatility: float = 0.015,
              ticker: str = "SYN") -> pd.DataFrame:
    """A seeded synthetic price series on business days: a random walk or a noisy sine."""
    if kind not in SYNTHETIC_KINDS:
        raise DataError(f"synthetic kind {kind!r} is not one of {', '.join(SYNTHETIC_KINDS)}")
    if n < 1 or volatility < 0:
        raise DataError(f"synthetic series need n >= 1 and volatility >= 0, "
                        f"got n={n}, volatility={volatility}")
    rng = np.random.default_rng(seed)
    if kind == "random_walk":
        close = 100.0 * np.exp(np.cumsum(rng.normal(drift, volatility, n)))
    else:
        # A 60-day cycle of +-20% around 100 keeps every price well above zero.
        cycle = 1.0 + 0.2 * np.sin(2.0 * np.pi * np.arange(n) / 60.0)
        close = 100.0 * cycle * np.exp(rng.normal(0.0, volatility, n))
    previous = np.concatenate(([close[0]], close[:-1]))
    open_ = previous * np.exp(rng.normal(0.0, volatility / 4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, volatility / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, volatility / 2, n)))
    volume = np.round(rng.lognormal(np.log(1e6), 0.3, n))
    index = pd.bdate_range(start, periods=n, name="date")
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                          "volume": volume}, index=index)
    return finish(frame, check_ticker(ticker), "synthetic", "equity")

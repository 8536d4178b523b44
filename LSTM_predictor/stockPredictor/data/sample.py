"""The bundled sample: real daily prices of five tickers to 2013-03-01, for offline use.

Quandl WIKI prices (public domain) from the bokeh-sampledata package's stocks.csv.gz. The file
keeps the source's raw Open/High/Low/Close and its Adj Close; reading adjusts all four by
Adj Close / Close, which takes out splits (AAPL's 2:1 in 2005) and dividends.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from ..errors import UnknownTickerError, excerpt
from .frame import COLUMNS, PRICES, finish
from .tickers import check_ticker

SAMPLE_TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
# Names as the companies were called when the sample ends (2013).
SAMPLE_NAMES = {"AAPL": "Apple Inc.", "FB": "Facebook, Inc.", "GOOG": "Google Inc.",
                "IBM": "International Business Machines Corporation",
                "MSFT": "Microsoft Corporation"}


@lru_cache(maxsize=1)
def _sample_frames() -> dict[str, pd.DataFrame]:
    path = resources.files(__package__) / "sample_data" / "prices.csv.gz"
    with path.open("rb") as handle:
        raw = pd.read_csv(handle, compression="gzip", parse_dates=["date"])
    ratio = raw["adj_close"] / raw["close"]
    for column in PRICES:
        raw[column] = raw[column] * ratio
    raw["volume"] = raw["volume"].astype("float64")
    return {ticker: rows.set_index("date")[list(COLUMNS)].astype("float64")
            for ticker, rows in raw.groupby("ticker")}


def from_sample(ticker: str) -> pd.DataFrame:
    """Bundled daily prices (to 2013-03-01) of one of SAMPLE_TICKERS.

    Read once per process and shared: its ``fetched_at`` is when this process read the file, so
    it does not change from one call to the next. Treat it as read-only (copy to change it).
    """
    ticker = check_ticker(ticker)
    if ticker not in SAMPLE_TICKERS:
        # A whole sentence (a capital, a full stop): callers add what to do about it.
        raise UnknownTickerError(f"Ticker {excerpt(ticker)} is not in the bundled sample, which "
                                 f"has {', '.join(SAMPLE_TICKERS)}.")
    return _finished_sample(ticker)


@lru_cache(maxsize=len(SAMPLE_TICKERS))
def _finished_sample(ticker: str) -> pd.DataFrame:
    frame = finish(_sample_frames()[ticker].copy(), ticker, "sample")
    frame.attrs["name"] = SAMPLE_NAMES[ticker]
    return frame

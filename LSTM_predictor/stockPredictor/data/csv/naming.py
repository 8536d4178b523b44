"""A ticker for an uploaded file that names none: from its file name, else its layout.

``msft_prices_2017.csv`` is MSFT; a Bitstamp dump is BTC-USD; any other name becomes its own
cleaned stem, so two uploads stay apart.
"""

from __future__ import annotations

import re

from ..tickers import is_ticker
from .layout import BITSTAMP
from .rawbytes import file_name


def ticker_from_name(source: object, layout: str) -> str:
    """A ticker for an upload, from its file name: ``msft_prices_2017.csv`` is MSFT."""
    stem = file_name(source) or ""
    for suffix in (".gz", ".csv", ".txt", ".tsv"):
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    found = _ticker_in_stem(stem)
    if found:
        return found
    if layout == BITSTAMP:  # Bitstamp's minute dumps are all BTC against the dollar
        return "BTC-USD"
    # The stem itself, so two uploads stay apart; "CSV" alone would say nothing about either.
    safe = re.sub(r"[^A-Za-z0-9.\-^=]", "", stem)[:15].upper()
    return safe if safe and safe != "CSV" else "UPLOAD"


# Words that file names carry beside a ticker; exchange codes as in "STOCK_US_XNAS_AAPL".
_NAME_WORDS = frozenset(
    "prices price daily weekly monthly hourly minute min data historical history stock stocks "
    "quotes quote export download close ohlc ohlcv yahoo finance nasdaq nyse us csv txt kaggle "
    "bitstamp to from and of all full adjusted adj xnas xnys xase arcx bats date dates time "
    "symbol symbols ticker tickers series file upload my new copy final".split())
_NAME_TOKEN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z.\-^=]{1,10}$")


def _ticker_in_stem(stem: str) -> str | None:
    """The whole stem if ticker-like, else the first ticker-like word in it; None if neither."""
    if is_ticker(stem) and _no_name_word(stem):
        return stem.upper()
    for word in re.split(r"[\s_,;()\[\]{}]+", stem):
        # "BRK-B" stays whole; "ibm-daily" is tried part by part.
        for token in (word, *word.split("-")):
            if _NAME_TOKEN.match(token) and _no_name_word(token):
                return token.upper()
    return None


def _no_name_word(text: str) -> bool:
    # Part by part, so "ibm-daily" is not taken whole for a ticker while "BTC-USD" is.
    return not any(part.lower() in _NAME_WORDS for part in re.split(r"[-.^=]", text))

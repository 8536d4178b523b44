"""What a ticker may be, and which tickers trade every day (crypto) rather than on exchange days."""

from __future__ import annotations

import re

from ..errors import DataError, excerpt

TICKER_MAX_CHARS = 15
# Anchored with ^...$ rather than \A...\Z so the same text works as an HTML and OpenAPI pattern.
TICKER_PATTERN = re.compile(rf"^[A-Za-z0-9.\-^=]{{1,{TICKER_MAX_CHARS}}}$")
TICKER_RULE = (f"1 to {TICKER_MAX_CHARS} letters, digits or . - ^ = (for example IBM, BRK-B, "
               f"^GSPC, BTC-USD)")

_CRYPTO_QUOTES = ("USD", "USDT", "USDC", "BUSD", "DAI", "EUR", "GBP", "JPY", "CAD", "AUD",
                  "BTC", "ETH")
_CRYPTO_PATTERN = re.compile(rf"^[A-Z0-9]{{2,10}}-(?:{'|'.join(_CRYPTO_QUOTES)})$")


def html_pattern() -> str:
    """TICKER_PATTERN as an HTML ``pattern`` attribute, which is anchored by the browser."""
    return TICKER_PATTERN.pattern[1:-1]


def is_ticker(text: object) -> bool:
    """True when ``text`` is a string that fits TICKER_PATTERN as it is."""
    return isinstance(text, str) and TICKER_PATTERN.match(text) is not None


def check_ticker(ticker: str) -> str:
    """The ticker stripped and upper-cased, or a DataError if it does not fit TICKER_PATTERN."""
    cleaned = ticker.strip() if isinstance(ticker, str) else ""
    if not TICKER_PATTERN.match(cleaned):
        raise DataError(f"ticker {excerpt(ticker)} is not valid: expected 1 to {TICKER_MAX_CHARS} "
                        f"letters, digits, '.', '-', '^' or '=' (pattern {TICKER_PATTERN.pattern})")
    return cleaned.upper()


def is_crypto(ticker: str) -> bool:
    """True for crypto pairs such as BTC-USD or ETH-USDT, which trade every day."""
    return bool(_CRYPTO_PATTERN.match(ticker.strip().upper()))

"""One exception hierarchy for the package.

Each child also inherits the built-in it resembles, so callers that already
catch ``ValueError`` or ``LookupError`` keep working.
"""


class StockPredictorError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(StockPredictorError, ValueError):
    """Prices that cannot be used: wrong columns, bad values, too few rows."""


class UnknownTickerError(StockPredictorError, LookupError):
    """A ticker that no source knows."""


class SourceUnavailableError(StockPredictorError, ConnectionError):
    """A price source that cannot be reached now (network down, rate limit)."""


class ArtifactError(StockPredictorError, OSError):
    """A model artifact that is missing, incomplete or fails its checksums."""


class NotTrainedError(StockPredictorError, RuntimeError):
    """A model used before it was trained, or no model for a request."""


EXCERPT_CHARS = 80  # the most of any input an error message quotes


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters: a message never echoes a whole input."""
    text = repr(value) if not isinstance(value, str) else repr(value[:limit + 1])
    return text if len(text) <= limit else text[:limit - 1] + "…"

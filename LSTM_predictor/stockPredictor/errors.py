"""One exception hierarchy for the package, and helpers for the messages it carries.

Each child also inherits the built-in it resembles, so callers that already
catch ``ValueError`` or ``LookupError`` keep working.
"""

import os
from pathlib import Path


class StockPredictorError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(StockPredictorError, ValueError):
    """Prices that cannot be used: wrong columns, bad values, too few rows.

    ``field`` names the request's field at fault when it is not the prices ("as_of"), so a
    form can show the message beside it; None otherwise.
    """

    def __init__(self, *args, field: str | None = None):
        super().__init__(*args)
        self.field = field


class UnknownTickerError(StockPredictorError, LookupError):
    """A ticker that no source knows."""


class UnknownUploadError(StockPredictorError, LookupError):
    """An upload id that the store does not hold (never stored, or purged)."""


class ExpiredUploadError(UnknownUploadError):
    """An upload id that was issued, whose file has since been removed (for space or time)."""


class SourceUnavailableError(StockPredictorError, ConnectionError):
    """A price source that cannot be reached now (network down, rate limit)."""


class ArtifactError(StockPredictorError, OSError):
    """A model artifact that is missing, incomplete or fails its checksums."""


class NotTrainedError(StockPredictorError, RuntimeError):
    """A model used before it was trained, or no model for a request."""


class DatabaseUnavailableError(StockPredictorError, ConnectionError):
    """The database is not configured or does not answer now: what it keeps cannot be read
    or written, while forecasts are still served without it."""


class SettingError(StockPredictorError, ValueError):
    """A setting from the environment (or a test's override) that cannot be used."""


class JobSettingError(DataError):
    """A training job's setting that cannot be used; ``field`` names it ("window", "ticker")."""

    def __init__(self, message: str, field: str):
        super().__init__(message, field=field)
        self.field: str = field


class QueueFullError(StockPredictorError):
    """The training queue holds as many jobs as it may: try again later."""


class ClientBusyError(StockPredictorError):
    """A client asked for a job while one of theirs is still queued or running."""


class UnknownJobError(StockPredictorError, LookupError):
    """A job token that names no job (never issued, malformed, or deleted)."""


class JobEndedError(StockPredictorError):
    """A job that ended (cancelled, failed as stale) while its worker was still at it."""


EXCERPT_CHARS = 80  # the most of any input an error message quotes


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters: a message never echoes a whole input."""
    text = repr(value) if not isinstance(value, str) else repr(value[:limit + 1])
    return text if len(text) <= limit else text[:limit - 1] + "…"


def without_folders(text: str, folders: dict) -> str:
    """``text`` with each folder (a path, or its resolved form) replaced by its given name.

    A path inside a folder loses the folder ("broken/scaler.pkl"); the folder alone becomes the
    name. Paths of one part ("models") are left alone: they would rewrite ordinary words.
    """
    named = {}
    for folder, name in folders.items():
        for form in (Path(folder), Path(folder).resolve()) if folder else ():
            if len(form.parts) > 1:
                named[str(form)] = name
    for folder in sorted(named, key=len, reverse=True):
        text = text.replace(folder + os.sep, "").replace(folder, named[folder])
    return text

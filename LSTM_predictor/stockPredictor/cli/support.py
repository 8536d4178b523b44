"""What the stock-predictor command needs besides its commands: argument types that refuse bad
values before any work starts, and failures turned into one sentence and an exit status.

Every argument type raises argparse.ArgumentTypeError with a sentence naming the value and the
form expected; argparse prints it with the usage and exits with status 2, before TensorFlow or
any price is loaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .. import settings
from ..data.frame import FIRST_DAY
from ..errors import DataError, StockPredictorError, excerpt
from ..model import artifacts

EXIT_ERROR = 1  # the person's input or the world (files, network) is at fault
EXIT_BUG = 70  # EX_SOFTWARE in sysexits.h: an internal error
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, what a shell reports when the reader left early
DEBUG_VARIABLE = "STOCK_PREDICTOR_DEBUG"

# The first day a date argument may name: the first a price file may hold, as the web API's
# schema has it.
EARLIEST_DAY = FIRST_DAY
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_SEED = 2 ** 32 - 1  # NumPy's seeds are 32-bit


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the sentence that says what was left behind."""


def plain(text: str | None) -> str:
    """A docstring as help text: reStructuredText's double backticks taken out."""
    return (text or "").replace("``", "")


def command(sub, name: str, func, summary: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose description is ``func``'s docstring, as plain text."""
    parser = sub.add_parser(name, help=summary, description=plain(func.__doc__), **kwargs)
    parser.set_defaults(func=func)
    return parser


def iso_day(text: str) -> str:
    """An argument type: a day written YYYY-MM-DD, from EARLIEST_DAY on; returned as given."""
    if not _ISO_DAY.match(text):
        raise argparse.ArgumentTypeError(
            f"{excerpt(text)} is not a date written YYYY-MM-DD, for example 2013-03-01 (other "
            f"forms are ambiguous: 01/02/2012 may be 1 February or 2 January)")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a day of the calendar; expected "
                                         f"YYYY-MM-DD") from None
    if day < EARLIEST_DAY:
        raise argparse.ArgumentTypeError(f"{text} is before {EARLIEST_DAY}; give a day from "
                                         f"{EARLIEST_DAY} on, written YYYY-MM-DD")
    return text


def past_day(text: str) -> str:
    """An argument type: a day written YYYY-MM-DD from EARLIEST_DAY to today, as the API has it."""
    day = dt.date.fromisoformat(iso_day(text))
    today = dt.date.today()  # the API's rule: Day(latest=dt.date.today)
    if day > today:
        raise argparse.ArgumentTypeError(
            f"{text} is in the future (today is {today}); a forecast is made from a day whose "
            f"prices are known: give a day from {EARLIEST_DAY} to today")
    return text


def setting(config_class: type, field: str, kind: type) -> Callable[[str], int | float]:
    """An argument type for ``config_class.field``: a ``kind`` the config's own checks accept.

    The bounds are the config's (config.py), so the command and the library refuse the same
    values with the same sentence.
    """
    def parse(text: str) -> int | float:
        value = number(text, kind, field)
        try:
            config_class(**{field: value})
        except DataError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    parse.__name__ = field  # argparse names a type by it in some messages
    return parse


def seed(text: str) -> int:
    """An argument type: a random seed, a whole number from 0 to MAX_SEED."""
    value = number(text, int, "seed")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed={value} must be a whole number from 0 to "
                                         f"{MAX_SEED}")
    return value


def number(text: str, kind: type, name: str) -> int | float:
    """``text`` read as an int or a float, or an ArgumentTypeError naming it."""
    try:
        return kind(text)
    except ValueError:
        form = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{name}={excerpt(text)} is not {form}") from None


def check_folder_for(path: Path, artifact: bool = False) -> None:
    """Refuse, before any work, an output path whose folder is missing or cannot be written.

    ``artifact``: ``path`` is an artifact folder to write (train): missing folders above it
    will be made, and a folder already there is replaced only if it is an artifact itself.
    """
    folder = path.parent
    if artifact:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.exists():
        raise StockPredictorError(f"cannot write {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise StockPredictorError(f"cannot write {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StockPredictorError(f"cannot write {path}: the folder {folder} is not writable")
    if not artifact and path.is_dir():
        raise StockPredictorError(f"cannot write {path}: it is a folder; name a file")
    if artifact and path.exists() and not path.is_dir():
        raise StockPredictorError(f"cannot write {path}: it is a file; name a folder")
    if artifact and path.is_dir() and any(path.iterdir()) \
            and not (path / artifacts.META_FILE).is_file():
        # Saving replaces the folder whole: anything else in it would be deleted.
        raise StockPredictorError(f"cannot write {path}: it is a folder that holds something "
                                  f"other than a model, which saving would replace; name a new "
                                  f"folder")


@contextmanager
def writing(path: Path):
    """Turn an OSError raised while writing ``path`` into one sentence naming it."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, (BrokenPipeError, StockPredictorError)):
            raise
        check_folder_for(path)  # the likeliest causes, in the person's words
        raise StockPredictorError(f"cannot write {path}: {reason(exc)}") from exc


_REASONS = {errno.ENOENT: "no such file or folder", errno.EISDIR: "it is a folder, not a file",
            errno.ENOTDIR: "part of the path is a file, not a folder",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
            errno.ENAMETOOLONG: "the name is too long"}


def reason(exc: OSError) -> str:
    """Why an OSError happened, in a few plain words."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    text = exc.strerror or ""
    return text[:1].lower() + text[1:] if text else "the operating system refused"


def os_error(exc: OSError) -> str:
    """An OSError that reached the top, as one sentence naming the file it concerns."""
    if exc.filename:
        return f"cannot use {exc.filename}: {reason(exc)}"
    if exc.errno is not None:
        return f"a file or connection failed: {reason(exc)}"
    return "a file or connection failed"


def fail(message: str, status: int = EXIT_ERROR) -> int:
    """Print ``error: message`` on stderr, one line, and return ``status``."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return status


def closed_pipe() -> int:
    """The reader of stdout went away (``| head``): leave quietly, as Python's docs advise.

    stdout is pointed at /dev/null so that the interpreter's last flush does not fail again
    with "Exception ignored ... BrokenPipeError" (see the signal module's note on SIGPIPE).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is no real file (tests capture it)
        pass
    return EXIT_CLOSED_PIPE


def debugging() -> bool:
    """True when STOCK_PREDICTOR_DEBUG=1: unexpected errors keep their traceback."""
    return settings.current().traceback


def bug(exc: BaseException) -> int:
    """An exception nobody expected: its type, a request to report it, and EXIT_BUG."""
    return fail(f"unexpected {type(exc).__name__}; this is a bug; please report it (run again "
                f"with {DEBUG_VARIABLE}=1 to see where it happened)", EXIT_BUG)

"""The stock-predictor command: fetch prices, train, predict, evaluate, list models, migrate.

One module per command group; ``build_parser`` puts their subcommands together and ``main``
runs one, turning every failure into one sentence and an exit status.
"""

from __future__ import annotations

import argparse
import sys

from .. import settings
from ..errors import StockPredictorError
from . import data, db, evaluate, forecast, train, worker
from .support import (EXIT_INTERRUPTED, Interrupted, bug, closed_pipe, debugging, fail,
                      os_error, plain)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands, one module per group."""
    parser = argparse.ArgumentParser(prog="stock-predictor", description=plain(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, train, forecast, evaluate, db, worker):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: any failure is one sentence on stderr, never a
    traceback (unless STOCK_PREDICTOR_DEBUG=1 asks for one where the failure is a bug)."""
    settings.reset()  # each run reads the environment once, as it starts
    try:
        args = build_parser().parse_args(argv)
        try:
            return args.func(args)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at exit
    except StockPredictorError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        return closed_pipe()
    except KeyboardInterrupt as exc:
        return fail(str(exc) if isinstance(exc, Interrupted) else "interrupted",
                    EXIT_INTERRUPTED)
    except Exception as exc:
        if debugging():
            raise
        if isinstance(exc, OSError):
            return fail(os_error(exc))
        if isinstance(exc, MemoryError):
            return fail("out of memory; try fewer or shorter price series, or smaller settings")
        return bug(exc)

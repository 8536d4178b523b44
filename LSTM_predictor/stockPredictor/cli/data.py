"""The prices every command reads (--ticker, --csv, --source), and the fetch command."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..data import csv, sources
from ..errors import DataError
from ..rounding import price_text
from ..settings import SOURCES
from .support import check_folder_for, command, writing

# Numbers written to CSV files: 9 significant digits keep a coin at 0.00002 and a price's cents.
CSV_FLOATS = "%.9g"


def add_data_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """--ticker or --csv (repeatable when ``many``), and --source."""
    group = parser.add_mutually_exclusive_group(required=True)
    action = "append" if many else "store"
    group.add_argument("--ticker", action=action, help="ticker symbol, e.g. IBM"
                       + (" (repeat for several)" if many else ""))
    group.add_argument("--csv", action=action, type=Path, metavar="FILE",
                       help="a CSV file of daily prices: a date column and a close or price "
                       "column" + (" (repeat for several)" if many else ""))
    parser.add_argument("--source", choices=SOURCES, default=None,
                        help="where --ticker prices come from (default: $PRICE_SOURCE or auto: "
                        "Yahoo, then the bundled 2013 sample)")


def frames(args, notes: bool = True) -> dict[str, pd.DataFrame]:
    """The prices the arguments name, by ticker; ``notes`` prints what reading them fixed."""
    if args.csv:
        paths = args.csv if isinstance(args.csv, list) else [args.csv]
        # A local file is read whole: the day bound is the web upload's cost bound, and a cut
        # here would fall before --start/--end and drop the days they ask for.
        loaded = [csv.read_csv(p, whole=True) for p in paths]
    else:
        tickers = args.ticker if isinstance(args.ticker, list) else [args.ticker]
        # yfinance may print; stdout is for the command's own output (one JSON document).
        with contextlib.redirect_stdout(io.StringIO()):
            loaded = [sources.load(t, args.source) for t in tickers]
    tickers = [f.attrs["ticker"] for f in loaded]
    repeated = sorted({t for t in tickers if tickers.count(t) > 1})
    if repeated:
        raise DataError(f"ticker {repeated[0]!r} is given more than once; each ticker's prices "
                        f"may be used once (name CSV files after their ticker)")
    if notes:
        note(data_notices(loaded))
    return dict(zip(tickers, loaded))


def data_notices(loaded: list[pd.DataFrame]) -> list[str]:
    """What reading each frame fixed or cut, named by ticker when there are several."""
    many = len(loaded) > 1
    return [f"{f.attrs['ticker']}: {n}" if many else n
            for f in loaded for n in f.attrs.get("notices") or ()]


def note(notices: Iterable[str]) -> None:
    """Each notice on stderr, so that stdout stays the table, CSV or JSON a script reads."""
    for notice in notices:
        print(f"note: {notice}", file=sys.stderr)


def cmd_fetch(args) -> int:
    """Load prices and print where they came from; write them as CSV with --out."""
    if args.out:
        check_folder_for(args.out)
    frame = next(iter(frames(args).values()))
    print(f"{frame.attrs['ticker']}: {len(frame)} days from {frame.index[0].date()} to "
          f"{frame.index[-1].date()}, last close {price_text(frame['close'].iloc[-1])} "
          f"(source: {frame.attrs['source']})")
    if args.out:
        out = frame.rename(columns=str.title).rename_axis("Date")
        with writing(args.out):
            out.to_csv(args.out, float_format=CSV_FLOATS)
        print(f"wrote {args.out}")
    return 0


def register(sub) -> None:
    """The fetch command."""
    fetch = command(sub, "fetch", cmd_fetch, "load prices and save them as CSV")
    add_data_args(fetch)
    fetch.add_argument("--out", type=Path, help="CSV file to write")

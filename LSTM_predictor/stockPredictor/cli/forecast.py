"""The predict and list-models commands, and the model arguments the forecasting commands share.

``predict --format json`` prints the forecast report's document (forecast/report.py), the very
document the web API answers with for the same prices, model, horizon, date and level.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import StockPredictorError
from ..forecast import report
from ..forecast.bands import DEFAULT_LEVEL, LEVELS, level_list
from ..forecast.predict import DEFAULT_HORIZON
from ..model.config import MAX_HORIZON
from ..model.registry import Registry, default_models_dir
from ..rounding import price_text
from .data import add_data_args, frames, note
from .support import command, past_day


def model_for(registry: Registry, args, ticker: str):
    """The model --model names, else the ticker's own, else the general one."""
    return registry.get(args.model) if args.model else registry.model_for(ticker)


def registry_of(args) -> Registry:
    """The models of --models (default: the MODELS_DIR setting), loaded."""
    if args.models is not None and not Path(args.models).is_dir():
        raise StockPredictorError(f"the models folder {args.models} does not exist")
    return Registry(args.models).load()


def cmd_predict(args) -> int:
    """Forecast the next trading days for a ticker or a CSV."""
    frame = next(iter(frames(args, notes=False).values()))
    model = model_for(registry_of(args), args, frame.attrs["ticker"])
    answer = report.build(frame, model, horizon=args.horizon, as_of=args.as_of,
                          level=args.level)
    if args.format == "json":  # the notices are part of the document
        print(json.dumps(answer.to_dict(), indent=2))
        return 0
    note(answer.notices)
    if args.format == "csv":
        sys.stdout.write(answer.to_csv())
        return 0
    result = answer.forecast
    print(f"{result.ticker}: last close {price_text(result.last_close)} on "
          f"{result.as_of.date()} (source: {result.source}); model {result.model}")
    banded = result.level is not None
    if banded:
        print(f"  {'date':<10}  {'close':>10}  {'change':>7}  {result.level:.0%} band")
    for i, (date, close) in enumerate(zip(result.dates, result.closes)):
        change = close / result.last_close - 1
        band = ("" if not banded else f"  {'(none: too little history)':>10}"
                if np.isnan(result.lows[i]) else
                f"  {price_text(result.lows[i]):>10} to {price_text(result.highs[i])}")
        print(f"  {date.date()}  {price_text(close):>10}  {change:+7.2%}{band}")
    if not banded:
        print("  (no band: too little history before the forecast date to calibrate one)")
    # The same plain sentences as the page's; then, as the page's details do, the record's
    # verdict with its statistics.
    print("\n".join(filter(None, answer.to_dict()["summary"].values())))
    print("In detail: " + (answer.record.get("verdict")
                           or f"no track record: {answer.record['reason']}"))
    return 0


def cmd_list_models(args) -> int:
    """List the artifacts in a models folder, and the ones that failed to load."""
    registry = registry_of(args)
    rows = [a.summary() for a in registry.artifacts.values()]
    if args.format == "json":
        print(json.dumps({"models": rows, "skipped": registry.skipped}, indent=2))
        return 0
    if not rows:
        print(f"no models in {registry.models_dir}")
    for row in rows:
        print(f"{row['name']:<16} {row['scope']:<8} {row['arch']:<10} {row['target']:<11} "
              f"window {row['window']:<4} {','.join(row['tickers'])} "
              f"trained {row['trained_from']}..{row['trained_to']} (data to {row['data_to']})")
    for name, reason in registry.skipped.items():
        print(f"{name:<16} SKIPPED: {reason}")
    return 0


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """--level, --model and --models."""
    parser.add_argument("--level", type=float, choices=LEVELS, default=DEFAULT_LEVEL,
                        help=f"band coverage: {level_list()} (default {DEFAULT_LEVEL})")
    parser.add_argument("--model", help="model name (default: the ticker's own, else general)")
    parser.add_argument("--models", type=Path, default=None,
                        help=f"models folder, or one artifact folder, which then serves every "
                        f"ticker (default: $MODELS_DIR or {default_models_dir()})")


def register(sub) -> None:
    """The predict and list-models commands."""
    predict = command(sub, "predict", cmd_predict, "forecast the next trading days")
    add_data_args(predict)
    predict.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                         help=f"trading days to forecast, 1 to {MAX_HORIZON} "
                         f"(default {DEFAULT_HORIZON})")
    predict.add_argument("--as-of", type=past_day, metavar="YYYY-MM-DD",
                         help="forecast from this day, using prices up to it only; a day after "
                         "the last price is moved to it, with a note (default: the last price)")
    add_model_args(predict)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table",
                         help="output on stdout; notes go to stderr, or into the JSON "
                         "(default: table)")

    models = command(sub, "list-models", cmd_list_models, "list the trained models")
    models.add_argument("--models", type=Path, default=None,
                        help=f"models folder, or one artifact folder (default: $MODELS_DIR "
                        f"or {default_models_dir()})")
    models.add_argument("--format", choices=("table", "json"), default="table",
                        help="output on stdout (default: table)")

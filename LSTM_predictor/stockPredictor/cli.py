"""The stock-predictor command: fetch prices, train, predict, evaluate, list models."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterable

import pandas as pd

from . import artifacts, evaluate, prices, rounding
from .bands import DEFAULT_LEVEL, LEVELS
from .cli_support import (EXIT_INTERRUPTED, Interrupted, bug, check_folder_for, closed_pipe,
                          debugging, fail, iso_day, os_error, past_day, plain, seed, setting,
                          writing)
from .config import ARCHITECTURES, MAX_HORIZON, TARGETS, ModelConfig, TrainConfig
from .errors import DataError, SourceUnavailableError, StockPredictorError
from .predict import DEFAULT_HORIZON, forecast
from .preload import Registry, default_models_dir
from .rounding import price_text

SOURCES = ("auto", "yahoo", "sample")
# Numbers written to CSV files: 9 significant digits keep a coin at 0.00002 and a price's cents.
CSV_FLOATS = "%.9g"
MAX_RETENTION_DAYS = 36_500  # db purge-uploads --days: a century is the longest that means anything


def _add_data_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
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


def _frames(args, notes: bool = True) -> dict[str, pd.DataFrame]:
    # ``notes``: print each frame's notices (what reading a CSV fixed or cut) on stderr.
    if args.csv:
        paths = args.csv if isinstance(args.csv, list) else [args.csv]
        frames = [prices.read_csv(p) for p in paths]
    else:
        tickers = args.ticker if isinstance(args.ticker, list) else [args.ticker]
        # yfinance may print; stdout is for the command's own output (one JSON document).
        with contextlib.redirect_stdout(io.StringIO()):
            frames = [prices.load(t, args.source) for t in tickers]
    tickers = [f.attrs["ticker"] for f in frames]
    repeated = sorted({t for t in tickers if tickers.count(t) > 1})
    if repeated:
        raise DataError(f"ticker {repeated[0]!r} is given more than once; each ticker's prices "
                        f"may be used once (name CSV files after their ticker)")
    if notes:
        _note(_data_notices(frames))
    return dict(zip(tickers, frames))


def _data_notices(frames: list[pd.DataFrame]) -> list[str]:
    many = len(frames) > 1
    return [f"{f.attrs['ticker']}: {n}" if many else n
            for f in frames for n in f.attrs.get("notices") or ()]


def _note(notices: Iterable[str]) -> None:
    # stderr, so that stdout stays the table, CSV or JSON document a script reads.
    for notice in notices:
        print(f"note: {notice}", file=sys.stderr)


def cmd_fetch(args) -> int:
    """Load prices and print where they came from; write them as CSV with --out."""
    if args.out:
        check_folder_for(args.out)
    frame = next(iter(_frames(args).values()))
    print(f"{frame.attrs['ticker']}: {len(frame)} days from {frame.index[0].date()} to "
          f"{frame.index[-1].date()}, last close {price_text(frame['close'].iloc[-1])} "
          f"(source: {frame.attrs['source']})")
    if args.out:
        out = frame.rename(columns=str.title).rename_axis("Date")
        with writing(args.out):
            out.to_csv(args.out, float_format=CSV_FLOATS)
        print(f"wrote {args.out}")
    return 0


def cmd_train(args) -> int:
    """Train a model on the prices given and save it as an artifact folder; end with how it
    did against the naive forecast on its held-out test period."""
    check_folder_for(args.out, artifact=True)
    model_config = ModelConfig(arch=args.arch, target=args.target, window=args.window,
                               units=args.units, layers=args.layers, dropout=args.dropout)
    train_config = TrainConfig(learning_rate=args.learning_rate, batch_size=args.batch_size,
                               epochs=args.epochs, patience=args.patience, seed=args.seed)
    started = time.time()
    try:
        frames = _frames(args)
        from . import train  # Keras is loaded only for training, and only now

        model = train.fit(frames, model_config, train_config, args.out, scope=args.scope,
                          report=lambda line: print(line, flush=True))
        print(train.held_out_summary(model, frames))
    except KeyboardInterrupt:
        # artifacts.save renames a finished temporary folder into place, or removes it.
        meta = args.out / artifacts.META_FILE
        if meta.is_file() and meta.stat().st_mtime >= started:
            raise Interrupted(f"interrupted after the model was saved to {args.out}") from None
        raise Interrupted("training interrupted; no model was saved") from None
    return 0


def cmd_fit_policy(args) -> int:
    """Fit an existing model's point policy on its validation split and record it."""
    from . import policy

    model = artifacts.load(args.model)
    data = model.metadata.get("data") or {}
    if args.ticker or args.csv:
        frames = _frames(args)
    else:
        frames = {t: prices.load(t, args.source or (data.get(t) or {}).get("source") or None)
                  for t in model.tickers}
    unknown = sorted(set(frames) - set(data))
    if unknown:
        raise DataError(f"model {model.name!r} was not trained on {', '.join(unknown)}; its "
                        f"policy is fitted on the validation splits of {', '.join(data)}")
    entry = policy.fit(model, frames)
    print(policy.describe(entry))
    artifacts.update_metadata(args.model, policy=entry)
    print(f"wrote {Path(args.model) / artifacts.META_FILE}")
    return 0


def _model(registry: Registry, args, ticker: str):
    return registry.get(args.model) if args.model else registry.model_for(ticker)


def _registry(args) -> Registry:
    if args.models is not None and not Path(args.models).is_dir():
        raise StockPredictorError(f"the models folder {args.models} does not exist")
    return Registry(args.models).load()


def cmd_predict(args) -> int:
    """Forecast the next trading days for a ticker or a CSV."""
    frame = next(iter(_frames(args, notes=False).values()))
    model = _model(_registry(args), args, frame.attrs["ticker"])
    result = forecast(frame, model, horizon=args.horizon, as_of=args.as_of, level=args.level)
    notices = [*_data_notices([frame]), *result.notices]
    if args.format == "json":  # the notices are part of the document
        print(json.dumps(dict(result.to_dict(), notices=notices), indent=2))
        return 0
    _note(notices)
    if args.format == "csv":
        table = result.to_frame().rename_axis("date")
        table = table.apply(rounding.prices, result_type="broadcast")
        table.to_csv(sys.stdout, date_format="%Y-%m-%d")
    else:
        print(f"{result.ticker}: last close {price_text(result.last_close)} on "
              f"{result.as_of.date()} "
              f"(source: {result.source}); model {result.model}")
        banded = result.level is not None
        if banded:
            print(f"  {'date':<10}  {'close':>10}  {'change':>7}  {result.level:.0%} band")
        for i, (date, close) in enumerate(zip(result.dates, result.closes)):
            change = close / result.last_close - 1
            band = (f"  {price_text(result.lows[i]):>10} to {price_text(result.highs[i])}"
                    if banded else "")
            print(f"  {date.date()}  {price_text(close):>10}  {change:+7.2%}{band}")
        if args.level is not None and not banded:
            print("  (no band: too little history before the forecast date to calibrate one)")
    return 0


def cmd_evaluate(args) -> int:
    """Walk-forward backtest of a model against the naive, drift and moving-average baselines."""
    frames = _frames(args)
    if len(frames) > 1 and (args.out or args.plot):
        raise DataError("--out and --plot take one ticker or CSV; give several only for the "
                        "pooled table or --record")
    for path in (args.out, args.plot):
        if path:
            check_folder_for(path)
    registry = _registry(args)
    models = {t: _model(registry, args, t) for t in frames}
    names = {t: m.name for t, m in models.items()}
    if args.record and len(set(names.values())) > 1:
        raise DataError(f"--record needs one model, but these tickers use several ("
                        f"{', '.join(f'{t}: {n}' for t, n in names.items())}); "
                        f"name it with --model")
    results = [evaluate.backtest(frame, models[t], horizon=args.horizon, start=args.start,
                                 end=args.end, stride=args.stride, level=args.level)
               for t, frame in frames.items()]
    written = []
    if args.out:
        with writing(args.out):
            results[0].to_frame().to_csv(args.out, index=False, float_format=CSV_FLOATS,
                                         date_format="%Y-%m-%d")
        written.append(args.out)
    if args.plot:
        with writing(args.plot):
            evaluate.plot(results[0], args.plot)
        written.append(args.plot)
    pooled = evaluate.summary(results) if len(results) > 1 or args.record else None
    if args.record:
        model = models[results[0].ticker]
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        artifacts.update_metadata(model.path, backtest=dict(pooled, created_at=created))
        written.append(model.path / artifacts.META_FILE)
    if args.format == "json":
        document = (results[0].to_dict() if len(results) == 1 else
                    {"backtests": [r.to_dict() for r in results], "pooled": pooled})
        print(json.dumps(document, indent=2))
    else:
        print("\n\n".join(evaluate.table(r) for r in results))
        if len(results) > 1:
            print("\n" + _pooled_table(pooled))
    for path in written:  # stderr for JSON, so stdout stays one JSON document
        print(f"wrote {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    return 0


def _pooled_table(pooled: dict) -> str:
    steps = sorted({1, 5, 10, 20, pooled["horizon"]} & set(range(1, pooled["horizon"] + 1)))
    rows = {pooled["model"]: pooled, **pooled["baselines"]}
    width = max(len(name) for name in rows)
    lines = [f"pooled over {', '.join(pooled['tickers'])} ({pooled['origins']} origins), "
             f"each ticker weighing the same",
             f"{'step':>4}  {'method':<{width}}  {'MAE/naive':>9}  {'direction':>9}  "
             f"{'coverage':>8}"]
    for step in steps:
        for i, (name, row) in enumerate(rows.items()):
            cells = [row[m][step - 1] for m in evaluate.SUMMARY_METRICS]
            ratio, *shares = ["-" if v is None else v for v in cells]
            ratio = ratio if ratio == "-" else f"{ratio:.3f}"
            shares = [v if v == "-" else f"{v:.1%}" for v in shares]
            lines.append(f"{step if i == 0 else '':>4}  {name:<{width}}  {ratio:>9}  "
                         f"{shares[0]:>9}  {shares[1]:>8}")
    return "\n".join(lines)


def cmd_list_models(args) -> int:
    """List the artifacts in a models folder, and the ones that failed to load."""
    registry = _registry(args)
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


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--level", type=float, choices=LEVELS, default=DEFAULT_LEVEL,
                        help=f"band coverage: {', '.join(map(str, LEVELS[:-1]))} or "
                        f"{LEVELS[-1]} (default {DEFAULT_LEVEL})")
    parser.add_argument("--model", help="model name (default: the ticker's own, else general)")
    parser.add_argument("--models", type=Path, default=None,
                        help=f"models folder, or one artifact folder, which then serves every "
                        f"ticker (default: $MODELS_DIR or {default_models_dir()})")


def _command(sub, name: str, func, summary: str, **kwargs) -> argparse.ArgumentParser:
    # The description is the command's docstring, as plain text.
    parser = sub.add_parser(name, help=summary, description=plain(func.__doc__), **kwargs)
    parser.set_defaults(func=func)
    return parser


def _add_train_args(train: argparse.ArgumentParser) -> None:
    m, t = ModelConfig(), TrainConfig()
    train.add_argument("--arch", choices=ARCHITECTURES, default=m.arch,
                       help="network: lstm (stacked LSTM layers) or attention (an LSTM with "
                       "attention over its window) (default: %(default)s)")
    train.add_argument("--target", choices=TARGETS, default=m.target,
                       help="what it learns: log_return (scale-free, for any ticker) or minmax "
                       "(closes scaled to [0, 1], the original per-ticker recipe) "
                       "(default: %(default)s)")
    options = (
        ("--window", ModelConfig, "window", int, "trading days of prices each forecast reads"),
        ("--units", ModelConfig, "units", int, "units in each LSTM layer"),
        ("--layers", ModelConfig, "layers", int, "stacked LSTM layers"),
        ("--dropout", ModelConfig, "dropout", float,
         "share of units dropped at random while training, 0 to below 1"),
        ("--learning-rate", TrainConfig, "learning_rate", float,
         "Adam's step size, above 0 and below 1"),
        ("--batch-size", TrainConfig, "batch_size", int, "windows per gradient step"),
        ("--epochs", TrainConfig, "epochs", int, "most passes over the training windows"),
        ("--patience", TrainConfig, "patience", int,
         "epochs without a better validation loss before training stops early, 0 or more"),
    )
    for flag, config, field, kind, meaning in options:
        train.add_argument(flag, type=setting(config, field, kind),
                           default=getattr(m if config is ModelConfig else t, field),
                           metavar=kind.__name__.upper(),
                           help=f"{meaning} (default: %(default)s)")
    train.add_argument("--seed", type=seed, default=t.seed, metavar="INT",
                       help="random seed: the same seed and data give the same model "
                       "(default: %(default)s)")
    train.add_argument("--scope", choices=("general", "ticker"),
                       help="what the model serves: its one ticker, or any ticker as a general "
                       "model (default: ticker for one ticker, general for several)")
    train.add_argument("--out", type=Path, required=True, metavar="FOLDER",
                       help="artifact folder to write; an artifact already there is replaced "
                       "only once the new one is complete")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its seven subcommands."""
    parser = argparse.ArgumentParser(prog="stock-predictor", description=plain(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = _command(sub, "fetch", cmd_fetch, "load prices and save them as CSV")
    _add_data_args(fetch)
    fetch.add_argument("--out", type=Path, help="CSV file to write")

    t = TrainConfig()
    trained = 1 - t.val_fraction - t.test_fraction
    train = _command(sub, "train", cmd_train, "train an LSTM and save it as an artifact",
                     epilog=f"The prices are split by time: the first {trained:.0%} to train "
                     f"on, the next {t.val_fraction:.0%} to validate (early stopping, the point "
                     f"policy), the last {t.test_fraction:.0%} held out to test.")
    _add_data_args(train, many=True)
    _add_train_args(train)

    predict = _command(sub, "predict", cmd_predict, "forecast the next trading days")
    _add_data_args(predict)
    predict.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                         help=f"trading days to forecast, 1 to {MAX_HORIZON} "
                         f"(default {DEFAULT_HORIZON})")
    predict.add_argument("--as-of", type=past_day, metavar="YYYY-MM-DD",
                         help="forecast from this day, using prices up to it only; a day after "
                         "the last price is moved to it, with a note (default: the last price)")
    _add_model_args(predict)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table",
                         help="output on stdout; notes go to stderr, or into the JSON "
                         "(default: table)")

    backtest = _command(sub, "evaluate", cmd_evaluate,
                        "walk-forward backtest against baselines")
    _add_data_args(backtest, many=True)
    backtest.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                          help=f"trading days each origin forecasts, 1 to {MAX_HORIZON} "
                          f"(default {DEFAULT_HORIZON})")
    backtest.add_argument("--start", type=iso_day, metavar="YYYY-MM-DD",
                          help="first origin date (default: the day after the model's "
                          "training data)")
    backtest.add_argument("--end", type=iso_day, metavar="YYYY-MM-DD",
                          help="last date whose price is used (default: the last)")
    backtest.add_argument("--stride", type=int, default=1,
                          help="trading days between origins (default 1: every day)")
    _add_model_args(backtest)
    backtest.add_argument("--format", choices=("table", "json"), default="table",
                          help="output on stdout (default: table)")
    backtest.add_argument("--plot", type=Path,
                          help="PNG file to draw: the forecasts one day ahead, error relative "
                          "to naive by step, and band coverage by step")
    backtest.add_argument("--out", type=Path,
                          help="CSV file to write every forecast against its actual value")
    backtest.add_argument("--record", action="store_true",
                          help="write the metrics, pooled over the tickers given, into the "
                          "model's model.json as its \"backtest\" entry")

    fit_policy = _command(sub, "fit-policy", cmd_fit_policy,
                          "fit a trained model's point policy on its validation split")
    fit_policy.add_argument("--model", type=Path, required=True, help="artifact folder")
    data = fit_policy.add_mutually_exclusive_group()
    data.add_argument("--ticker", action="append",
                      help="a ticker it was trained on (default: all of them)")
    data.add_argument("--csv", action="append", type=Path,
                      help="the CSV it was trained on (repeatable)")
    fit_policy.add_argument("--source", choices=SOURCES, default=None,
                            help="where ticker prices come from (default: the source each "
                            "was trained from, as model.json records)")

    db = _command(sub, "db", cmd_db, "create or migrate the database")
    db.add_argument("action", choices=("upgrade", "purge-uploads"),
                    help="upgrade: run every migration not yet applied (an empty database "
                    "gets every table); purge-uploads: delete the uploads nobody viewed in "
                    "--days days (for Heroku's scheduler)")
    db.add_argument("--days", type=int, default=90,
                    help="purge-uploads: days without a visit before an upload goes "
                    "(default: %(default)s)")
    db.add_argument("--url", default=None,
                    help="database URL (default: $DATABASE_URL, else a SQLite file in "
                    "--instance)")
    db.add_argument("--instance", type=Path, default=None,
                    help="folder of the default SQLite file (default: $INSTANCE_PATH, else "
                    "./instance, the web app's instance folder when run from the repository)")

    models = _command(sub, "list-models", cmd_list_models, "list the trained models")
    models.add_argument("--models", type=Path, default=None,
                        help=f"models folder, or one artifact folder (default: $MODELS_DIR "
                        f"or {default_models_dir()})")
    models.add_argument("--format", choices=("table", "json"), default="table",
                        help="output on stdout (default: table)")
    return parser


def cmd_db(args) -> int:
    """Migrate the database (Heroku's release phase), or purge the uploads nobody viewed."""
    from . import store  # SQLAlchemy and Alembic are loaded for this command only

    from sqlalchemy.exc import SQLAlchemyError

    folder = args.instance or Path(os.environ.get("INSTANCE_PATH") or "instance")
    url = store.database_url(args.url, folder)
    if args.action == "purge-uploads" and not 1 <= args.days <= MAX_RETENTION_DAYS:
        raise DataError(f"--days {args.days} must be from 1 to {MAX_RETENTION_DAYS:,}")
    try:
        store.upgrade(url)
        if args.action == "purge-uploads":
            from .store import uploads

            engine = store.engine_for(url)
            try:
                gone = uploads.purge(engine, days=args.days)
            finally:
                engine.dispose()
            print(f"removed {gone:,} upload(s) not viewed in {args.days} days")
            return 0
    except SQLAlchemyError as exc:  # down, refused, or not a database we can migrate
        raise SourceUnavailableError(f"the database at {store.display_url(url)} could not be "
                                     f"used: {store.db.reason(exc)}") from None
    print(f"database at {store.display_url(url)} is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: any failure is one sentence on stderr, never a
    traceback (unless STOCK_PREDICTOR_DEBUG=1 asks for one where the failure is a bug)."""
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


if __name__ == "__main__":
    sys.exit(main())

"""The ``stock-predictor`` command: fetch prices, train, predict, evaluate, list models."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd

from . import artifacts, evaluate, prices
from .bands import DEFAULT_LEVEL, LEVELS
from .config import ARCHITECTURES, MAX_HORIZON, TARGETS, ModelConfig, TrainConfig
from .errors import DataError, StockPredictorError
from .predict import DEFAULT_HORIZON, forecast
from .preload import Registry, default_models_dir

SOURCES = ("auto", "yahoo", "sample")


def _add_data_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    action = "append" if many else "store"
    group.add_argument("--ticker", action=action, help="ticker symbol, e.g. IBM"
                       + (" (repeat for several)" if many else ""))
    group.add_argument("--csv", action=action, type=Path,
                       help="a CSV of daily prices (Yahoo export, Kaggle or Bitstamp layout)"
                       + (" (repeatable)" if many else ""))
    parser.add_argument("--source", choices=SOURCES, default=None,
                        help="where --ticker prices come from (default: $PRICE_SOURCE or auto: "
                        "Yahoo, then the bundled 2013 sample)")


def _frames(args) -> dict[str, pd.DataFrame]:
    if args.csv:
        paths = args.csv if isinstance(args.csv, list) else [args.csv]
        frames = [prices.read_csv(p) for p in paths]
    else:
        tickers = args.ticker if isinstance(args.ticker, list) else [args.ticker]
        frames = [prices.load(t, args.source) for t in tickers]
    tickers = [f.attrs["ticker"] for f in frames]
    repeated = sorted({t for t in tickers if tickers.count(t) > 1})
    if repeated:
        raise DataError(f"ticker {repeated[0]!r} is given more than once; each ticker's prices "
                        f"may be used once (name CSV files after their ticker)")
    return dict(zip(tickers, frames))


def cmd_fetch(args) -> int:
    """Load prices and print where they came from; write them as CSV with --out."""
    frame = next(iter(_frames(args).values()))
    print(f"{frame.attrs['ticker']}: {len(frame)} days from {frame.index[0].date()} to "
          f"{frame.index[-1].date()}, last close {frame['close'].iloc[-1]:.2f} "
          f"(source: {frame.attrs['source']})")
    if args.out:
        out = frame.rename(columns=str.title).rename_axis("Date")
        out.to_csv(args.out, float_format="%.6f")
        print(f"wrote {args.out}")
    return 0


def cmd_train(args) -> int:
    """Train a model and save it as an artifact folder."""
    from .train import fit  # Keras is loaded only for training

    model_config = ModelConfig(arch=args.arch, target=args.target, window=args.window,
                               units=args.units, layers=args.layers, dropout=args.dropout)
    train_config = TrainConfig(learning_rate=args.learning_rate, batch_size=args.batch_size,
                               epochs=args.epochs, patience=args.patience, seed=args.seed)
    fit(_frames(args), model_config, train_config, args.out, scope=args.scope,
        report=lambda line: print(line, flush=True))
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


def cmd_predict(args) -> int:
    """Forecast the next trading days for a ticker or a CSV."""
    frame = next(iter(_frames(args).values()))
    model = _model(Registry(args.models).load(), args, frame.attrs["ticker"])
    result = forecast(frame, model, horizon=args.horizon, as_of=args.as_of, level=args.level)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    elif args.format == "csv":
        result.to_frame().rename_axis("date").to_csv(sys.stdout, float_format="%.4f")
    else:
        print(f"{result.ticker}: last close {result.last_close:.2f} on {result.as_of.date()} "
              f"(source: {result.source}); model {result.model}")
        banded = result.level is not None
        if banded:
            print(f"  {'date':<10}  {'close':>10}  {'change':>7}  {result.level:.0%} band")
        for i, (date, close) in enumerate(zip(result.dates, result.closes)):
            change = close / result.last_close - 1
            band = f"  {result.lows[i]:10.2f} to {result.highs[i]:.2f}" if banded else ""
            print(f"  {date.date()}  {close:10.2f}  {change:+7.2%}{band}")
        if args.level is not None and not banded:
            print("  (no band: too little history before the forecast date to calibrate one)")
    return 0


def cmd_evaluate(args) -> int:
    """Walk-forward backtest of a model against the naive, drift and moving-average baselines."""
    frames = _frames(args)
    if len(frames) > 1 and (args.out or args.plot):
        raise DataError("--out and --plot take one ticker or CSV; give several only for the "
                        "pooled table or --record")
    registry = Registry(args.models).load()
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
    try:
        if args.out:
            results[0].to_frame().to_csv(args.out, index=False, float_format="%.4f",
                                         date_format="%Y-%m-%d")
            written.append(args.out)
        if args.plot:
            evaluate.plot(results[0], args.plot)
            written.append(args.plot)
    except OSError as exc:
        raise StockPredictorError(f"cannot write {exc.filename or 'the output'}: "
                                  f"{exc.strerror or exc}") from exc
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
    registry = Registry(args.models).load()
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
                        help=f"models folder (default: $MODELS_DIR or {default_models_dir()})")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its six subcommands."""
    parser = argparse.ArgumentParser(prog="stock-predictor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="load prices and save them as CSV")
    _add_data_args(fetch)
    fetch.add_argument("--out", type=Path, help="CSV file to write")
    fetch.set_defaults(func=cmd_fetch)

    defaults_m, defaults_t = ModelConfig(), TrainConfig()
    train = sub.add_parser("train", help="train an LSTM and save it as an artifact")
    _add_data_args(train, many=True)
    train.add_argument("--arch", choices=ARCHITECTURES, default=defaults_m.arch)
    train.add_argument("--target", choices=TARGETS, default=defaults_m.target,
                       help="log_return: scale-free, for any ticker; minmax: the original "
                       "per-ticker recipe")
    for name in ("window", "units", "layers"):
        train.add_argument(f"--{name}", type=int, default=getattr(defaults_m, name))
    train.add_argument("--dropout", type=float, default=defaults_m.dropout)
    train.add_argument("--learning-rate", type=float, default=defaults_t.learning_rate)
    for name in ("batch_size", "epochs", "patience", "seed"):
        train.add_argument(f"--{name.replace('_', '-')}", type=int,
                           default=getattr(defaults_t, name))
    train.add_argument("--scope", choices=("general", "ticker"),
                       help="default: ticker for one ticker, general for several")
    train.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    train.set_defaults(func=cmd_train)

    predict = sub.add_parser("predict", help="forecast the next trading days")
    _add_data_args(predict)
    predict.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                         help=f"trading days to forecast, 1 to {MAX_HORIZON}")
    predict.add_argument("--as-of", help="forecast from this date (YYYY-MM-DD), using "
                         "prices up to it only")
    _add_model_args(predict)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table")
    predict.set_defaults(func=cmd_predict)

    backtest = sub.add_parser("evaluate", help="walk-forward backtest against baselines")
    _add_data_args(backtest, many=True)
    backtest.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                          help=f"trading days each origin forecasts, 1 to {MAX_HORIZON}")
    backtest.add_argument("--start", help="first origin date (default: the day after the "
                          "model's training data)")
    backtest.add_argument("--end", help="last date whose price is used (default: the last)")
    backtest.add_argument("--stride", type=int, default=1,
                          help="trading days between origins (default 1: every day)")
    _add_model_args(backtest)
    backtest.add_argument("--format", choices=("table", "json"), default="table")
    backtest.add_argument("--plot", type=Path, help="PNG file to draw the backtest in")
    backtest.add_argument("--out", type=Path,
                          help="CSV file to write every forecast against its actual value")
    backtest.add_argument("--record", action="store_true",
                          help="write the metrics, pooled over the tickers given, into the "
                          "model's model.json as its \"backtest\" entry")
    backtest.set_defaults(func=cmd_evaluate)

    fit_policy = sub.add_parser(
        "fit-policy", help="fit a trained model's point policy on its validation split",
        description="Fit the per-step weight on the network's predicted move (0 = no change) "
        "on the model's validation split, and record it in its model.json. train does this "
        "itself; this adds a policy to a model trained before, without retraining.")
    fit_policy.add_argument("--model", type=Path, required=True, help="artifact folder")
    data = fit_policy.add_mutually_exclusive_group()
    data.add_argument("--ticker", action="append",
                      help="a ticker it was trained on (default: all of them)")
    data.add_argument("--csv", action="append", type=Path,
                      help="the CSV it was trained on (repeatable)")
    fit_policy.add_argument("--source", choices=SOURCES, default=None,
                            help="where ticker prices come from (default: the source each "
                            "was trained from, as model.json records)")
    fit_policy.set_defaults(func=cmd_fit_policy)

    models = sub.add_parser("list-models", help="list the trained models")
    models.add_argument("--models", type=Path, default=None)
    models.add_argument("--format", choices=("table", "json"), default="table")
    models.set_defaults(func=cmd_list_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StockPredictorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

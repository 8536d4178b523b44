"""The evaluate command: a walk-forward backtest against the baselines, as tables, JSON, a CSV
of every forecast, or a picture; and the backtest's tables as text."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError, StockPredictorError
from ..forecast import evaluate
from ..forecast.evaluate import Backtest
from ..forecast.predict import DEFAULT_HORIZON
from ..model import artifacts
from ..model.config import MAX_HORIZON
from .data import CSV_FLOATS, add_data_args, frames
from .forecast import add_model_args, model_for, registry_of
from .support import check_folder_for, command, iso_day, writing


def cmd_evaluate(args) -> int:
    """Walk-forward backtest of a model against the naive, drift and moving-average baselines."""
    given = frames(args)
    if len(given) > 1 and (args.out or args.plot):
        raise DataError("--out and --plot take one ticker or CSV; give several only for the "
                        "pooled table or --record")
    for path in (args.out, args.plot):
        if path:
            check_folder_for(path)
    registry = registry_of(args)
    models = {t: model_for(registry, args, t) for t in given}
    names = {t: m.name for t, m in models.items()}
    if args.record and len(set(names.values())) > 1:
        raise DataError(f"--record needs one model, but these tickers use several ("
                        f"{', '.join(f'{t}: {n}' for t, n in names.items())}); "
                        f"name it with --model")
    results = [evaluate.backtest(frame, models[t], horizon=args.horizon, start=args.start,
                                 end=args.end, stride=args.stride, level=args.level)
               for t, frame in given.items()]
    written = []
    if args.out:
        with writing(args.out):
            results[0].to_frame().to_csv(args.out, index=False, float_format=CSV_FLOATS,
                                         date_format="%Y-%m-%d")
        written.append(args.out)
    if args.plot:
        with writing(args.plot):
            _plot(results[0], args.plot)
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
        print("\n\n".join(backtest_table(r) for r in results))
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


def _plot(result: Backtest, path: Path) -> None:
    try:  # matplotlib is a dev tool, not part of the serving set
        from ..forecast import plot
    except ImportError as exc:
        raise StockPredictorError("plotting needs matplotlib, which is in the dev set: "
                                  "pip install -r requirements-dev.txt") from exc
    plot.save(result, path)


def day(value) -> str | None:
    """A date as YYYY-MM-DD; None stays None."""
    return None if value is None else f"{value:%Y-%m-%d}"


def p_cell(value: float) -> str:
    """A p-value for a table cell: '-' when undefined, '<0.001', else three decimals."""
    return "-" if np.isnan(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")


def _percent(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1%}"


def backtest_table(result: Backtest) -> str:
    """Per-step rows of MAE, MAE vs naive, direction and coverage, and a training-data note."""
    h = result.horizon
    steps = range(1, h + 1) if h <= 10 else sorted({1, 5, 10, 20, h} & set(range(1, h + 1)))
    scores = result.metrics()
    name_width = max(len(name) for name in scores)
    every = "every trading day" if result.stride == 1 else f"every {result.stride} trading days"
    lines = [f"{result.ticker}: {len(result.origins)} origins from {day(result.origins[0])} to "
             f"{day(result.origins[-1])} ({every}), horizon {h}, model {result.model}, "
             f"{result.level:.0%} bands",
             f"{'step':>4}  {'method':<{name_width}}  {'MAE':>10}  {'MAE/naive':>9}  "
             f"{'MAE %':>6}  {'rel/naive':>9}  {'p vs naive':>10}  {'direction':>9}  "
             f"{'coverage':>8}  {'log IS':>7}"]
    for step in steps:
        for i, (name, values) in enumerate(scores.items()):
            k = step - 1
            lines.append(f"{step if i == 0 else '':>4}  {name:<{name_width}}  "
                         f"{values['mae'][k]:>10.4f}  {values['mae_vs_naive'][k]:>9.3f}  "
                         f"{100 * values['mae_relative'][k]:>6.3f}  "
                         f"{values['mae_relative_vs_naive'][k]:>9.3f}  "
                         f"{p_cell(values['p_value_vs_naive'][k]):>10}  "
                         f"{_percent(values['directional_accuracy'][k]):>9}  "
                         f"{_percent(values['coverage'][k]):>8}  "
                         f"{values['interval_score_log'][k]:>7.4f}")
    banded = int(result.banded.sum())
    lines.append(f"note: coverage and log IS read the {banded} of {len(result.origins)} origins "
                 f"where every method has a band at every step")
    inside = int(result.in_training.sum())
    if result.trained_until is None:
        lines.append("note: the model does not say which dates it was trained on")
    elif inside:
        lines.append(f"note: {inside} of {len(result.origins)} origins lie inside the model's "
                     f"training period (to {day(result.trained_until)}); their errors flatter it")
    else:
        lines.append(f"note: no origin lies inside the model's training period "
                     f"(to {day(result.trained_until)})")
    lines.append("units: MAE in price; MAE/naive, a ratio of price errors (the dearest days "
                 "weigh most); MAE %: each error in percent of its origin's close; rel/naive: "
                 "the ratio of those (every day weighs the same: compare periods and tickers "
                 "with it); log IS: the interval (Winkler) score of the band on log prices, "
                 "unit-free, lower is better")
    lines.append("MAE/naive below 1 beats the naive forecast; p vs naive: the chance of a "
                 "difference at least this large if the method were no better or worse than "
                 "naive (Diebold-Mariano); direction: share of origins where the forecast moved "
                 "the way the price did")
    return "\n".join(lines)


def register(sub) -> None:
    """The evaluate command."""
    backtest = command(sub, "evaluate", cmd_evaluate, "walk-forward backtest against baselines")
    add_data_args(backtest, many=True)
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
    add_model_args(backtest)
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

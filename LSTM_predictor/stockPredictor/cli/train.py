"""Training from the command line: train a model, or fit a trained model's point policy.

Keras (and so TensorFlow) is imported only when a model is trained, and only then: every other
command, and the web app, runs without it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..data import sources
from ..errors import DataError
from ..model import artifacts
from ..model.config import ARCHITECTURES, TARGETS, ModelConfig, TrainConfig
from ..settings import SOURCES
from ..training import smooth_policy
from .data import add_data_args, frames
from .support import Interrupted, check_folder_for, command, seed, setting


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
        given = frames(args)
        from ..training import train  # Keras is loaded only for training, and only now

        model = train.fit(given, model_config, train_config, args.out, scope=args.scope,
                          report=lambda line: print(line, flush=True))
        print(train.held_out_summary(model, given))
    except KeyboardInterrupt:
        # artifacts.save renames a finished temporary folder into place, or removes it.
        meta = args.out / artifacts.META_FILE
        if meta.is_file() and meta.stat().st_mtime >= started:
            raise Interrupted(f"interrupted after the model was saved to {args.out}") from None
        raise Interrupted("training interrupted; no model was saved") from None
    return 0


def cmd_fit_policy(args) -> int:
    """Fit an existing model's point policy on its validation folds and record it."""
    model = artifacts.load(args.model)
    data = model.metadata.get("data") or {}
    if args.ticker or args.csv:
        given = frames(args)
    else:
        given = {t: sources.load(t, args.source or (data.get(t) or {}).get("source") or None)
                 for t in model.tickers}
    unknown = sorted(set(given) - set(data))
    if unknown:
        raise DataError(f"model {model.name!r} was not trained on {', '.join(unknown)}; its "
                        f"policy is fitted on the validation splits of {', '.join(data)}")
    entry = smooth_policy.fit_entry(model, given, form=args.form)
    print(smooth_policy.describe(entry))
    artifacts.update_metadata(args.model, policy=entry)
    print(f"wrote {Path(args.model) / artifacts.META_FILE}")
    return 0


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


def register(sub) -> None:
    """The train and fit-policy commands."""
    t = TrainConfig()
    trained = 1 - t.val_fraction - t.test_fraction
    train = command(sub, "train", cmd_train, "train an LSTM and save it as an artifact",
                    epilog=f"The prices are split by time: the first {trained:.0%} to train "
                    f"on, the next {t.val_fraction:.0%} to validate (early stopping, the point "
                    f"policy), the last {t.test_fraction:.0%} held out to test.")
    add_data_args(train, many=True)
    _add_train_args(train)

    fit_policy = command(sub, "fit-policy", cmd_fit_policy,
                         "fit a trained model's point policy on its validation folds")
    fit_policy.add_argument("--model", type=Path, required=True, help="artifact folder")
    fit_policy.add_argument("--form", choices=smooth_policy.FORMS, default=smooth_policy.FORM,
                            help="how the weights vary with the step: one weight for the "
                            "whole path (constant, chosen on validation), per-step, isotonic "
                            "or curve (default: %(default)s)")
    data = fit_policy.add_mutually_exclusive_group()
    data.add_argument("--ticker", action="append",
                      help="a ticker it was trained on (default: all of them)")
    data.add_argument("--csv", action="append", type=Path,
                      help="the CSV it was trained on (repeatable)")
    fit_policy.add_argument("--source", choices=SOURCES, default=None,
                            help="where ticker prices come from (default: the source each "
                            "was trained from, as model.json records)")

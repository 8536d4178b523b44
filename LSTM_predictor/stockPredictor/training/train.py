"""Fit an LSTM on price frames and write an artifact, with Keras (training/networks.py).

TensorFlow prints a line about CPU instructions as it loads; TF_CPP_MIN_LOG_LEVEL=2 in the
environment silences it (the package never sets it: it writes no environment variable).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import time
from typing import Callable, Mapping, Sequence

import h5py
import keras
import numpy as np
import pandas as pd
import sklearn

from ..errors import DataError
from ..forecast import tables
from ..forecast.track_record import MIN_FORECASTS, SIGNIFICANCE, p_text
from ..model import artifacts
from ..model.config import MAX_HORIZON, ModelConfig, TrainConfig
from ..model.policy import Policy
from ..model.windowing import Windowing, time_split
from . import policy_fit, smooth_policy
from .networks import build_model


class Progress(keras.callbacks.Callback):
    """Prints one line an epoch: loss, validation loss, and the time left."""

    def __init__(self, epochs: int, report: Callable[[str], None]):
        super().__init__()
        self.epochs, self.report = epochs, report
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        logs = logs or {}
        left = np.mean(self.seconds) * (self.epochs - epoch - 1)
        self.report(f"epoch {epoch + 1}/{self.epochs}  loss {logs.get('loss', float('nan')):.5f}"
                    f"  val_loss {logs.get('val_loss', float('nan')):.5f}"
                    f"  {self.seconds[-1]:.1f}s  at most {left:.0f}s left")


def _stack(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def prepare(frames: Mapping[str, pd.DataFrame], model_config: ModelConfig,
            train_config: TrainConfig, report: Callable[[str], None] = print
            ) -> tuple[Windowing, dict, dict]:
    """Split every frame by time, fit scaling on the training parts, window each part.

    A ticker with too little history for a split (FB listed in 2012) gives no
    windows to that split; only a split with no windows at all is an error.
    """
    splits = {t: time_split(f, train_config.val_fraction, train_config.test_fraction)
              for t, f in frames.items()}
    windowing = Windowing.from_config(model_config).fit(s[0] for s in splits.values())
    data = {}
    for i, part in enumerate(("train", "val", "test")):
        pairs = []
        for ticker, parts in splits.items():
            try:
                pairs.append(windowing.transform(parts[i]))
            except DataError as exc:
                report(f"{ticker}: no {part} windows ({exc})")
        if not pairs:
            raise DataError(f"no ticker has enough prices for a {part} split with window "
                            f"{model_config.window} and {model_config.output_steps} output steps")
        data[part] = _stack(pairs)
    return windowing, data, splits


def fit(frames: Mapping[str, pd.DataFrame], model_config: ModelConfig,
        train_config: TrainConfig, out_dir: str | os.PathLike, *, scope: str | None = None,
        report: Callable[[str], None] = print,
        callbacks: Sequence[keras.callbacks.Callback] = ()) -> artifacts.Artifact:
    """Train on ``frames`` (ticker -> price frame) and save the artifact to ``out_dir``.

    ``callbacks`` are added to Keras' own (a job's: job_callback.JobCallback); one that raises
    leaves with nothing written, since the artifact is saved only after the last epoch.
    """
    if not frames:
        raise DataError("no price frames to train on")
    # Keras warns on every .h5 save that the format is legacy; the runtime reads .h5 on purpose.
    logging.getLogger("absl").setLevel(logging.ERROR)
    keras.utils.set_random_seed(train_config.seed)
    windowing, data, splits = prepare(frames, model_config, train_config, report)
    (x_train, y_train), (x_val, y_val) = data["train"], data["val"]
    report(f"{len(x_train)} training and {len(x_val)} validation windows "
           f"from {', '.join(frames)}")
    model = build_model(model_config, n_features=x_train.shape[-1])
    model.compile(optimizer=keras.optimizers.Adam(train_config.learning_rate), loss="mse")
    progress = Progress(train_config.epochs, report)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=train_config.patience,
                                         restore_best_weights=True)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        epochs=train_config.epochs, batch_size=train_config.batch_size,
                        shuffle=True, verbose=0,
                        callbacks=[progress, stop, *callbacks])
    val_loss = [float(v) for v in history.history["val_loss"]]
    if len(val_loss) < train_config.epochs:
        best = int(np.argmin(val_loss)) + 1
        report(f"stopped early after {len(val_loss)} epochs; best was {best}")
    meta = _metadata(frames, splits, model_config, train_config, scope, history.history,
                     progress.seconds, _test_metrics(model, windowing, data["test"]))

    def fit_policy(folder) -> dict:
        # On the saved network through the runtime, as it will be served; validation rows only.
        fitted = smooth_policy.fit_entry(artifacts.load(folder), frames)
        report(smooth_policy.describe(fitted))
        return {"policy": fitted}

    path = artifacts.save(out_dir, model, windowing.scaler_, meta, finish=fit_policy)
    report(f"saved {path}")
    return artifacts.load(path)


def held_out_record(model: artifacts.Artifact, frames: Mapping[str, pd.DataFrame],
                    steps: Sequence[int] | None = None) -> dict | None:
    """The saved model's held-out test record against the naive forecast, as figures.

    ``{"start", "end", "steps": [{"h", "ratio", "p", "n", "verdict", "weight", "raw_ratio",
    "raw_p"}]}``: per step h (default: every step it forecasts), the MAE relative to naive's
    as served (its point policy applied; ``raw_``: before it), the two-sided p-value and the
    distinct origin days. Scored from each ticker's last validation day to the end of its test
    split; several tickers are pooled as the policy fit pools them: the mean of their MAE
    ratios, and a Diebold-Mariano test on the daily cross-ticker mean of naive-scaled errors.
    None when no test split has an origin.
    """
    parts = [part for part in (_test_part(model, t, f) for t, f in frames.items()) if part]
    if not parts:
        return None
    start = min(index[first] for index, _, _, first in parts)
    end = max(index[-1] for index, *_ in parts)
    last = min(MAX_HORIZON, model.config.output_steps)
    served = Policy.of(model)
    rows = []
    for h in steps or range(1, last + 1):
        ratio, p, n = _test_step(parts, h)
        raw_ratio, raw_p, _ = (ratio, p, n) if served.is_identity else \
            _test_step(parts, h, raw=True)
        weight = served.weights[h - 1]
        rows.append({"h": h, "ratio": ratio, "p": p, "n": n, "weight": weight,
                     "verdict": verdict(ratio, p, n, weight), "raw_ratio": raw_ratio,
                     "raw_p": raw_p})
    return {"start": str(start.date()), "end": str(end.date()), "steps": rows}


def verdict(ratio: float | None, p: float, n: int, weight: float | None = None) -> str:
    """"better", "worse", "no measurable difference" or "too few", as the track record says."""
    if weight == 0.0 and ratio is not None:
        return "no measurable difference"  # it serves the naive forecast itself there
    if ratio is None or n < MIN_FORECASTS or np.isnan(p):
        return "too few"
    if p < SIGNIFICANCE:
        return "better" if ratio < 1 else "worse"
    return "no measurable difference"


def held_out_summary(model: artifacts.Artifact, frames: Mapping[str, pd.DataFrame],
                     record: dict | None = None) -> str:
    """How the saved model did against the naive forecast on its held-out test split, in words.

    Scored as it is served, and before its point policy when that changes anything, 1 day and
    its longest horizon ahead (``held_out_record``, or ``record`` when it holds those steps). A
    difference is claimed only below SIGNIFICANCE, as in the track record's verdict.
    """
    steps = sorted({1, min(MAX_HORIZON, model.config.output_steps)})
    if record is None:
        record = held_out_record(model, frames, steps)
    if record is None:
        return "The held-out test period is too short to compare the model with naive."
    by_step = {row["h"]: row for row in record["steps"]}
    rows = [by_step[h] for h in steps]
    said = [_step_words(h, row["ratio"], row["p"], row["n"], row["weight"])
            for h, row in zip(steps, rows)]
    text = (f"On its held-out test period ({record['start']} to {record['end']}), the model's "
            f"error relative to the naive forecast's was {' and '.join(said)}")
    if not Policy.of(model).is_identity:
        raw = [_step_words(h, row["raw_ratio"], row["raw_p"], row["n"])
               for h, row in zip(steps, rows)]
        text += f"; before its point policy, the network's was {' and '.join(raw)}"
    return (f"{text}. Below 1 beats the naive forecast (no change from the last close); "
            f"stock-predictor evaluate shows every step and baseline.")


def _test_part(model: artifacts.Artifact, ticker: str, frame: pd.DataFrame):
    # The ticker's prices to its test end, its forecast table, the origins whose outcomes lie
    # in the test split (the last validation day on), and the first test row; None if empty.
    split = (model.metadata.get("data") or {}).get(ticker) or {}
    if not split.get("val_end") or not split.get("test_end"):
        return None
    index = frame.index
    first = int(index.searchsorted(pd.Timestamp(split["val_end"]), side="right"))
    stop = int(index.searchsorted(pd.Timestamp(split["test_end"]), side="right"))
    cache = tables.private_cache()  # training never fills a serving cache
    table = tables.ForecastTable(frame["close"].to_numpy(np.float64)[:stop], model, cache)
    origins = np.arange(max(table.first, first - 1), stop - 1)
    return (index[:stop], table, origins, first) if len(origins) and first < stop else None


def _test_step(parts, h: int, raw: bool = False) -> tuple[float | None, float, int]:
    # (mean over tickers of MAE / naive MAE, pooled two-sided p, distinct origin days) at step h.
    ratios, losses, naive_losses = [], [], []
    for index, table, origins, _ in parts:
        rows = origins[origins + h < len(table)]
        if not len(rows):
            continue
        last, actual = table.closes[rows], table.closes[rows + h]
        errors = np.abs(actual - table.forecasts(rows, h, raw=raw)[:, h - 1])
        naive = np.abs(actual - last)
        scale = naive.mean()
        if not scale > 0:
            continue
        ratios.append(errors.mean() / scale)
        losses.append(pd.Series(errors / scale, index=index[rows]))
        naive_losses.append(pd.Series(naive / scale, index=index[rows]))
    if not ratios:
        return None, float("nan"), 0
    _, p = policy_fit.pooled_test(losses, naive_losses, h)
    days = pd.concat(naive_losses).index.nunique()
    return float(np.mean(ratios)), p, int(days)


def _step_words(h: int, ratio: float | None, p: float, n: int,
                weight: float | None = None) -> str:
    # "0.98 at 1 trading day ahead (no measurable difference, p = 0.41)"; later steps shorter.
    at = "at 1 trading day ahead" if h == 1 else f"at {h}"
    if ratio is None:
        return f"not measurable {at} (no test forecast reaches that far)"
    if weight == 0.0:
        why = "it serves the naive forecast there"
    elif n < MIN_FORECASTS or np.isnan(p):
        why = f"{n} forecasts, too few to judge"
    elif p < SIGNIFICANCE:
        why = f"{'better' if ratio < 1 else 'worse'} than naive, {p_text(p)}"
    else:
        why = f"no measurable difference, {p_text(p)}"
    return f"{ratio:.2f} {at} ({why})" if weight is not None else f"{ratio:.2f} ({why})"


def _test_metrics(model, windowing: Windowing, test: tuple[np.ndarray, np.ndarray]) -> dict:
    # Errors on the held-out test split, in the target's units, beside the naive
    # "no change" forecast, so model.json tells whether the model beats it.
    x, y = test
    predicted = model.predict(x, verbose=0, batch_size=1024)
    if windowing.target == "log_return":
        naive = np.zeros_like(y)
    else:
        naive = np.repeat(x[:, -1, :1], y.shape[1], axis=1)
    mae = np.mean(np.abs(predicted - y), axis=0)
    naive_mae = np.mean(np.abs(naive - y), axis=0)
    return {"windows": int(len(x)), "mae": [round(float(v), 6) for v in mae],
            "naive_mae": [round(float(v), 6) for v in naive_mae],
            "mae_vs_naive": [round(float(a / b), 4) if b else None
                             for a, b in zip(mae, naive_mae)]}


def _metadata(frames, splits, model_config, train_config, scope, history, seconds,
              test_metrics) -> dict:
    starts = [f.index[0] for f in frames.values()]
    ends = [f.index[-1] for f in frames.values()]
    return {
        "scope": scope or ("ticker" if len(frames) == 1 else "general"),
        "tickers": list(frames),
        "target": model_config.target,
        "architecture": model_config.arch,
        "model": model_config.to_dict(),
        "training": train_config.to_dict(),
        "date_range": {"start": str(min(starts).date()), "end": str(max(ends).date())},
        "data": {t: {"source": f.attrs.get("source"), "rows": len(f),
                     "start": str(f.index[0].date()),
                     "train_end": str(splits[t][0].index[-1].date()),
                     "val_end": str(splits[t][1].index[-1].date()),
                     "test_end": str(splits[t][2].index[-1].date())}
                 for t, f in frames.items()},
        "history": {"epochs_run": len(history["loss"]),
                    "best_epoch": int(np.argmin(history["val_loss"])) + 1,
                    "loss": [round(float(v), 6) for v in history["loss"]],
                    "val_loss": [round(float(v), 6) for v in history["val_loss"]],
                    "seconds_per_epoch": round(float(np.mean(seconds)), 3)},
        "test_metrics": test_metrics,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "library_versions": {"python": platform.python_version(), "numpy": np.__version__,
                             "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
                             "h5py": h5py.__version__, "keras": keras.__version__,
                             "tensorflow": _tf_version()},
    }


def _tf_version() -> str:
    import tensorflow as tf  # already imported by keras; only read its version
    return tf.__version__

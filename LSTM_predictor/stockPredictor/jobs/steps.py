"""The parts of a training job that worker.py strings together: its prices' source, its
progress in the queue's key-value store, its phases' timings, and training then judging.

Keras is imported inside ``train_and_judge`` only, when a job runs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import NotTrainedError
from ..model.registry import Registry
from ..settings import Settings
from ..store import model_versions
from . import judge
from .queue import JobQueue
from .spec import JobSpec

log = logging.getLogger(__name__)


class Phases:
    """Seconds each phase of a job took: queued, loading, training, judging, saving."""

    def __init__(self, queued: float):
        self.seconds = {"queued": round(queued, 1)}
        self._mark = time.monotonic()

    def end(self, phase: str) -> None:
        """``phase`` ended now; it began when the previous one ended."""
        now = time.monotonic()
        self.seconds[phase] = round(now - self._mark, 1)
        self._mark = now

    def figures(self) -> dict:
        """Every phase and the total, from queued to saved."""
        return {**self.seconds, "total": round(sum(self.seconds.values()), 1)}


class Progress:
    """A job's progress in the queue's key-value store, as its page reads it (spec21.md)."""

    def __init__(self, queue: JobQueue, token: str):
        self.queue, self.token = queue, token
        self.started = time.time()
        self.state: dict = {"phase": "loading", "epoch": 0, "epochs": None, "loss": [],
                            "val_loss": [], "seconds": [], "started": self.started,
                            "elapsed_s": 0.0, "eta_s": None}

    def phase(self, name: str, **values) -> None:
        """The job entered phase ``name``."""
        self.state.update(values, phase=name)
        self._put()

    def epoch(self, epoch: int, epochs: int, loss: float, val_loss: float,
              seconds: float) -> None:
        """Epoch ``epoch`` of at most ``epochs`` ended (job_callback.EpochReport)."""
        state = self.state
        state["loss"].append(_finite(loss))
        state["val_loss"].append(_finite(val_loss))
        state["seconds"].append(round(seconds, 2))
        # Early stopping may end sooner: the estimate is the most time left.
        state.update(epoch=epoch, epochs=epochs,
                     eta_s=round(float(np.mean(state["seconds"])) * (epochs - epoch), 1))
        self._put()

    def where(self) -> str:
        """How far the job got, for a sentence: "at epoch 3 of 15", "while loading"."""
        if self.state["phase"] == "training" and self.state["epoch"]:
            return f"at epoch {self.state['epoch']} of {self.state['epochs']}"
        return f"while {self.state['phase']}"

    def clear(self) -> None:
        """Forget the progress (the job ended; its result holds the figures)."""
        try:
            self.queue.clear_progress(self.token)
        except Exception as exc:  # the queue's store blinked: the entry is tiny
            log.warning("job %s: progress not cleared: %s", self.token[:6], exc)

    def _put(self) -> None:
        now = time.time()
        self.state.update(elapsed_s=round(now - self.started, 1), updated=now)
        try:
            self.queue.put_progress(self.token, self.state)
        except Exception as exc:  # progress is a courtesy: a failed write never fails the job
            log.warning("job %s: progress not stored: %s", self.token[:6], exc)


def _finite(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


def _check(should_stop: Callable[[], str | None]) -> None:
    from ..training.job_callback import JobStopped

    reason = should_stop()
    if reason:
        raise JobStopped(reason)


def train_and_judge(settings: Settings, registry: Registry, spec: JobSpec, frame: pd.DataFrame,
                    ticker: str, temp: Path, should_stop: Callable[[], str | None],
                    progress: Progress, phases: Phases) -> tuple[dict, Path]:
    """Train in ``temp``, judge the model against ``registry``'s; the job's result (with
    ``_summary`` for its model version) and the artifact folder. ``should_stop`` says why the
    job must stop (a cancel, its time limit, the worker stopping), else None."""
    from ..training import job_callback, train  # Keras (TensorFlow) loads here, in a job

    job_callback.limit_threads(settings.train_threads)
    name = model_versions.new_name(spec.ticker, spec.arch)
    folder = temp / name
    frames = {ticker: frame}
    _check(should_stop)
    progress.phase("training", epochs=spec.epochs)
    callback = job_callback.JobCallback(spec.epochs, progress.epoch, should_stop)
    model = train.fit(frames, spec.model_config(), spec.train_config(), folder, scope="ticker",
                      report=lambda line: log.debug("job %s: %s", progress.token[:6], line),
                      callbacks=[callback])
    phases.end("training")
    _check(should_stop)
    progress.phase("judging")
    try:
        incumbent = registry.model_for(ticker)
    except NotTrainedError:
        incumbent = None
    general = registry.general()
    validation = judge.validation(model, frame, ticker,
                                  {"general": general, "incumbent": incumbent})
    validation["incumbent"] = incumbent.name if incumbent is not None else None
    is_default, reason = judge.decide(validation, spec.ticker, incumbent,
                                      validation["incumbent"])
    record_ = train.held_out_record(model, frames)
    test = judge.held_out_part(record_, train.held_out_summary(model, frames, record_))
    steps, policy_words = judge.policy_steps(model)
    history = model.metadata["history"]
    result = {"model": name, "is_default": is_default, "default_reason": reason,
              "validation": validation, "test": test, "policy_steps": steps,
              "policy_words": policy_words, "epochs_run": history["epochs_run"],
              "best_epoch": history["best_epoch"], "loss": history["loss"],
              "val_loss": history["val_loss"]}
    result["_summary"] = _summary(model, spec, frame, ticker, result)
    phases.end("judging")
    _check(should_stop)
    return result, folder


def _summary(model, spec: JobSpec, frame: pd.DataFrame, ticker: str, result: dict) -> dict:
    # What /models lists: what it was trained on and its record (no file name: an upload's
    # name is whatever its sender typed, and the listing is public).
    until = model.trained_until(ticker)
    validation = {key: result["validation"][key] for key in (
        "start", "end", "origins", "mean_model", "mean_general", "mean_incumbent", "incumbent")}
    source = str(frame.attrs.get("source") or "")
    return {"arch": spec.arch, "window": spec.window, "units": spec.units,
            "layers": spec.layers, "epochs": spec.epochs, "learning_rate": spec.learning_rate,
            "days": int(len(frame)), "epochs_run": result["epochs_run"],
            "tickers": model.tickers, "trained_from": str(frame.index[0].date()),
            "trained_to": None if until is None else str(until.date()),
            "data_to": str(frame.index[-1].date()), "data_source": source,
            "record": {"validation": validation, "test": {
                "start": result["test"]["start"], "end": result["test"]["end"],
                "steps": result["test"]["steps"]}},
            "policy_steps": result["policy_steps"]}

"""Running one training job: what the worker process (``stock-predictor worker``) does for each
task the queue hands it.

``run_job(token)``: the job moves to running (a cancelled one is skipped) -> its prices (a ticker
through the same price store the web reads, or the stored upload), cut to the newest ``days``
-> Keras trains in ``<CACHE_DIR>/training/<job id>.tmp`` with a callback that reports each epoch
to the queue's key-value store and stops the fit within a second of a cancel, the time limit or
the worker stopping -> the model is judged (judge.py) -> stored as a model version in one
transaction -> the job ends with its result. The temporary folder goes in every case. A failure
is one sentence, with no traceback and no path. Keras (TensorFlow) is imported when a job runs,
never when this module is: the command's other work starts without it.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
from sqlalchemy import Engine

from ..data.csv import read_csv
from ..data.sources import PriceCache
from ..errors import JobEndedError, StockPredictorError, without_folders
from ..model.registry import Registry
from ..settings import Settings
from ..store import jobs as job_store
from ..store import model_versions, uploads
from .queue import HANDLERS, JobQueue
from .spec import JobSpec
from .steps import Phases, Progress, train_and_judge
from . import watch

log = logging.getLogger(__name__)

TRAINING_FOLDER = "training"  # under CACHE_DIR: one <job id>.tmp folder per running job
HEARTBEAT_S = 1.0  # how often a running job beats and reads its cancel flag
REQUEUED = "the worker was stopped; the job was queued again"
STOPPED_AGAIN = "the worker was stopped twice while running this job, so it was not retried"

__all__ = ["Context", "abandon", "install", "run_job", "sweep_temp"]


@dataclass
class Context:
    """What every job of one worker process shares."""

    settings: Settings
    engine: Engine
    queue: JobQueue
    registry: Registry
    prices: PriceCache
    stopping: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM
    refresh: Callable[[], object] | None = None  # brings the registry's trained models up to date
    current: str | None = None  # the token of the job running now


_context: Context | None = None


def install(context: Context) -> None:
    """Make ``run_job`` run with ``context`` when the queue calls HANDLERS["train"], and the
    watchlist jobs (jobs.watch) when it calls HANDLERS["watch_cold"] or ["watch_refresh"]."""
    global _context
    _context = context
    HANDLERS["train"] = run_job
    watch.install(context)
    HANDLERS["watch_cold"] = watch.run_cold
    HANDLERS["watch_refresh"] = watch.run_refresh


def training_folder(settings: Settings) -> Path:
    """Where running jobs train: ``<CACHE_DIR>/training``."""
    return Path(settings.cache_dir) / TRAINING_FOLDER


def sweep_temp(settings: Settings, engine: Engine) -> list[str]:
    """Remove the temporary folders that dead jobs left; a job still running (on another worker
    sharing this CACHE_DIR, its heartbeat fresh) keeps its folder."""
    folder = training_folder(settings)
    live = {f"{job_id}.tmp" for job_id in job_store.running_ids(engine)}
    removed = []
    for path in sorted(folder.glob("*.tmp")) if folder.is_dir() else ():
        if path.name not in live:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


class _Watch:
    """A running job's heartbeat (a thread) and the reasons it may have to stop."""

    def __init__(self, context: Context, token: str, limit_s: float):
        self.context, self.token = context, token
        self.deadline, self.limit_s = time.monotonic() + limit_s, limit_s
        self.cancelled = False
        self.why: str | None = None  # "cancel", "worker" or "time" once should_stop said so
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-beat-{token[:6]}",
                                        daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            try:
                if not job_store.heartbeat(self.context.engine, self.token):
                    self.cancelled = True
            except StockPredictorError as exc:  # the database blinked: the next beat retries
                log.warning("job %s: heartbeat failed: %s", self.token[:6], exc)

    def should_stop(self) -> str | None:
        """None to go on, else the sentence saying why the job stops."""
        if self.context.stopping.is_set():
            self.why = "worker"
            return REQUEUED
        if self.cancelled:
            self.why = "cancel"
            return "cancelled while training"
        if time.monotonic() > self.deadline:
            self.why = "time"
            return (f"the job ran past its time limit of {self.limit_s:g} seconds and was "
                    f"stopped; try fewer epochs, days or units")
        return None

    def close(self) -> None:
        """Stop beating."""
        self._done.set()
        self._thread.join(timeout=HEARTBEAT_S + 5)


def run_job(token: str, context: Context | None = None) -> None:
    """Run the job ``token`` to its end: succeeded with a stored model, or failed, cancelled or
    re-queued with one sentence; never raises."""
    context = context or _context
    if context is None:
        raise RuntimeError("run_job needs a worker Context: call jobs.worker.install first")
    try:
        record = job_store.start(context.engine, token)
    except StockPredictorError as exc:
        log.error("job %s not started: %s", token[:6], exc)
        return
    if record is None:
        log.info("job %s skipped: it is no longer queued", token[:6])
        return
    context.current = token
    watch = _Watch(context, token, context.settings.job_time_limit_s)
    temp = training_folder(context.settings) / f"{record.id}.tmp"
    progress = Progress(context.queue, token)
    try:
        _run(context, record, watch, temp, progress)
    except Exception as exc:  # every failure ends the job with a sentence, never the worker
        _end_failed(context, record, watch, progress, exc, temp)
    finally:
        watch.close()
        shutil.rmtree(temp, ignore_errors=True)
        context.current = None


def abandon(context: Context, token: str) -> None:
    """Queue again a job whose thread did not stop in time, and remove its folder: the process
    is exiting, and the thread with it."""
    try:
        record = job_store.get(context.engine, token)
        shutil.rmtree(training_folder(context.settings) / f"{record.id}.tmp", ignore_errors=True)
        context.queue.clear_progress(token)
        if job_store.requeue(context.engine, token, REQUEUED):
            job_store.attach_task(context.engine, token, context.queue.submit(token))
            log.info("job %s queued again: its thread did not stop in time", token[:6])
    except Exception:  # the database is down: the job is swept as stale later
        log.exception("job %s could not be queued again", token[:6])


def _run(context: Context, record: job_store.JobRecord, watch: _Watch, temp: Path,
         progress: Progress) -> None:
    phases = Phases(queued=_queued_s(record))
    spec = JobSpec.from_mapping(record.spec)
    shutil.rmtree(temp, ignore_errors=True)  # a dead attempt's leftovers
    temp.mkdir(parents=True)
    progress.phase("loading")
    frame, ticker = _prices(context, spec)
    phases.end("loading")
    if context.refresh is not None:
        context.refresh()  # judged against what serves the ticker now, trained models included
    result, folder = train_and_judge(context.settings, context.registry, spec, frame, ticker,
                                     temp, watch.should_stop, progress, phases)
    progress.phase("saving")
    try:
        version = model_versions.save(
            context.engine, folder, name=result["model"], job_token=record.token,
            ticker=ticker if spec.ticker else None, scope="ticker",
            is_default=result["is_default"], summary=result.pop("_summary"),
            keep=context.settings.trained_models_max,
            incumbent=(result.get("validation") or {}).get("incumbent"))
    except JobEndedError:  # cancelled or failed as stale meanwhile: that ending stands
        progress.clear()
        log.info("job %s ended while saving; its model was not kept", record.token[:6])
        return
    if result["is_default"] and not version.is_default:
        result["is_default"], result["default_reason"] = False, (
            f"Another model became {ticker}'s default while this one trained, and this one was "
            f"not compared with it, so it is not the default; it is kept and can be chosen by "
            f"name.")
    phases.end("saving")
    result["seconds"] = phases.figures()
    job_store.finish(context.engine, record.token, "succeeded", model_name=result["model"],
                     result=result)
    progress.clear()
    log.info("job %s succeeded: model %s (%s)", record.token[:6], result["model"],
             "default" if result["is_default"] else "not default")


def _queued_s(record: job_store.JobRecord) -> float:
    if record.started_at is None or record.created_at is None:
        return 0.0
    return max(0.0, (record.started_at - record.created_at).total_seconds())


def _prices(context: Context, spec: JobSpec) -> tuple[pd.DataFrame, str]:
    if spec.ticker is not None:
        frame = context.prices.load(spec.ticker)
    else:
        stored = uploads.load(context.engine, spec.upload_id,
                              days=context.settings.upload_retention_days)
        source = io.BytesIO(bytes(stored.content))  # never a path built from a request
        source.name = stored.file_name
        frame = read_csv(source, ticker=(stored.options or {}).get("ticker"))
    ticker = str(frame.attrs.get("ticker") or spec.ticker or "UPLOAD")
    return frame.iloc[-spec.days:], ticker


def _end_failed(context: Context, record: job_store.JobRecord, watch: _Watch,
                progress: Progress, exc: Exception, temp: Path) -> None:
    from ..training.job_callback import JobStopped  # loaded with Keras

    why = watch.why if isinstance(exc, JobStopped) else None
    engine, token = context.engine, record.token
    try:
        if why == "worker":
            progress.clear()
            if job_store.requeue(engine, token, REQUEUED):
                task_id = context.queue.submit(token)
                job_store.attach_task(engine, token, task_id)
                log.info("job %s re-queued: the worker is stopping", token[:6])
            elif job_store.get(engine, token).status == "failed":
                job_store.finish(engine, token, "failed", STOPPED_AGAIN)
            return
        # The curve so far moves into the job's row, and its entry in the queue's store goes:
        # only a running job's page reads the store, so nothing there outlives its job.
        so_far = {"progress": {key: progress.state.get(key)
                               for key in ("epoch", "epochs", "loss", "val_loss", "seconds")}}
        progress.clear()
        if why == "cancel":
            job_store.finish(engine, token, "cancelled",
                             sentence(f"cancelled {progress.where()}", context.settings),
                             result=so_far)
            return
        if why == "time" or isinstance(exc, StockPredictorError):
            reason = getattr(exc, "reason", None) or str(exc)
        else:
            log.exception("job %s failed with an internal error", token[:6])
            reason = (f"training failed with an internal error ({type(exc).__name__}); the "
                      f"worker's log has the details")
        job_store.finish(engine, token, "failed", sentence(reason, context.settings, temp),
                         result=so_far)
        log.info("job %s failed: %s", token[:6], reason)
    except Exception:  # the database is down: the job is swept as stale later
        log.exception("job %s: its end could not be recorded", token[:6])


def sentence(reason: str, settings: Settings, temp: Path | None = None) -> str:
    """``reason`` as the one sentence a job's page shows: one line, no folder, capitalised."""
    text = without_folders(" ".join(str(reason).split()), {
        temp: "the job's folder", settings.cache_dir: "the cache folder",
        settings.models_dir: "the models folder"})
    text = text[:1].upper() + text[1:]
    text = text if text.endswith((".", "!", "?")) else text + "."
    return text[:job_store.REASON_CHARS]

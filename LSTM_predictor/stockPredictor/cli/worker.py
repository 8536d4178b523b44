"""The worker command: run training jobs from the queue, one at a time, until stopped.

``stock-predictor worker`` (the Procfile's ``worker:`` line, ``make run-training``) migrates the
database, fails the jobs a dead worker left running and removes their temporary folders, then
runs a Huey consumer with one thread worker: TensorFlow does not survive ``fork``, and one
training at a time keeps a job's minute on its core. SIGTERM (Heroku's stop, ``make``'s) or
Ctrl-C stops the running job within seconds through its Keras callback, removes its folder,
queues it again (once), and exits 0. TensorFlow is imported here, when the command runs, never
when the command line is built.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import threading
import time
from pathlib import Path

from .. import settings as settings_module
from .. import store
from ..errors import StockPredictorError
from .support import command

log = logging.getLogger("stockPredictor.worker")

BEAT_S = 5.0  # the worker's heartbeat in the queue's store: pages say when none is seen
STOP_WAIT_S = 20.0  # for the running job to unwind after SIGTERM (Heroku kills at 30 s)
POLL_MAX_S = 1.0  # the longest an idle worker waits between looks at the queue
TRAINED_FOLDER = "trained-worker"  # under CACHE_DIR: the worker's copies of trained models
INSTALL = ("the worker trains with TensorFlow, which is not installed here (a serving-only "
           "install): install the training set with `pip install -r requirements-train.txt`, "
           "or run `make run-training`")


def cmd_worker(args) -> int:
    """Run training jobs from the queue, one at a time, until SIGTERM or Ctrl-C; a job running
    then is stopped within seconds and queued again."""
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
        raise StockPredictorError(INSTALL)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin list on every start
    settings = settings_module.current()
    instance = args.instance or settings.instance_path or Path("instance")
    url = store.database_url(settings.database_url, instance)
    store.upgrade(url)
    engine = store.engine_for(url)
    context = _context(settings, engine, instance)
    try:
        return _serve(context)
    finally:
        engine.dispose()


def _context(settings, engine, instance: Path):
    from ..jobs import worker
    from ..jobs.queue import JobQueue
    from ..model.registry import Registry
    from ..store import jobs as job_store
    from ..store.price_cache import price_cache
    from ..store.trained import TrainedModels

    queue = JobQueue.open(settings, instance)
    failed = job_store.sweep_stale(engine)
    for token in failed:  # only a running job's page reads its progress
        queue.clear_progress(token)
    removed = worker.sweep_temp(settings, engine)
    if failed or removed:
        log.info("a worker died mid-job: %d job(s) marked failed, %d folder(s) removed",
                 len(failed), len(removed))
    prices = price_cache(settings, engine)  # yfinance's curl_cffi before TensorFlow
    from ..training import job_callback  # TensorFlow loads here

    if not job_callback.limit_threads(settings.train_threads):
        log.warning("TRAIN_THREADS=%d not applied: TensorFlow had started", settings.train_threads)
    registry = Registry(settings.models_dir).load()
    trained = TrainedModels(engine, Path(settings.cache_dir) / TRAINED_FOLDER,
                            settings.model_poll_s)
    context = worker.Context(settings, engine, queue, registry, prices,
                             refresh=lambda: trained.refresh(registry, force=True))
    context.refresh()
    worker.install(context)
    return context


def _serve(context) -> int:
    from huey.consumer import ConsumerStopped
    from huey.signals import SIGNAL_INTERRUPTED

    from ..jobs import worker

    queue = context.queue
    done = threading.Event()

    @queue.huey.signal(SIGNAL_INTERRUPTED)
    def _interrupted(signal_name, task, *args, **kwargs):
        # The job's thread did not unwind in STOP_WAIT_S: queue it again from here (the
        # process exits next, and its daemon threads with it).
        if task.args:
            worker.abandon(context, task.args[0])

    beat = threading.Thread(target=_beat, args=(queue, done), name="worker-beat", daemon=True)
    beat.start()
    # An idle consumer backs off between looks at an empty queue: Huey's default climbs to 10 s,
    # which on SQLite (polled; Redis blocks on its list instead) is what a job would wait.
    consumer = queue.huey.create_consumer(workers=1, worker_type="thread", periodic=False,
                                          shutdown_timeout=STOP_WAIT_S, max_delay=POLL_MAX_S)
    consumer.start()

    def stop(signum, frame):
        # Set before anything else: the job's callback sees it at its next check (0.5 s).
        context.stopping.set()
        done.set()

    # After consumer.start(), which installs Huey's own handlers: ours replace them, so the
    # running job is told first, then the consumer is stopped below with a bounded wait.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker ready: %s queue, one job at a time, %s s limit per job", queue.kind,
             f"{context.settings.job_time_limit_s:g}")
    checked = time.monotonic()
    while not done.is_set():
        try:
            checked = consumer.loop(checked)  # waits 0.1 s; restarts a dead worker thread
        except ConsumerStopped:  # the consumer stopped itself (an error it logged)
            break
    if context.current:
        log.info("stopping: job %s is being stopped and queued again", context.current[:6])
    consumer.stop(graceful=True)  # joins the job's thread, at most STOP_WAIT_S
    queue.huey.notify_interrupted_tasks()  # SIGNAL_INTERRUPTED for a job still in flight
    beat.join(timeout=BEAT_S + 1)
    log.info("worker stopped")
    return 0


def _beat(queue, done: threading.Event) -> None:
    while True:
        try:
            queue.beat()
        except Exception as exc:  # the queue's store blinked: pages may say no worker a while
            log.warning("worker beat failed: %s", exc)
        if done.wait(BEAT_S):
            return


def register(sub) -> None:
    """The worker command."""
    parser = command(sub, "worker", cmd_worker, "run training jobs from the queue (needs the "
                     "training set: TensorFlow)")
    parser.add_argument("--instance", type=Path, default=None,
                        help="folder of the default SQLite database and job queue (default: "
                        "$INSTANCE_PATH, else ./instance, as the web app uses)")

"""The job queue: Huey, on Redis when REDIS_URL is set, else on a SQLite file in the instance
folder (no server, for the local run).

The web process submits a job's token as task "train" and reads progress; the worker process
(jobs/worker.py) fills HANDLERS["train"] and runs a Huey consumer with thread workers (TensorFlow
does not survive ``fork``). The queue carries tokens only: the job itself (settings, status,
result) lives in the database (store/jobs.py). Progress and the worker's heartbeat go through
Huey's key-value store as JSON (never pickles), read with a peek that leaves them in place.

Importing this module never imports TensorFlow, Keras or stockPredictor.training.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Literal
from urllib.parse import parse_qs, urlsplit

import huey
from huey.constants import EmptyData

from ..errors import NotTrainedError, QueueFullError
from ..settings import Settings

__all__ = ["HANDLERS", "JobQueue", "NAME", "QUEUE_FILE", "WATCH_TASKS"]

NAME = "stock-predictor"
QUEUE_FILE = "jobs.db"  # in the instance folder, beside the default database
# What task "train" runs with a job's token: jobs.worker sets it in the worker process only;
# likewise "watch_cold" and "watch_refresh" with a watchlist's token (jobs.watch).
HANDLERS: dict[str, Callable[[str], None]] = {}
_PROGRESS = "progress:"
_BEAT = "worker-beat"
WATCH_TASKS = ("watch_cold", "watch_refresh")
WatchTask = Literal["watch_cold", "watch_refresh"]
REDIS_TIMEOUT_S = 5  # a Redis that does not answer fails a call within this, not a request's 30 s


def train(token: str) -> None:
    """Task "train": run the job ``token`` names through HANDLERS["train"] (the worker's)."""
    handler = HANDLERS.get("train")
    if handler is None:
        raise NotTrainedError("training runs in the worker process (stock-predictor worker), "
                              "not in this one")
    handler(token)


def _watch_task(name: str) -> Callable[[str], None]:
    def run(token: str) -> None:
        handler = HANDLERS.get(name)
        if handler is None:
            raise NotTrainedError("watchlist jobs run in the worker process (stock-predictor "
                                  "worker), not in this one")
        handler(token)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"Task {name!r}: run it for the watchlist ``token`` through HANDLERS."
    return run


class JobQueue:
    """A Huey instance with the task "train", progress by job token, and the worker's beat."""

    def __init__(self, instance: huey.Huey, kind: str, watch_max: int | None = None):
        self.huey = instance
        self.kind = kind  # "redis" or "sqlite", for health and README
        self.watch_max = watch_max  # WATCH_JOBS_MAX: tasks waiting past which no watch job goes
        self._train = instance.task(name="train")(train)
        self._watch = {name: instance.task(name=name)(_watch_task(name))
                       for name in WATCH_TASKS}
        if kind == "sqlite":
            _track(self)

    @classmethod
    def open(cls, settings: Settings, instance: Path) -> "JobQueue":
        """The queue ``settings`` name: Redis at REDIS_URL, else SQLite in ``instance``."""
        url = settings.redis_url.strip()
        if url:
            import redis  # only where a Redis is used

            options: dict = {"socket_timeout": REDIS_TIMEOUT_S,
                             "socket_connect_timeout": REDIS_TIMEOUT_S}
            query = {key.lower() for key in parse_qs(urlsplit(url).query)}
            if urlsplit(url).scheme.lower() == "rediss" and "ssl_cert_reqs" not in query:
                # Heroku's Key-Value Store presents a self-signed certificate: the link is
                # encrypted, not authenticated, unless the URL asks for more itself.
                options["ssl_cert_reqs"] = None
            pool = redis.ConnectionPool.from_url(url, **options)
            return cls(huey.RedisHuey(NAME, results=False, connection_pool=pool), "redis",
                       settings.watch_jobs_max)
        folder = Path(instance)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(huey.SqliteHuey(NAME, results=False, filename=str(folder / QUEUE_FILE)),
                   "sqlite", settings.watch_jobs_max)

    def submit(self, token: str) -> str:
        """Enqueue task "train" with ``token``; the task's id (for ``revoke``)."""
        task = self._train.s(token)
        self.huey.enqueue(task)
        return task.id

    def submit_watch(self, task: WatchTask, token: str) -> str:
        """Enqueue the watchlist task ``task`` ("watch_cold" or "watch_refresh") for the list
        ``token``; the task's id. QueueFullError, nothing queued, when ``watch_max`` tasks
        already wait (training's included): the list's rows wait as "computing" until the
        worker catches up and a later view queues the job."""
        if task not in self._watch:
            raise ValueError(f"watchlist task {task!r} is not one of {', '.join(WATCH_TASKS)}")
        if self.watch_max is not None and self.pending() >= self.watch_max:
            raise QueueFullError(f"the job queue holds {self.watch_max} waiting tasks, the most "
                                 f"WATCH_JOBS_MAX={self.watch_max} allows; this watchlist's "
                                 f"rows wait until the worker catches up")
        signature = self._watch[task].s(token)
        self.huey.enqueue(signature)
        return signature.id

    def revoke(self, task_id: str) -> None:
        """Make the task ``task_id`` a no-op when a consumer takes it (a cancelled job)."""
        self.huey.revoke_by_id(task_id, revoke_once=True)  # its key goes when it is skipped

    def put_progress(self, token: str, progress: dict) -> None:
        """Store ``progress`` (JSON) for the job ``token``, replacing the last."""
        self.huey.storage.put_data(_PROGRESS + token, json.dumps(progress).encode())

    def progress(self, token: str) -> dict | None:
        """The job's last progress, left in place for the next reader; None when none."""
        data = self.huey.storage.peek_data(_PROGRESS + token)
        if data is EmptyData or data is None:
            return None
        try:
            value = json.loads(bytes(data))
        except ValueError:  # not ours: never trusted, never fatal
            return None
        return value if isinstance(value, dict) else None

    def clear_progress(self, token: str) -> None:
        """Forget the job's progress (it ended: the database holds its result)."""
        self.huey.storage.delete_data(_PROGRESS + token)

    def beat(self) -> None:
        """The worker's heartbeat: it is alive now (called every few seconds)."""
        self.huey.storage.put_data(_BEAT, repr(time.time()).encode())

    def worker_seen(self) -> float | None:
        """Seconds since any worker's last beat; None when none ever beat here."""
        data = self.huey.storage.peek_data(_BEAT)
        if data is EmptyData or data is None:
            return None
        try:
            return max(0.0, time.time() - float(bytes(data)))
        except ValueError:
            return None

    def pending(self) -> int:
        """Tasks waiting for a consumer."""
        return self.huey.pending_count()


# gunicorn --preload forks its workers from the process that opened the queue: huey's SQLite
# storage holds one connection and one lock, which a child must never share with its parent.
_QUEUES: weakref.WeakSet[JobQueue] = weakref.WeakSet()


def _track(queue: JobQueue) -> None:
    if not getattr(_track, "registered", False):
        os.register_at_fork(after_in_child=_forked)
        _track.registered = True
    _QUEUES.add(queue)


def _forked() -> None:
    for queue in list(_QUEUES):
        storage = queue.huey.storage
        storage._conn, storage.lock = None, threading.Lock()  # the parent's stays its own

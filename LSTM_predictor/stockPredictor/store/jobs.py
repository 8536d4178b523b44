"""Training jobs in the database: created within the queue's bounds, started, beaten, cancelled,
finished or re-queued by the worker, read by the job page.

The database row is the truth about a job; the queue (jobs/queue.py) only carries its token to
a worker. A job is ``queued`` -> ``running`` -> ``succeeded`` | ``failed`` | ``cancelled`` (a
queued one may go straight to cancelled; a running one whose worker was stopped goes back to
queued once). A running job whose heartbeat is older than STALE_AFTER_S lost its worker
(``kill -9``, a dyno gone): reading it, or the worker's start-up sweep, marks it failed, so a page
never shows "running" forever.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, fields
from typing import Protocol

from sqlalchemy import Engine, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from ..errors import ClientBusyError, QueueFullError, UnknownJobError, excerpt
from .db import guarded, writing
from .models import Job, ModelVersion

__all__ = ["ACTIVE", "DONE", "STALE_AFTER_S", "ClientBusyError", "JobRecord", "QueueFullError",
           "UnknownJobError", "active_count", "attach_task", "aware", "cancel", "check_room",
           "create", "finish", "get", "heartbeat", "position", "requeue", "running_ids", "start",
           "sweep_stale", "utc"]

JOBS = "training jobs"
ACTIVE = ("queued", "running")
DONE = ("succeeded", "failed", "cancelled")
STALE_AFTER_S = 60  # a running job whose heartbeat is older: its worker is gone
MAX_ATTEMPTS = 2  # a job re-queued once (its worker was stopped) fails the second time
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
REASON_CHARS = 300
STOPPED = "the worker stopped mid-job"
# Creation takes this PostgreSQL advisory lock for its transaction (SQLite's write lock, taken
# at BEGIN, does the same): two web workers never both count room and both insert.
LOCK_KEY = 0x4A6F_6273  # "Jobs"
UNKNOWN_CLIENT = "unknown"  # senders whose address is not known share one slot
# An ended job's row is removed this many days after it ended, unless its model is still kept
# (its token is that model's delete link): at RATE_LIMIT_JOBS' 5 an hour per client, the table
# holds what 30 days of jobs leave, each row about 1-5 kB.
KEEP_DAYS = 30
# And at most this many ended rows without a kept model in all, the oldest removed first.
MAX_ENDED = 10_000
# A job still queued this long was taken by no worker (none runs, or its task was lost): it
# fails, freeing its client's slot and its place in JOB_QUEUE_SIZE.
QUEUED_MAX_S = 3600
NOT_TAKEN = "no worker took the job within an hour, so it was dropped; start it again"


class SpecLike(Protocol):
    """What ``create`` needs of a jobs.spec.JobSpec (the store sits below jobs/)."""

    ticker: str | None
    upload_id: int | None

    def to_dict(self) -> dict:
        """The settings as JSON."""


@dataclass(frozen=True)
class JobRecord:
    """A job as the page and the worker see it (never its client)."""

    id: int
    token: str
    status: str
    reason: str | None
    ticker: str | None
    upload_id: int | None
    spec: dict
    cancel_requested: bool
    task_id: str | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    model_name: str | None
    result: dict | None
    position: int | None  # queued jobs created before it; None unless queued


def utc(now: dt.datetime | None = None) -> dt.datetime:
    """``now`` (default: the clock) in UTC; the stores that date rows share it."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """``moment`` with its zone: SQLite gives back what it stored (UTC) without one."""
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


_utc, _aware = utc, aware  # this module's own spelling


def _record(session: Session, job: Job) -> JobRecord:
    values = {f.name: getattr(job, f.name) for f in fields(JobRecord) if f.name != "position"}
    for name in ("created_at", "started_at", "finished_at", "heartbeat_at"):
        values[name] = _aware(values[name])
    values["cancel_requested"] = bool(values["cancel_requested"])
    values["position"] = _position(session, job) if job.status == "queued" else None
    return JobRecord(**values)


def _position(session: Session, job: Job) -> int:
    return session.scalar(select(func.count()).select_from(Job).where(
        Job.status == "queued", Job.id < job.id)) or 0


def _check(token: str) -> str:
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise UnknownJobError(f"no training job has the token {excerpt(token, 50)}")
    return token


def _job(session: Session, token: str) -> Job:
    job = session.scalars(select(Job).where(Job.token == _check(token))).one_or_none()
    if job is None:
        raise UnknownJobError(f"no training job has the token {excerpt(token, 50)}: it was "
                              f"never issued or has been removed")
    return job


def _stale(cutoff: dt.datetime):
    # Running, and beaten last before ``cutoff`` (a job that never beat: started before it).
    return (Job.status == "running") & (func.coalesce(Job.heartbeat_at, Job.started_at) < cutoff)


def _fail_stale(session: Session, now: dt.datetime, stale_after_s: float,
                token: str | None = None) -> list[str]:
    cutoff = now - dt.timedelta(seconds=stale_after_s)
    waited = now - dt.timedelta(seconds=QUEUED_MAX_S)
    tokens = []
    for where, reason in ((_stale(cutoff), STOPPED),
                          ((Job.status == "queued") & (Job.created_at < waited), NOT_TAKEN)):
        where = where if token is None else where & (Job.token == token)
        found = list(session.scalars(select(Job.token).where(where)))
        if found:
            session.execute(update(Job).where(where, Job.token.in_(found)).values(
                status="failed", reason=reason, finished_at=now))
        tokens += found
    return tokens


@guarded(JOBS)
def create(engine: Engine, spec: SpecLike, client: str | None, queue_size: int, *,
           now: dt.datetime | None = None) -> JobRecord:
    """A new queued job for ``spec`` from ``client``, within the bounds, in one transaction.

    QueueFullError when ``queue_size`` jobs are queued or running; ClientBusyError when
    ``client`` (store.uploads.client_key; None: an unknown sender) has one queued or running.
    Jobs whose worker is gone are failed first, so they never hold the queue.
    """
    now, client = _utc(now), client or UNKNOWN_CLIENT
    with Session(writing(engine), expire_on_commit=False) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        _fail_stale(session, now, STALE_AFTER_S)
        _purge(session, now)
        _check_room(session, client, queue_size)
        job = Job(token=secrets.token_urlsafe(32), client=client, ticker=spec.ticker,
                  upload_id=spec.upload_id, spec=spec.to_dict(), status="queued",
                  cancel_requested=False, attempts=0, created_at=now)
        session.add(job)
        session.flush()
        return _record(session, job)


def _check_room(session: Session, client: str, queue_size: int) -> None:
    active = Job.status.in_(ACTIVE)
    if session.scalar(select(func.count()).select_from(Job).where(
            active, Job.client == client)):
        raise ClientBusyError("you already have a training job queued or running: one job "
                              "per client at a time, so wait for it to end or cancel it")
    if (session.scalar(select(func.count()).select_from(Job).where(active)) or 0) \
            >= queue_size:
        raise QueueFullError(f"the training queue is full: {queue_size} jobs are queued or "
                             f"running (JOB_QUEUE_SIZE={queue_size}), so try again in a few "
                             f"minutes")


@guarded(JOBS)
def check_room(engine: Engine, client: str | None, queue_size: int) -> None:
    """Raise what ``create`` would for ``client`` now (ClientBusyError, QueueFullError): the
    web asks before it stores a job's file, and ``create`` asks again, atomically."""
    with Session(engine) as session:
        _check_room(session, client or UNKNOWN_CLIENT, queue_size)


def _purge(session: Session, now: dt.datetime) -> None:
    # Each new job removes the rows of jobs that ended KEEP_DAYS ago and left no model, and
    # the oldest such rows past MAX_ENDED.
    ended = Job.status.in_(DONE) & ~exists().where(ModelVersion.job_id == Job.id)
    session.execute(delete(Job).where(
        ended, Job.finished_at < now - dt.timedelta(days=KEEP_DAYS)))
    over = list(session.scalars(select(Job.id).where(ended).order_by(
        Job.finished_at.desc(), Job.id.desc()).offset(MAX_ENDED).limit(1000)))
    if over:
        session.execute(delete(Job).where(Job.id.in_(over)))


@guarded(JOBS)
def get(engine: Engine, token: str, *, now: dt.datetime | None = None) -> JobRecord:
    """The job ``token`` names (UnknownJobError otherwise); a running one whose heartbeat is
    stale is marked, and returned, failed."""
    _check(token)
    with Session(engine) as session:
        job = _job(session, token)
        if not _fail_stale_needed(job, _utc(now)):
            return _record(session, job)
    with Session(writing(engine)) as session, session.begin():
        _fail_stale(session, _utc(now), STALE_AFTER_S, token)
        return _record(session, _job(session, token))


def _fail_stale_needed(job: Job, now: dt.datetime) -> bool:
    # A running job whose worker is gone, or a queued one no worker took.
    if job.status == "queued":
        return _aware(job.created_at) < now - dt.timedelta(seconds=QUEUED_MAX_S)
    if job.status != "running":
        return False
    beat = _aware(job.heartbeat_at or job.started_at)
    return beat is None or beat < now - dt.timedelta(seconds=STALE_AFTER_S)


def position(engine: Engine, token: str) -> int | None:
    """Queued jobs created before ``token``'s; None unless it is queued."""
    return get(engine, token).position


@guarded(JOBS)
def attach_task(engine: Engine, token: str, task_id: str) -> None:
    """Remember the queue's task id for ``token`` (to revoke it on cancel)."""
    with Session(writing(engine)) as session, session.begin():
        _job(session, token).task_id = task_id[:64]


@guarded(JOBS)
def start(engine: Engine, token: str, *, now: dt.datetime | None = None) -> JobRecord | None:
    """queued -> running (one more attempt, started and beaten now); None when the job is not
    queued (cancelled meanwhile, or already taken): the worker skips it."""
    now = _utc(now)
    with Session(writing(engine)) as session, session.begin():
        job = _job(session, token)
        moved = session.execute(update(Job).where(
            Job.id == job.id, Job.status == "queued", Job.cancel_requested.is_(False)).values(
            status="running", attempts=Job.attempts + 1, started_at=now, heartbeat_at=now,
            finished_at=None)).rowcount
        if not moved:
            return None
        session.refresh(job)
        return _record(session, job)


@guarded(JOBS)
def heartbeat(engine: Engine, token: str, *, now: dt.datetime | None = None) -> bool:
    """Beat a running job's heartbeat; False when the worker should stop: a cancel was asked,
    or the job is no longer running (failed as stale meanwhile)."""
    with Session(writing(engine)) as session, session.begin():
        moved = session.execute(update(Job).where(
            Job.token == _check(token), Job.status == "running").values(
            heartbeat_at=_utc(now))).rowcount
        if not moved:
            return False
        return not session.scalar(select(Job.cancel_requested).where(Job.token == token))


@guarded(JOBS)
def cancel(engine: Engine, token: str, *, now: dt.datetime | None = None) -> JobRecord:
    """A queued job is cancelled at once; a running one is asked to stop (its worker sees it at
    the next heartbeat and finishes it cancelled); an ended one is left as it is."""
    with Session(writing(engine)) as session, session.begin():
        job = _job(session, token)
        if job.status == "queued":
            job.status, job.finished_at = "cancelled", _utc(now)
            job.reason = "cancelled before it started"
        elif job.status == "running":
            job.cancel_requested = True
        session.flush()
        return _record(session, job)


@guarded(JOBS)
def finish(engine: Engine, token: str, status: str, reason: str | None = None,
           model_name: str | None = None, result: dict | None = None, *,
           now: dt.datetime | None = None) -> bool:
    """End the job with ``status`` (one of DONE), its one-sentence ``reason``, its model and
    result; False (nothing written) when it had ended already: a job failed as stale or
    cancelled meanwhile keeps that ending."""
    if status not in DONE:
        raise ValueError(f"status {excerpt(status)} is not one of {', '.join(DONE)}")
    with Session(writing(engine)) as session, session.begin():
        job = _job(session, token)
        if job.status not in ACTIVE:
            return False
        job.status, job.finished_at = status, _utc(now)
        job.reason = reason[:REASON_CHARS] if reason else None
        job.model_name, job.result = model_name, result
        return True


@guarded(JOBS)
def requeue(engine: Engine, token: str, reason: str, *, now: dt.datetime | None = None) -> bool:
    """A running job whose worker was stopped goes back to the queue, once: True when it was
    re-queued (the caller submits its token again), False when it failed (its second attempt)
    or was cancelled (a cancel was asked) instead."""
    now = _utc(now)
    with Session(writing(engine)) as session, session.begin():
        job = _job(session, token)
        if job.status != "running":
            return False
        if job.cancel_requested:
            job.status, job.finished_at, job.reason = "cancelled", now, "cancelled while running"
            return False
        job.reason = reason[:REASON_CHARS] if reason else None
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at = "failed", now
            return False
        job.status, job.heartbeat_at, job.started_at = "queued", None, None
        return True


@guarded(JOBS)
def sweep_stale(engine: Engine, stale_after_s: float = STALE_AFTER_S, *,
                now: dt.datetime | None = None) -> list[str]:
    """Mark failed every running job whose heartbeat is older than ``stale_after_s`` ("the
    worker stopped mid-job") and every job queued longer than QUEUED_MAX_S; their tokens."""
    with Session(writing(engine)) as session, session.begin():
        return _fail_stale(session, _utc(now), stale_after_s)


@guarded(JOBS)
def running_ids(engine: Engine) -> set[int]:
    """The ids of the jobs running now (a worker keeps their folders)."""
    with Session(engine) as session:
        return set(session.scalars(select(Job.id).where(Job.status == "running")))


@guarded(JOBS)
def active_count(engine: Engine) -> int:
    """Jobs queued or running now."""
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Job).where(
            or_(*(Job.status == status for status in ACTIVE)))) or 0

"""Training jobs in the database, on SQLite and a real PostgreSQL: the queue's bounds, one job
per client, cancel, re-queue once, a stale heartbeat, and the queue position."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from stockPredictor.errors import ClientBusyError, QueueFullError, UnknownJobError
from stockPredictor.jobs.spec import JobSpec
from stockPredictor.store import jobs
from stockPredictor.store.models import Job

from tests.race import race

SPEC = JobSpec(ticker="IBM", epochs=2)


def _age(engine, token: str, seconds: float) -> None:
    # What a worker killed ``seconds`` ago leaves: its last heartbeat that old.
    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)
    with Session(engine) as session, session.begin():
        session.execute(update(Job).where(Job.token == token).values(heartbeat_at=then))


def test_a_job_is_created_queued_with_an_unguessable_token(engine):
    job = jobs.create(engine, SPEC, "client-a", queue_size=5)
    assert job.status == "queued" and job.position == 0 and job.attempts == 0
    assert len(job.token) == 43 and jobs.TOKEN.fullmatch(job.token)
    again = jobs.get(engine, job.token)
    assert again.spec == SPEC.to_dict() and again.ticker == "IBM" and again.upload_id is None
    assert again.created_at.tzinfo is not None and again.result is None
    assert jobs.active_count(engine) == 1


def test_one_active_job_per_client(engine):
    first = jobs.create(engine, SPEC, "client-a", queue_size=5)
    with pytest.raises(ClientBusyError, match="one job per client at a time"):
        jobs.create(engine, SPEC, "client-a", queue_size=5)
    jobs.create(engine, SPEC, "client-b", queue_size=5)  # another client may
    jobs.finish(engine, first.token, "succeeded")
    assert jobs.create(engine, SPEC, "client-a", queue_size=5).status == "queued"


def test_a_full_queue_is_refused_naming_its_bound(engine):
    for client in ("a", "b", "c"):
        jobs.create(engine, SPEC, client, queue_size=3)
    with pytest.raises(QueueFullError, match="JOB_QUEUE_SIZE=3"):
        jobs.create(engine, SPEC, "d", queue_size=3)
    assert jobs.active_count(engine) == 3


def test_racing_web_workers_never_overfill_the_queue(url, engine):
    # Eight clients at once against room for three, each through its own engine (as separate
    # gunicorn workers have): the count and the insert are one transaction.
    made, refused, other = [], [], []

    def submit(each, index: int) -> None:
        try:
            made.append(jobs.create(each, SPEC, f"client-{index}", queue_size=3))
        except QueueFullError:
            refused.append(index)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            other.append(exc)

    race(url, 8, submit)
    assert other == [] and len(made) == 3 and len(refused) == 5
    assert jobs.active_count(engine) == 3


def test_position_counts_the_queued_jobs_before_it(engine):
    tokens = [jobs.create(engine, SPEC, f"c{i}", queue_size=10).token for i in range(3)]
    assert [jobs.get(engine, t).position for t in tokens] == [0, 1, 2]
    assert jobs.start(engine, tokens[0]).position is None  # running: no position
    assert [jobs.position(engine, t) for t in tokens] == [None, 0, 1]
    jobs.cancel(engine, tokens[1])
    assert jobs.position(engine, tokens[2]) == 0


def test_start_runs_a_queued_job_once(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    started = jobs.start(engine, token)
    assert started.status == "running" and started.attempts == 1
    assert started.started_at is not None and started.heartbeat_at is not None
    assert jobs.start(engine, token) is None  # a second consumer skips it
    assert jobs.heartbeat(engine, token) is True


def test_cancelling_a_queued_job_ends_it_at_once_and_the_worker_skips_it(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    cancelled = jobs.cancel(engine, token)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert jobs.start(engine, token) is None
    assert jobs.active_count(engine) == 0


def test_cancelling_a_running_job_asks_its_worker_to_stop(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.start(engine, token)
    asked = jobs.cancel(engine, token)
    assert asked.status == "running" and asked.cancel_requested is True
    assert jobs.heartbeat(engine, token) is False  # the worker's cue
    jobs.finish(engine, token, "cancelled", reason="cancelled while it trained")
    done = jobs.get(engine, token)
    assert done.status == "cancelled" and done.reason == "cancelled while it trained"
    assert jobs.cancel(engine, token).status == "cancelled"  # an ended job is left alone


def test_finish_keeps_the_model_and_the_result(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.start(engine, token)
    jobs.finish(engine, token, "succeeded", model_name="ibm-lstm-abc123",
                result={"model": "ibm-lstm-abc123", "epochs_run": 2})
    done = jobs.get(engine, token)
    assert (done.status, done.model_name, done.result["epochs_run"]) == \
        ("succeeded", "ibm-lstm-abc123", 2)
    with pytest.raises(ValueError, match="not one of"):
        jobs.finish(engine, token, "running")


def test_a_stopped_worker_requeues_its_job_once_then_it_fails(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.start(engine, token)
    assert jobs.requeue(engine, token, "the worker was stopped; queued again") is True
    again = jobs.get(engine, token)
    assert again.status == "queued" and again.position == 0 and again.attempts == 1
    assert jobs.start(engine, token).attempts == 2
    assert jobs.requeue(engine, token, "the worker was stopped twice") is False
    failed = jobs.get(engine, token)
    assert failed.status == "failed" and failed.reason == "the worker was stopped twice"
    assert jobs.requeue(engine, token, "again") is False  # an ended job stays ended


def test_requeue_of_a_job_asked_to_cancel_cancels_it(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.start(engine, token)
    jobs.cancel(engine, token)
    assert jobs.requeue(engine, token, "stopped") is False
    assert jobs.get(engine, token).status == "cancelled"


def test_a_stale_heartbeat_reads_as_failed_and_frees_the_client(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.start(engine, token)
    _age(engine, token, jobs.STALE_AFTER_S - 20)
    assert jobs.get(engine, token).status == "running"  # beaten recently enough
    _age(engine, token, jobs.STALE_AFTER_S + 5)
    gone = jobs.get(engine, token)
    assert gone.status == "failed" and gone.reason == "the worker stopped mid-job"
    assert gone.finished_at is not None
    assert jobs.heartbeat(engine, token) is False  # a worker that comes back stops
    assert jobs.create(engine, SPEC, "a", queue_size=5).status == "queued"


def test_the_sweep_fails_only_the_stale_running_jobs(engine):
    stale, fresh, queued = (jobs.create(engine, SPEC, c, queue_size=5).token for c in "abc")
    jobs.start(engine, stale)
    jobs.start(engine, fresh)
    _age(engine, stale, 300)
    assert jobs.sweep_stale(engine) == [stale]
    assert [jobs.get(engine, t).status for t in (stale, fresh, queued)] == \
        ["failed", "running", "queued"]
    assert jobs.sweep_stale(engine, stale_after_s=0.0,
                            now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)) \
        == [fresh]


def test_dead_jobs_never_hold_the_queue(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=1).token
    jobs.start(engine, token)
    _age(engine, token, 600)
    assert jobs.create(engine, SPEC, "b", queue_size=1).status == "queued"
    assert jobs.get(engine, token).status == "failed"


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "../" * 15, None, "é" * 43])
def test_an_unknown_or_malformed_token_is_unknown(engine, token):
    with pytest.raises(UnknownJobError, match="no training job has the token"):
        jobs.get(engine, token)
    with pytest.raises(UnknownJobError):
        jobs.cancel(engine, token or "")


def test_attach_task_keeps_the_queue_s_task_id(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.attach_task(engine, token, "5b1f0c1e-7d4a-4f1e-9a57-0f7e1b8e2c11")
    assert jobs.get(engine, token).task_id == "5b1f0c1e-7d4a-4f1e-9a57-0f7e1b8e2c11"


def test_an_unknown_client_shares_one_slot(engine):
    jobs.create(engine, JobSpec(upload_id=4), None, queue_size=5)
    with pytest.raises(ClientBusyError):
        jobs.create(engine, SPEC, None, queue_size=5)


def test_ended_jobs_are_removed_after_the_retention_unless_their_model_is_kept(engine, tmp_path):
    import shutil
    from pathlib import Path

    from stockPredictor.store import model_versions

    month = dt.timedelta(days=jobs.KEEP_DAYS + 1)
    then = dt.datetime.now(dt.timezone.utc) - month
    old, kept, recent = (jobs.create(engine, SPEC, client, queue_size=9, now=then).token
                         for client in ("a", "b", "c"))
    for token in (old, kept, recent):
        jobs.start(engine, token, now=then)
    folder = tmp_path / "ibm-lstm-aaaaaa"
    shutil.copytree(Path(jobs.__file__).resolve().parents[3] / "Flask_webapp" / "models" / "ibm",
                    folder)
    model_versions.save(engine, folder, name="ibm-lstm-aaaaaa", job_token=kept, ticker="IBM",
                        scope="ticker", is_default=False, summary={}, keep=5)
    jobs.finish(engine, old, "failed", "x", now=then)
    jobs.finish(engine, kept, "succeeded", model_name="ibm-lstm-aaaaaa", now=then)
    jobs.finish(engine, recent, "cancelled", "x")  # ended now: within the retention
    jobs.create(engine, SPEC, "d", queue_size=9)  # each new job purges
    with pytest.raises(UnknownJobError):
        jobs.get(engine, old)
    assert jobs.get(engine, kept).status == "succeeded"  # its model's delete link lives on
    assert jobs.get(engine, recent).status == "cancelled"


def test_a_job_no_worker_took_within_the_hour_fails_and_frees_its_slot(engine):
    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=jobs.QUEUED_MAX_S + 60)
    token = jobs.create(engine, SPEC, "a", queue_size=1, now=then).token
    young = jobs.create(engine, SPEC, "b", queue_size=2).token  # queued a moment ago
    assert jobs.get(engine, young).status == "queued"
    lost = jobs.get(engine, token)
    assert lost.status == "failed" and lost.reason == jobs.NOT_TAKEN
    jobs.create(engine, SPEC, "a", queue_size=2)  # its client may start again
    assert jobs.start(engine, token) is None  # its task, if it ever comes, is skipped


def test_the_sweep_fails_jobs_queued_too_long_too(engine):
    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=jobs.QUEUED_MAX_S + 60)
    token = jobs.create(engine, SPEC, "a", queue_size=5, now=then).token
    assert jobs.sweep_stale(engine) == [token]
    assert jobs.active_count(engine) == 0


def test_an_ended_job_keeps_its_ending(engine):
    token = jobs.create(engine, SPEC, "a", queue_size=5).token
    jobs.start(engine, token)
    _age(engine, token, jobs.STALE_AFTER_S + 5)
    assert jobs.get(engine, token).status == "failed"  # read as stale: its worker is gone
    # The worker was only slow: its late "succeeded" does not overwrite the failure.
    assert jobs.finish(engine, token, "succeeded", model_name="ibm-lstm-late") is False
    job = jobs.get(engine, token)
    assert (job.status, job.model_name, job.reason) == ("failed", None, jobs.STOPPED)


def test_check_room_refuses_as_create_would_without_writing(engine):
    jobs.create(engine, SPEC, "a", queue_size=2)
    with pytest.raises(ClientBusyError):
        jobs.check_room(engine, "a", 2)
    jobs.check_room(engine, "b", 2)  # room for b: nothing raised, nothing written
    assert jobs.active_count(engine) == 1
    jobs.create(engine, SPEC, "b", queue_size=2)
    with pytest.raises(QueueFullError):
        jobs.check_room(engine, "c", 2)


def test_running_ids_name_the_running_jobs_only(engine):
    running = jobs.create(engine, SPEC, "a", queue_size=5)
    jobs.create(engine, SPEC, "b", queue_size=5)  # queued
    jobs.start(engine, running.token)
    assert jobs.running_ids(engine) == {running.id}


def test_ended_rows_past_their_bound_go_oldest_first(engine, monkeypatch):
    monkeypatch.setattr(jobs, "MAX_ENDED", 2)
    tokens = []
    for i, client in enumerate("abc"):
        token = jobs.create(engine, SPEC, client, queue_size=9).token
        jobs.start(engine, token)
        jobs.finish(engine, token, "failed", "x",
                    now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10 - i))
        tokens.append(token)
    jobs.create(engine, SPEC, "d", queue_size=9)  # each new job purges
    with pytest.raises(UnknownJobError):
        jobs.get(engine, tokens[0])
    assert [jobs.get(engine, t).status for t in tokens[1:]] == ["failed", "failed"]

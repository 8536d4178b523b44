"""Training jobs end to end, over real HTTP: the Procfile's worker process and its gunicorn web
processes on one database, the queue on the SQLite default or a real Redis (plain and TLS).

A job submitted through the API is followed while it trains, succeeds, and both web processes
serve its model without a restart; cancel stops it; SIGTERM queues it again; kill -9 leaves it
failed, with no model and no folder once the next worker swept; a full queue and a second job
are refused; no web process ever loads TensorFlow. Tiny networks throughout.
"""

from __future__ import annotations

import datetime as dt
import signal
import shutil
import time
from contextlib import ExitStack

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from stockPredictor import store
from stockPredictor.jobs.queue import JobQueue
from stockPredictor.settings import Settings
from stockPredictor.store.models import Job, ModelVersion

from tests.jobs_stack import (LONG, TINY, Deployment, call, loaded_tensorflow, new_folder,
                              wait_for, web_processes)
from tests.redis_server import redis_server, unavailable

pytestmark = pytest.mark.slow
DONE = ("succeeded", "failed", "cancelled")
OTHER_CLIENT = {"X-Forwarded-For": "203.0.113.9"}  # another sender, through the one trusted hop


class Site:
    """A deployment with two web processes (two dynos) and the worker running now."""

    def __init__(self, deployment: Deployment, webs: list):
        self.deployment, self.webs = deployment, webs
        self.engine = store.engine_for(deployment.database_url)

    def worker(self):
        """The live worker, started anew when the last one is gone."""
        workers = self.deployment.workers
        if workers and workers[-1].process.poll() is None:
            return workers[-1]
        return self.deployment.start_worker()

    def temp_folders(self) -> list[str]:
        """The job folders under the worker's CACHE_DIR/training."""
        folder = self.deployment.worker_cache / "training"
        return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def site():
    """The SQLite default: a database file and the queue in the instance folder; two web
    processes and a worker."""
    folder = new_folder("jobs-e2e-")
    deployment = Deployment(folder, JOB_QUEUE_SIZE="1")
    store.upgrade(deployment.database_url)  # the Procfile's release phase
    try:
        with ExitStack() as stack:
            webs = [stack.enter_context(deployment.web(f"web{index}")) for index in range(2)]
            site = Site(deployment, webs)
            site.worker()
            yield site
            site.engine.dispose()
    finally:
        deployment.close()
        shutil.rmtree(folder, ignore_errors=True)


def submit(web, spec: dict, headers: dict | None = None) -> str:
    """POST /api/v1/jobs; the new job's token."""
    status, head, body = call(web.base, "POST", "/api/v1/jobs", spec, headers)
    assert status == 202, body
    # On Redis the worker may have taken it before the answer is written.
    assert body["status"] in ("queued", "running") and head["Location"].endswith(body["token"])
    return body["token"]


def job(web, token: str) -> dict:
    """GET /api/v1/jobs/<token>."""
    status, _, body = call(web.base, "GET", f"/api/v1/jobs/{token}")
    assert status == 200, body
    return body


def follow(web, token: str, timeout: float, until=lambda body: body["status"] in DONE):
    """Poll the job every 0.1 s until ``until`` says so (bounded); every answer seen."""
    seen = []

    def check():
        seen.append(job(web, token))
        return until(seen[-1])
    wait_for(check, timeout, interval=0.1)
    return seen


def training(body: dict) -> bool:
    """The job is running and has reported an epoch."""
    progress = body.get("progress") or {}
    return body["status"] == "running" and (progress.get("epoch") or 0) >= 1


def forecast_model(web, model: str | None) -> str | None:
    """The model that answered a 3-day IBM forecast asking for ``model`` (None: refused)."""
    payload = {"ticker": "IBM", "horizon": 3, **({"model": model} if model else {})}
    status, _, body = call(web.base, "POST", "/api/v1/forecast", payload)
    return body["model"] if status == 200 and len(body["forecast"]) == 3 else None


def run_tiny_job(web) -> dict:
    """A tiny job through the API, followed to its end: it was seen training, then succeeded."""
    token = submit(web, TINY)
    seen = follow(web, token, timeout=120)
    final = seen[-1]
    assert final["status"] == "succeeded", final
    during = [body for body in seen if training(body)]
    assert during, [(body["status"], body.get("progress")) for body in seen]
    progress = during[-1]["progress"]
    assert progress["epochs"] == TINY["epochs"] and 1 <= progress["epoch"] <= TINY["epochs"]
    assert len(progress["loss"]) >= progress["epoch"] - 1
    result = final["result"]
    assert final["model"] == result["model"] and final["model"].startswith("ibm-lstm-")
    assert 1 <= result["epochs_run"] <= TINY["epochs"] and len(result["loss"]) == \
        result["epochs_run"]
    assert result["test"]["steps"] and result["validation"]["steps"]
    return final


def served_everywhere(webs, model: str, timeout: float = 30) -> float:
    """Wait until every web process answers a forecast with ``model``; the seconds it took."""
    began = time.monotonic()
    for web in webs:
        assert wait_for(lambda: forecast_model(web, model) == model, timeout, 0.25), \
            f"{web.base} never served {model}"
    took = time.monotonic() - began
    # Past one poll interval (MODEL_POLL_S=1) each gunicorn worker has looked: all serve it.
    time.sleep(1.2)
    for web in webs:
        assert {forecast_model(web, model) for _ in range(6)} == {model}
    return took


def no_model_left(site: Site, token: str) -> None:
    """The job kept no model: none in the database, none listed, none it may delete."""
    with Session(site.engine) as session:
        job_id = session.scalar(select(Job.id).where(Job.token == token))
        assert job_id is not None
        assert session.scalars(select(ModelVersion.name).where(
            ModelVersion.job_id == job_id)).all() == []
    status, _, body = call(site.webs[0].base, "DELETE", f"/api/v1/jobs/{token}/model")
    assert status == 404, body


@pytest.mark.parametrize("tls", [False, True], ids=["redis", "rediss"])
def test_a_job_runs_end_to_end_on_redis(tls):
    reason = unavailable(tls)
    if reason:
        pytest.skip(f"Redis tests not run: {reason}")
    folder = new_folder("jobs-redis-")
    try:
        with redis_server(tls=tls) as url:
            # No ssl_cert_reqs in the URL: the self-signed certificate is taken (the default).
            assert url.startswith("rediss://" if tls else "redis://") and "?" not in url
            deployment = Deployment(folder, redis_url=url)
            store.upgrade(deployment.database_url)
            try:
                with deployment.web("web") as web:
                    worker = deployment.start_worker()
                    assert "redis queue" in worker.text()
                    model = run_tiny_job(web)["model"]
                    served_everywhere([web], model)
                    assert not (folder / "instance" / "jobs.db").exists()  # not on SQLite
                    for pid in web_processes(web.pid):
                        assert loaded_tensorflow(pid) == [], pid
            finally:
                deployment.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_job_runs_end_to_end_and_both_web_processes_serve_its_model(site):
    before = {forecast_model(web, None) for web in site.webs}
    assert before == {"ibm"}  # the committed model, before any job
    site.worker()
    final = run_tiny_job(site.webs[0])
    model = final["model"]
    assert final["links"]["forecast"] and model in final["links"]["forecast"]
    took = served_everywhere(site.webs, model)
    print(f"\nboth web processes served {model} {took:.1f} s after the job succeeded; "
          f"phases {final['result']['seconds']}")
    for web in site.webs:  # listed by both, and its forecast page renders with it
        status, _, listing = call(web.base, "GET", "/api/v1/models")
        assert status == 200 and model in [entry["name"] for entry in listing["trained"]]
        assert model in web.get(final["links"]["forecast"])
    assert site.temp_folders() == []


def test_a_full_queue_and_a_second_job_are_refused_and_cancel_stops_the_running_job(site):
    site.worker()
    web = site.webs[1]
    token = submit(web, LONG)
    # JOB_QUEUE_SIZE=1: while it is queued or running, this client is busy and the queue full.
    status, head, body = call(web.base, "POST", "/api/v1/jobs", TINY)
    assert status == 429 and body["error"] == "client_busy" and int(head["Retry-After"]) > 0
    status, head, body = call(web.base, "POST", "/api/v1/jobs", TINY, OTHER_CLIENT)
    assert status == 503 and body["error"] == "queue_full" and int(head["Retry-After"]) > 0
    assert "JOB_QUEUE_SIZE" in body["message"]
    assert training(follow(web, token, timeout=90, until=training)[-1])
    assert site.temp_folders()  # it trains in its folder now
    status, _, body = call(web.base, "POST", f"/api/v1/jobs/{token}/cancel")
    assert status == 200 and body["cancel_requested"] and body["status"] == "running"
    asked = time.monotonic()
    final = follow(site.webs[0], token, timeout=30)[-1]
    print(f"\ncancelled {time.monotonic() - asked:.1f} s after the cancel: {final['reason']}")
    assert final["status"] == "cancelled" and final["model"] is None, final
    no_model_left(site, token)
    assert site.temp_folders() == []
    # The queue has room again: the other client's job is taken (and cancelled while queued).
    other = submit(web, TINY, OTHER_CLIENT)
    status, _, body = call(web.base, "POST", f"/api/v1/jobs/{other}/cancel", headers=OTHER_CLIENT)
    assert status == 200 and body["status"] in ("cancelled", "running")
    assert follow(web, other, timeout=60)[-1]["status"] in ("cancelled", "succeeded")


def test_sigterm_stops_the_worker_within_seconds_and_queues_its_job_again(site):
    worker = site.worker()
    web = site.webs[0]
    token = submit(web, LONG)
    assert training(follow(web, token, timeout=90, until=training)[-1])
    asked = time.monotonic()
    code = worker.stop(signal.SIGTERM, timeout=40)
    print(f"\nthe worker exited {time.monotonic() - asked:.1f} s after SIGTERM")
    assert code == 0, worker.text()[-3000:]
    assert "Traceback" not in worker.text()
    body = job(web, token)
    assert body["status"] == "queued" and body["position"] == 0, body
    assert "queued again" in body["reason"] and body["progress"] is None
    no_model_left(site, token)
    assert site.temp_folders() == []
    # Cancelled while queued, it is never trained: the next worker skips its task.
    status, _, body = call(web.base, "POST", f"/api/v1/jobs/{token}/cancel")
    assert status == 200 and body["status"] == "cancelled"
    site.worker()
    queue = JobQueue.open(Settings.read(site.deployment.env),
                          site.deployment.folder / "instance")
    assert wait_for(lambda: queue.pending() == 0, 20)  # the new worker took the task...
    assert job(web, token)["status"] == "cancelled"  # ...and left it as it was


def test_kill_9_mid_job_leaves_it_failed_and_the_next_worker_sweeps_its_folder(site):
    worker = site.worker()
    web = site.webs[1]
    token = submit(web, LONG)
    assert training(follow(web, token, timeout=90, until=training)[-1])
    left = site.temp_folders()
    assert left  # what the killed run leaves on its disk
    assert worker.stop(signal.SIGKILL, timeout=10) == -signal.SIGKILL
    # Its heartbeat stops now. A deployment waits STALE_AFTER_S (60 s) before taking the job
    # for dead; the test ages the heartbeat instead of waiting that long.
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    with site.engine.begin() as connection:
        connection.execute(update(Job).where(Job.token == token).values(
            heartbeat_at=old, started_at=old))
    assert site.temp_folders() == left
    queue = JobQueue.open(Settings.read(site.deployment.env),
                          site.deployment.folder / "instance")
    assert queue.progress(token) is not None  # what the killed run left in the queue's store
    site.worker()  # its start-up sweep fails the job and removes the folder
    with site.engine.connect() as connection:
        status = connection.scalar(select(Job.status).where(Job.token == token))
    assert status == "failed"
    assert site.temp_folders() == []
    body = job(web, token)
    assert body["status"] == "failed" and body["model"] is None and body["progress"] is None
    assert "worker stopped" in body["reason"]
    assert queue.progress(token) is None  # the sweep removed its progress too
    no_model_left(site, token)


def test_web_processes_never_load_tensorflow(site):
    worker = site.worker()
    assert loaded_tensorflow(worker.pid)  # the check sees TensorFlow where it is loaded
    for web in site.webs:
        assert forecast_model(web, None) == "ibm"
        pids = web_processes(web.pid)
        assert len(pids) >= 3  # the master and its two workers
        for pid in pids:
            assert loaded_tensorflow(pid) == [], pid

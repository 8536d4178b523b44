"""The job queue on each of its engines: the embedded SQLite default in an instance folder, and a
real Redis (Debian's redis-server) plain and over TLS with a self-signed certificate. A task runs
through a real Huey consumer with one thread worker, in this process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from stockPredictor.errors import NotTrainedError
from stockPredictor.jobs import queue as queue_module
from stockPredictor.jobs.queue import HANDLERS, QUEUE_FILE, JobQueue
from stockPredictor.settings import Settings

TOKEN = "t" * 43


@pytest.fixture(scope="module")
def tls_redis_url():
    """A Redis that serves TLS only, with a self-signed certificate (as Heroku's does)."""
    from tests.redis_server import redis_server, unavailable

    reason = unavailable(tls=True)
    if reason:
        pytest.skip(f"Redis TLS tests not run: {reason}")
    with redis_server(tls=True) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis", "rediss"])
def queue(request, tmp_path):
    """A JobQueue of each kind, empty."""
    url = {"sqlite": "", "redis": "redis_url", "rediss": "tls_redis_url"}[request.param]
    url = request.getfixturevalue(url) if url else ""
    opened = JobQueue.open(replace(Settings(), redis_url=url), tmp_path / "instance")
    opened.huey.flush()  # a Redis shared by the run: this queue's keys only
    yield opened
    opened.huey.flush()


@pytest.fixture
def handler():
    """A test's HANDLERS["train"], removed at the end (as in a web process)."""
    yield HANDLERS
    HANDLERS.pop("train", None)


def test_the_kind_follows_redis_url(queue, tmp_path, request):
    asked = request.node.callspec.params["queue"]
    assert queue.kind == {"sqlite": "sqlite", "redis": "redis", "rediss": "redis"}[asked]
    if queue.kind == "sqlite":
        assert (tmp_path / "instance" / QUEUE_FILE).is_file()


def test_submit_enqueues_one_task_and_revoke_marks_it(queue):
    task_id = queue.submit(TOKEN)
    assert isinstance(task_id, str) and len(task_id) >= 32
    assert queue.pending() == 1
    assert not queue.huey.is_revoked(task_id)
    queue.revoke(task_id)
    assert queue.huey.is_revoked(task_id)


def test_progress_is_peeked_never_popped_and_cleared_at_the_end(queue):
    assert queue.progress(TOKEN) is None
    first = {"phase": "training", "epoch": 1, "epochs": 3, "loss": [0.5], "val_loss": [0.6]}
    queue.put_progress(TOKEN, first)
    assert queue.progress(TOKEN) == first
    assert queue.progress(TOKEN) == first  # a second reader sees it too
    second = dict(first, epoch=2, loss=[0.5, 0.4], val_loss=[0.6, 0.55])
    queue.put_progress(TOKEN, second)
    assert queue.progress(TOKEN) == second
    assert queue.progress("u" * 43) is None  # another job's is its own
    queue.clear_progress(TOKEN)
    assert queue.progress(TOKEN) is None
    queue.clear_progress(TOKEN)  # clearing twice is harmless


def test_worker_seen_says_how_long_ago_a_worker_beat(queue):
    assert queue.worker_seen() is None
    queue.beat()
    seen = queue.worker_seen()
    assert seen is not None and 0 <= seen < 30


def test_a_value_that_is_not_json_is_no_progress(queue):
    queue.huey.storage.put_data("progress:" + TOKEN, b"\x80\x04not json")
    assert queue.progress(TOKEN) is None


def test_without_a_handler_the_task_says_training_runs_in_the_worker(handler):
    with pytest.raises(NotTrainedError, match="training runs in the worker process"):
        queue_module.train(TOKEN)


def test_a_real_consumer_runs_the_task_and_skips_a_revoked_one(queue, handler):
    ran, done = [], threading.Event()

    def train(token: str) -> None:
        ran.append(token)
        queue.put_progress(token, {"phase": "training", "epoch": 1})
        done.set()

    handler["train"] = train
    revoked = queue.submit("r" * 43)
    queue.revoke(revoked)
    queue.submit(TOKEN)
    consumer = queue.huey.create_consumer(workers=1, worker_type="thread", periodic=False,
                                          initial_delay=0.05, max_delay=0.2, backoff=1.1)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer.start()
    for number, action in saved.items():  # the consumer's handlers are the worker's, not ours
        signal.signal(number, action)
    try:
        assert done.wait(timeout=30), "the consumer did not run the task within 30 s"
        deadline = time.monotonic() + 5
        while queue.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        consumer.stop(graceful=True)
    assert ran == [TOKEN]
    assert queue.pending() == 0
    assert queue.progress(TOKEN) == {"phase": "training", "epoch": 1}


def test_a_url_that_asks_for_a_verified_certificate_gets_it(tls_redis_url, tmp_path):
    import redis

    strict = JobQueue.open(replace(Settings(), redis_url=tls_redis_url + "?ssl_cert_reqs=required"),
                           tmp_path)
    with pytest.raises(redis.ConnectionError):
        strict.beat()  # the test server's certificate is self-signed


def test_two_processes_share_the_sqlite_queue_in_the_instance_folder(tmp_path):
    web = JobQueue.open(Settings(), tmp_path)
    web.submit(TOKEN)
    worker = JobQueue.open(Settings(), tmp_path)  # another process opens the same file
    assert worker.pending() == 1
    worker.put_progress(TOKEN, {"epoch": 2})
    assert web.progress(TOKEN) == {"epoch": 2}


def test_importing_the_queue_never_imports_training():
    code = ("import sys, stockPredictor.jobs.queue, stockPredictor.jobs.spec, "
            "stockPredictor.store.jobs, stockPredictor.store.model_versions; "
            "print([m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') "
            "or m.startswith('stockPredictor.training')])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"

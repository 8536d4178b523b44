"""Stand-ins for the watchlist pages' tests (issue 22): a queue that records what the pages
enqueue, and the worker's cold job run in the test's process against the app's own parts.

Package D's tests began on fake rows while forecast.watch was a stub; they now use the real
``forecast.watch``, ``store.watchlists``, ``store.price_batch`` and ``jobs.watch``. What stays
fake is the queue's consumer: no worker process runs in these tests.
"""

from __future__ import annotations

from flask import Flask

from stockPredictor.jobs import watch as watch_jobs
from stockPredictor.jobs.worker import Context


class RecordingQueue:
    """Records ``submit_watch(task, token)`` calls instead of enqueueing; ``fail`` raises."""

    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def submit_watch(self, task: str, token: str) -> str:
        """Record the call (or raise ``fail``); a task id."""
        if self.fail is not None:
            raise self.fail
        self.calls.append((task, token))
        return f"task-{len(self.calls)}"


def record_watch_jobs(app: Flask, monkeypatch, fail: Exception | None = None) -> RecordingQueue:
    """Make ``app``'s queue record the watchlist jobs the pages submit."""
    recorder = RecordingQueue(fail)
    monkeypatch.setattr(app.extensions["jobs"], "submit_watch", recorder.submit_watch)
    return recorder


def run_cold_job(app: Flask, token: str) -> int:
    """Run the cold job of list ``token`` as a worker would, with ``app``'s settings, database,
    registry and prices; how many summaries it stored."""
    context = Context(settings=app.extensions["settings"],
                      engine=app.extensions["database"].engine, queue=app.extensions["jobs"],
                      registry=app.extensions["registry"], prices=app.extensions["price_cache"])
    return watch_jobs.run_cold(token, context)

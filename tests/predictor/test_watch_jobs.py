"""The watchlist jobs (issue 22) run as the worker runs them: submitted to the real SQLite queue,
taken off it and executed by Huey with the handlers jobs.worker.install sets. The cold job stores
each ticker's summary as soon as it is computed, so the page fills its rows in one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockPredictor.data.sample import from_sample
from stockPredictor.errors import DataError, NotTrainedError, QueueFullError
from stockPredictor.forecast import watch
from stockPredictor.jobs import queue as queue_module
from stockPredictor.jobs import worker
from stockPredictor.jobs.queue import JobQueue
from stockPredictor.model.registry import Registry
from stockPredictor.settings import Settings
from stockPredictor.store import database_url, engine_for, upgrade, watch_summaries, watchlists
from stockPredictor.store.price_cache import price_cache

ROOT = Path(__file__).resolve().parents[2]
TICKERS = ["IBM", "NOPE", "MSFT"]


@pytest.fixture
def context(tmp_path):
    overrides = {"PRICE_SOURCE": "sample", "CACHE_DIR": str(tmp_path / "cache"),
                 "MODELS_DIR": str(ROOT / "Flask_webapp" / "models")}
    settings = Settings.read({}, overrides)
    url = database_url("", tmp_path / "instance")
    upgrade(url)
    engine = engine_for(url)
    queue = JobQueue.open(settings, tmp_path / "instance")
    built = worker.Context(settings, engine, queue, Registry(settings.models_dir).load(),
                           price_cache(settings, engine))
    handlers = dict(queue_module.HANDLERS)  # the process's own, as they were
    yield built
    queue_module.HANDLERS.clear()
    queue_module.HANDLERS.update(handlers)
    engine.dispose()


def _run_next(queue: JobQueue) -> None:
    """What the worker's consumer does with the next task: take it and execute it."""
    task = queue.huey.dequeue()
    assert task is not None, "nothing was queued"
    queue.huey.execute(task)


def _list(context) -> str:
    return watchlists.create(context.engine, "mine", TICKERS, "client", max_tickers=50,
                             max_name=80, per_day=20).token


def _keys(context) -> dict:
    frames = {t: from_sample(t) for t in ("IBM", "MSFT")}
    return watch.keys(frames, {t: context.registry.model_for(t) for t in frames})


def test_a_watch_task_outside_the_worker_says_where_it_runs(context):
    queue_module.HANDLERS.clear()
    context.queue.submit_watch("watch_cold", "x" * 43)
    task = context.queue.huey.dequeue()
    with pytest.raises(NotTrainedError, match="worker process"):
        task.execute()
    with pytest.raises(ValueError, match="watch_cold, watch_refresh"):
        context.queue.submit_watch("train", "x" * 43)


def test_the_cold_job_fills_the_lists_rows_in_one_ticker_at_a_time(context, monkeypatch):
    worker.install(context)
    token = _list(context)
    keys = _keys(context)
    assert watch_summaries.get_many(context.engine, keys.values()) == {}
    seen = []  # (summaries in the database, progress) after each summary the job stores
    put = watch_summaries.put

    def recording_put(engine, summary, max_rows, *args, **kwargs):
        put(engine, summary, max_rows, *args, **kwargs)
        stored = watch_summaries.get_many(context.engine, keys.values())
        seen.append((sorted(key[1] for key in stored),
                     context.queue.progress("watch:" + token)))

    monkeypatch.setattr(watch_summaries, "put", recording_put)
    context.queue.submit_watch("watch_cold", token)
    assert context.queue.pending() == 1
    _run_next(context.queue)
    # One row more in the database per summary; the unknown ticker gets none.
    assert [len(tickers) for tickers, _ in seen] == [1, 2]
    assert seen[-1][0] == ["IBM", "MSFT"]
    assert [progress for _, progress in seen] == [
        {"phase": "cold", "done": 0, "total": 2}, {"phase": "cold", "done": 1, "total": 2}]
    assert context.queue.progress("watch:" + token) is None  # the job ended: its entry went
    stored = watch_summaries.get_many(context.engine, keys.values())
    for ticker in ("IBM", "MSFT"):
        summary = stored[keys[ticker]]
        assert summary.model_name == context.registry.model_for(ticker).name
        assert summary.as_of == f"{from_sample(ticker).index[-1]:%Y-%m-%d}"
    # Run again: nothing is cold, nothing is computed.
    context.queue.submit_watch("watch_cold", token)
    _run_next(context.queue)
    assert len(seen) == 2


def test_a_list_gone_or_a_stopping_worker_ends_the_job_quietly(context, monkeypatch):
    worker.install(context)
    token = _list(context)
    watchlists.delete(context.engine, token)
    context.queue.submit_watch("watch_cold", token)
    _run_next(context.queue)  # no list: nothing to do, and no error
    token = _list(context)
    context.stopping.set()
    context.queue.submit_watch("watch_cold", token)
    _run_next(context.queue)
    assert watch_summaries.get_many(context.engine, _keys(context).values()) == {}


def test_the_refresh_job_has_nothing_to_fetch_from_the_bundled_sample(context):
    worker.install(context)
    token = _list(context)
    assert watchlists.claim(context.engine, token, "refresh", 300)
    context.queue.submit_watch("watch_refresh", token)
    _run_next(context.queue)
    assert watch_summaries.get_many(context.engine, _keys(context).values()) == {}
    # Nothing fetched: the claim stays until its guard, so the page does not ask every poll.
    assert watchlists.get(context.engine, token).refresh_requested_at is not None
    assert context.queue.progress("watch:" + token) is None


def test_a_ticker_that_fails_gets_its_reason_stored_and_is_not_tried_again(context, monkeypatch):
    worker.install(context)
    token = _list(context)
    keys = _keys(context)
    summarise, tried = watch.summarise, []

    def failing(frame, model, tables, ticker=None):
        tried.append(ticker)
        if ticker == "MSFT":
            raise DataError("/srv/app/cache/MSFT.csv holds 3 rows")  # never shown
        return summarise(frame, model, tables, ticker=ticker)

    monkeypatch.setattr(watch, "summarise", failing)
    assert watchlists.claim(context.engine, token, "cold", watchlists.CLAIM_STALE_S)
    context.queue.submit_watch("watch_cold", token)
    _run_next(context.queue)
    stored = watch_summaries.get_many(context.engine, keys.values())
    assert isinstance(stored[keys["IBM"]], watch.Summary)
    failed = stored[keys["MSFT"]]
    assert isinstance(failed, watch.Failed) and "/srv" not in failed.reason
    assert failed.reason.endswith("change") and "rows" not in failed.reason
    # Its work done, the job gave the claim back: the page may queue the next one...
    assert watchlists.get(context.engine, token).cold_queued_at is None
    # ...and the next finds nothing cold: the failure is not computed again, and with nothing
    # to do the job keeps its claim, so a polling page does not queue one every poll.
    assert watchlists.claim(context.engine, token, "cold", watchlists.CLAIM_STALE_S)
    context.queue.submit_watch("watch_cold", token)
    _run_next(context.queue)
    assert sorted(tried) == ["IBM", "MSFT"]
    assert watchlists.get(context.engine, token).cold_queued_at is not None


def test_past_watch_jobs_max_waiting_tasks_no_watch_job_is_queued(context):
    queue = context.queue
    queue.watch_max = 2  # as WATCH_JOBS_MAX=2 opens it
    queue.submit_watch("watch_cold", "a" * 43)
    queue.submit_watch("watch_refresh", "a" * 43)
    with pytest.raises(QueueFullError, match="WATCH_JOBS_MAX=2"):
        queue.submit_watch("watch_cold", "b" * 43)
    assert queue.pending() == 2
    queue.huey.dequeue()  # the worker takes one: room again
    queue.submit_watch("watch_cold", "b" * 43)
    assert queue.pending() == 2


def test_the_queue_takes_its_bound_from_the_settings(tmp_path):
    settings = Settings.read({"WATCH_JOBS_MAX": "7"}, {})
    assert JobQueue.open(settings, tmp_path).watch_max == 7

"""A training job run in-process by the worker's run_job, against SQLite and the bundled sample:
it succeeds with a stored model and an honest result, reports each epoch, and a cancel, the time
limit, a bad upload or a training error each end it with one sentence, no model and no files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from stockPredictor.jobs import worker
from stockPredictor.jobs.queue import JobQueue
from stockPredictor.jobs.spec import JobSpec
from stockPredictor.model import artifacts
from stockPredictor.model.registry import Registry
from stockPredictor.settings import Settings
from stockPredictor.store import database_url, engine_for, jobs, model_versions, upgrade, uploads
from stockPredictor.store.price_cache import price_cache

pytestmark = pytest.mark.slow  # trains small models with Keras

ROOT = Path(__file__).resolve().parents[2]
TINY = {"ticker": "IBM", "window": 5, "units": 4, "epochs": 2, "days": 300}


def _recording(queue: JobQueue) -> JobQueue:
    """The real SQLite queue, remembering every progress put in ``puts``; ``on_epoch(token,
    epoch)``, when set, runs as each epoch's progress is put."""
    queue.puts, queue.on_epoch = [], None
    put = queue.put_progress

    def put_progress(token, progress):
        queue.puts.append(dict(progress, loss=list(progress["loss"])))
        put(token, progress)
        if progress["phase"] == "training" and progress["epoch"] and queue.on_epoch:
            queue.on_epoch(token, progress["epoch"])

    queue.put_progress = put_progress
    return queue


@pytest.fixture
def context(tmp_path):
    overrides = {"PRICE_SOURCE": "sample", "CACHE_DIR": str(tmp_path / "cache"),
                 "MODELS_DIR": str(ROOT / "Flask_webapp" / "models"), "TRAIN_THREADS": "1"}
    settings = Settings.read({}, overrides)
    url = database_url("", tmp_path / "instance")
    upgrade(url)
    engine = engine_for(url)
    queue = _recording(JobQueue.open(settings, tmp_path / "instance"))
    built = worker.Context(settings, engine, queue, Registry(settings.models_dir).load(),
                           price_cache(settings, engine))
    yield built
    engine.dispose()


def _job(context, **spec) -> str:
    return jobs.create(context.engine, JobSpec(**{**TINY, **spec}), "client", 5).token


def _left(context) -> list[str]:
    folder = worker.training_folder(context.settings)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_job_trains_stores_a_verified_model_and_says_how_it_did(context, tmp_path):
    token = _job(context)
    worker.run_job(token, context)
    job = jobs.get(context.engine, token)
    assert job.status == "succeeded", job.reason
    result = job.result
    assert job.model_name == result["model"] and result["model"].startswith("ibm-lstm-")
    # The stored files verify, and load for serving.
    stored = model_versions.files(context.engine, result["model"])
    folder = tmp_path / "check" / result["model"]
    folder.mkdir(parents=True)
    for name, data in stored.items():
        (folder / name).write_bytes(data)
    model = artifacts.load(folder)
    assert model.tickers == ["IBM"] and model.config.window == 5 and model.config.units == 4
    assert model.metadata["data"]["IBM"]["rows"] == 300
    # Validation: every step, the new model, the general one and IBM's committed one.
    validation = result["validation"]
    assert validation["incumbent"] == "ibm" and validation["origins"] > 0
    assert [row["h"] for row in validation["steps"]] == list(range(1, 31))
    for row in validation["steps"]:
        assert all(row[key] > 0 for key in ("model", "general", "incumbent"))
    assert validation["mean_model"] == pytest.approx(
        sum(row["model"] for row in validation["steps"]) / 30, abs=1e-3)
    assert result["is_default"] == (validation["mean_model"] < validation["mean_incumbent"])
    assert f"{validation['mean_incumbent']:.4f}" in result["default_reason"]
    # The held-out test record, with p-values.
    test = result["test"]
    assert test["start"] > validation["end"] and test["words"].startswith("On its held-out")
    for row in test["steps"]:
        assert row["ratio"] > 0 and (row["p"] is None or 0 <= row["p"] <= 1)
        assert row["verdict"] in ("better", "worse", "no measurable difference", "too few")
    assert set(result["policy_steps"]) <= set(range(1, 31)) and result["policy_words"]
    assert result["epochs_run"] == len(result["loss"]) == len(result["val_loss"]) <= 2
    assert set(result["seconds"]) == {"queued", "loading", "training", "judging", "saving",
                                      "total"}
    # One progress put per epoch, in order, before judging; nothing left behind.
    epochs = [put["epoch"] for put in context.queue.puts if put["phase"] == "training"
              and put["epoch"]]
    assert epochs == list(range(1, result["epochs_run"] + 1))
    assert [put["phase"] for put in context.queue.puts][-2:] == ["judging", "saving"]
    assert context.queue.progress(token) is None  # cleared: the result holds the figures
    assert _left(context) == []
    listed = model_versions.listing(context.engine)
    assert [v.name for v in listed] == [result["model"]]
    assert listed[0].is_default == result["is_default"] and listed[0].ticker == "IBM"


def test_a_cancel_after_the_first_epoch_stops_training_and_leaves_nothing(context):
    token = _job(context, epochs=50)
    asked = []

    def cancel_once(job_token, epoch):
        if not asked:
            asked.append(time.monotonic())
            thread = threading.Thread(target=jobs.cancel, args=(context.engine, job_token))
            thread.start()
            thread.join(10)
            # Long enough for the job's heartbeat to read the flag before the next epoch ends.
            time.sleep(worker.HEARTBEAT_S * 2)

    context.queue.on_epoch = cancel_once
    worker.run_job(token, context)
    job = jobs.get(context.engine, token)
    assert job.status == "cancelled" and job.model_name is None
    assert job.reason.startswith("Cancelled at epoch ")
    epochs = [put["epoch"] for put in context.queue.puts if put["phase"] == "training"]
    assert max(epochs) < 5  # stopped at the first check after the flag, not after 50 epochs
    assert model_versions.listing(context.engine) == []
    assert _left(context) == []
    # The curve so far moved into the job's row; nothing of it stays in the queue's store.
    assert context.queue.progress(token) is None
    assert len(job.result["progress"]["loss"]) == max(epochs)


def test_a_job_past_its_time_limit_fails_with_a_sentence(context):
    context.settings = Settings.read({}, {**_overrides(context), "JOB_TIME_LIMIT_S": "0.001"})
    token = _job(context)
    worker.run_job(token, context)
    job = jobs.get(context.engine, token)
    assert job.status == "failed"
    assert job.reason.startswith("The job ran past its time limit of 0.001 seconds")
    assert model_versions.listing(context.engine) == [] and _left(context) == []


@pytest.mark.parametrize("content, words", [
    (b"hello;world\nthis is;not prices\n", "column"),
    (None, "upload 999 does not exist"),
])
def test_a_bad_upload_fails_with_a_sentence(context, content, words):
    upload_id = 999 if content is None else uploads.save(
        context.engine, content, "prices.csv", {"ticker": None}, client="c",
        budgets=uploads.Budgets.of(context.settings))
    token = jobs.create(context.engine, JobSpec(upload_id=upload_id, window=5, units=4,
                                                epochs=1, days=300), "client", 5).token
    worker.run_job(token, context)
    job = jobs.get(context.engine, token)
    assert job.status == "failed" and words in job.reason.lower()
    assert "\n" not in job.reason and "/" not in job.reason and job.reason.endswith(".")
    assert _left(context) == []


def test_a_training_error_fails_the_job_and_leaves_no_folder(context, monkeypatch):
    from stockPredictor.training import smooth_policy

    folder = str(worker.training_folder(context.settings))

    def broken(model, frames, **options):  # fails inside artifacts.save, the model half written
        raise RuntimeError(f"disk trouble in {folder}/x")

    monkeypatch.setattr(smooth_policy, "fit_entry", broken)
    token = _job(context, epochs=1)
    worker.run_job(token, context)
    job = jobs.get(context.engine, token)
    assert job.status == "failed" and "internal error (RuntimeError)" in job.reason
    assert folder not in job.reason
    assert model_versions.listing(context.engine) == [] and _left(context) == []


def test_a_stopping_worker_requeues_its_job(context):
    token = _job(context, epochs=50)
    submitted = []
    context.queue.submit = lambda job_token: submitted.append(job_token) or "task-2"
    context.queue.on_epoch = lambda job_token, epoch: context.stopping.set()
    worker.run_job(token, context)
    job = jobs.get(context.engine, token)
    assert job.status == "queued" and job.task_id == "task-2" and submitted == [token]
    assert job.attempts == 1 and context.queue.progress(token) is None
    assert model_versions.listing(context.engine) == [] and _left(context) == []


def test_the_callback_stops_a_fit_mid_epoch():
    import keras
    import numpy as np

    from stockPredictor.training.job_callback import JobCallback, JobStopped

    ticks = iter(range(10_000))
    asked, epochs = [], []

    def should_stop():
        asked.append(1)
        return "stop now" if len(asked) >= 2 else None

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = JobCallback(5, lambda *figures: epochs.append(figures), should_stop,
                           clock=lambda: float(next(ticks)))  # every batch past CHECK_EVERY_S
    x = np.zeros((64, 3), np.float32)
    with pytest.raises(JobStopped, match="stop now"):
        model.fit(x, x[:, :1], batch_size=4, epochs=5, verbose=0, callbacks=[callback])
    assert epochs == [] and len(asked) == 2  # stopped at the second batch of the first epoch


def _overrides(context) -> dict:
    settings = context.settings
    return {"PRICE_SOURCE": "sample", "CACHE_DIR": str(settings.cache_dir),
            "MODELS_DIR": str(settings.models_dir), "TRAIN_THREADS": "1"}


def test_reasons_are_one_sentence_without_folders(context):
    folder = context.settings.cache_dir / "training" / "3.tmp"
    text = worker.sentence(f"cannot read {folder}/m/model.h5\n  now", context.settings, folder)
    assert text == "Cannot read m/model.h5 now."

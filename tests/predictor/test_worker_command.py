"""The stock-predictor worker command: a real worker process runs a queued job (progress read
while it runs), SIGTERM stops it within seconds, queues it again and exits 0; without
TensorFlow the command says how to install the training set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stockPredictor.cli import main
from stockPredictor.jobs.queue import JobQueue
from stockPredictor.jobs.spec import JobSpec
from stockPredictor.settings import Settings
from stockPredictor.store import database_url, engine_for, jobs, model_versions, upgrade

ROOT = Path(__file__).resolve().parents[2]


def test_without_tensorflow_the_worker_says_how_to_install_it(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    assert main(["worker"]) == 1
    err = capsys.readouterr().err
    assert "requirements-train.txt" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_sigterm_stops_the_running_job_queues_it_again_and_exits_0(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
           "PRICE_SOURCE": "sample", "INSTANCE_PATH": str(tmp_path / "instance"),
           "CACHE_DIR": str(tmp_path / "cache"), "TRAIN_THREADS": "1",
           "MODELS_DIR": str(ROOT / "Flask_webapp" / "models"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    settings = Settings.read(env)
    url = database_url("", tmp_path / "instance")
    upgrade(url)
    engine = engine_for(url)
    queue = JobQueue.open(settings, tmp_path / "instance")
    # Epochs of a second or more, so that SIGTERM lands mid-training.
    spec = JobSpec(ticker="IBM", window=60, units=64, layers=2, epochs=50, days=2500)
    token = jobs.create(engine, spec, "client", 5).token
    jobs.attach_task(engine, token, queue.submit(token))
    process = subprocess.Popen([sys.executable, "-m", "stockPredictor.cli", "worker"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        progress = None
        for _ in range(1200):  # at most 120 s: TensorFlow's import, then the first epoch
            progress = queue.progress(token)
            if (progress and progress.get("epoch")) or process.poll() is not None:
                break
            time.sleep(0.1)
        assert progress and progress["epoch"] >= 1 and progress["phase"] == "training"
        assert progress["epochs"] == 50 and len(progress["loss"]) == progress["epoch"]
        assert jobs.get(engine, token).status == "running"
        assert queue.worker_seen() is not None
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output
    job = jobs.get(engine, token)
    assert job.status == "queued" and job.attempts == 1, job.reason
    assert queue.pending() == 1  # submitted again: the next worker takes it
    assert queue.progress(token) is None
    assert model_versions.listing(engine) == []
    training = tmp_path / "cache" / "training"
    assert not training.exists() or list(training.iterdir()) == []
    engine.dispose()

"""A whole training deployment on loopback, for the end-to-end tests and bench/bench_jobs.py:
the worker process as the Procfile runs it (`stock-predictor worker`), web processes as the
Procfile runs them (gunicorn), one database, and the queue on SQLite (the instance folder) or
a real Redis; plus a small HTTP client that also gives status and headers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Callable

from tests.servers import ROOT, free_port, serve
from tests.webapp.test_procfile import children, procfile_processes

BIN = Path(sys.executable).parent  # the venv's stock-predictor and gunicorn, as on Heroku's PATH
# The smallest job worth running: a few seconds of training.
TINY = {"ticker": "IBM", "window": 5, "units": 4, "layers": 1, "epochs": 3, "days": 300}
# A job whose epochs take a second or more: something to cancel, stop or kill mid-training.
LONG = {"ticker": "IBM", "window": 60, "units": 48, "layers": 2, "epochs": 50, "days": 2500}


def call(base: str, method: str, path: str, payload: dict | None = None,
         headers: dict | None = None, timeout: float = 30) -> tuple[int, Message, dict]:
    """``method path`` (JSON ``payload``); status, headers (any case) and the JSON answer ({}
    when none)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, head, body = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, head, body = error.code, error.headers, error.read()
    try:
        return status, head, json.loads(body) if body else {}
    except ValueError:
        return status, head, {"text": body.decode(errors="replace")[:500]}


def wait_for(check: Callable[[], object], timeout: float, interval: float = 0.2):
    """Call ``check`` until it answers something true or ``timeout`` seconds pass (bounded in
    count and time); its last answer."""
    deadline = time.monotonic() + timeout
    value = None
    for _ in range(int(timeout / interval) + 1):
        value = check()
        if value or time.monotonic() > deadline:
            break
        time.sleep(interval)
    return value


class Worker:
    """A running `stock-predictor worker` process and its log."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self.started = time.monotonic()
        with open(log, "ab") as out:
            command = [str(BIN / "stock-predictor"), *procfile_processes()["worker"].split()[1:]]
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid

    def text(self) -> str:
        """Everything the worker wrote so far."""
        return self.log.read_text(errors="replace")

    def ready(self, timeout: float = 120) -> float:
        """Wait until it serves the queue; seconds since it started."""
        if not wait_for(lambda: "worker ready" in self.text() or self.process.poll() is not None,
                        timeout) or self.process.poll() is not None:
            raise RuntimeError(f"the worker did not start:\n{self.text()[-3000:]}")
        if "worker ready" not in self.text():
            raise RuntimeError(f"the worker did not start in {timeout} s:\n{self.text()[-3000:]}")
        return time.monotonic() - self.started

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Send ``sig``; its exit status, or None when it did not exit within ``timeout``."""
        if self.process.poll() is None:
            os.kill(self.pid, sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Make sure it is gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


class Deployment:
    """One database and one queue, with workers and web processes started on demand."""

    def __init__(self, folder: Path, redis_url: str = "", **settings: str):
        self.folder = folder
        self.database_url = f"sqlite:///{folder / 'shared.db'}"
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update({
            "PRICE_SOURCE": "sample", "DATABASE_URL": self.database_url,
            "INSTANCE_PATH": str(folder / "instance"), "TF_CPP_MIN_LOG_LEVEL": "2",
            "TRAIN_THREADS": "1", "MODEL_POLL_S": "1", "RATE_LIMITS": "0",
            "PRELOAD_TABLES": "0", "MODELS_DIR": str(ROOT / "Flask_webapp" / "models"),
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **settings})
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.workers: list[Worker] = []

    @property
    def worker_cache(self) -> Path:
        """The worker's CACHE_DIR (its jobs train under training/ there)."""
        return self.folder / "worker-cache"

    def start_worker(self) -> Worker:
        """A new worker process (its own disk: a cache folder of its own), ready."""
        worker = Worker({**self.env, "CACHE_DIR": str(self.worker_cache)},
                        self.folder / f"worker{len(self.workers)}.log")
        self.workers.append(worker)
        worker.ready()
        return worker

    @contextmanager
    def web(self, name: str, concurrency: int = 2):
        """The Procfile's web process on a free loopback port (a disk of its own); a Client
        with ``pid``."""
        port = free_port()
        env = {**self.env, "PORT": str(port), "HOST": "127.0.0.1",
               "WEB_CONCURRENCY": str(concurrency), "CACHE_DIR": str(self.folder / name)}
        with serve(procfile_processes()["web"], port, env=env) as client:
            yield client

    def close(self) -> None:
        """Stop every worker left running."""
        for worker in self.workers:
            worker.stop(signal.SIGTERM, timeout=15)
            worker.close()


def loaded_tensorflow(pid: int) -> list[str]:
    """The TensorFlow libraries mapped into process ``pid`` (Linux /proc)."""
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        if "tensorflow" in path.lower():
            found.add(Path(path).name)
    return sorted(found)


def web_processes(pid: int) -> list[int]:
    """The gunicorn processes (master and workers) a web server's command started."""
    return [child for child in [pid, *children(pid)]
            if "gunicorn" in Path(f"/proc/{child}/cmdline").read_text(errors="replace")]


def peak_kb(pid: int) -> int:
    """The highest resident memory (VmHWM) process ``pid`` has had, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def new_folder(prefix: str) -> Path:
    """A new temporary folder (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix=prefix))

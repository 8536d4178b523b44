"""Real servers for tests: a free loopback port, a command started and stopped, and a client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """A tiny HTTP client for one base URL (urllib: no extra dependency)."""

    def __init__(self, base: str):
        self.base = base

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=30) as answer:
            return answer.read().decode()

    def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        request = urllib.request.Request(self.base + path, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@contextmanager
def serve(command: list[str] | str, port: int, env: dict | None = None, timeout: float = 90.0):
    """Start ``command`` (a list, or a string for bash), wait for /healthz, yield a Client.

    Its database is a new SQLite file unless ``env`` names one: never the instance folder's.
    """
    log = tempfile.TemporaryFile()
    folder = tempfile.TemporaryDirectory(prefix="serve-db-")
    env = {"DATABASE_URL": f"sqlite:///{folder.name}/serve.db", **(env or {})}
    shell = isinstance(command, str)
    process = subprocess.Popen(["bash", "-c", command] if shell else command, cwd=ROOT,
                               env={**os.environ, **env}, stdout=log, stderr=log,
                               start_new_session=True)
    client = Client(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout * 4)):  # bounded in count and in time
            if process.poll() is not None or time.monotonic() > deadline:
                break
            try:
                client.get("/healthz")
                break
            except OSError:
                time.sleep(0.25)
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"{command} did not start on port {port}:\n"
                               f"{log.read().decode(errors='replace')[-3000:]}")
        client.pid = process.pid
        yield client
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        # Shown by pytest only when the test fails: what the server said, its exit included.
        log.seek(0)
        print(f"--- {command} log ---\n{log.read().decode(errors='replace')[-4000:]}")
        log.close()
        folder.cleanup()

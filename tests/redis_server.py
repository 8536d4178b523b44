"""A real Redis server for tests: Debian's redis-server on 127.0.0.1, in a temporary folder.

It listens on a free loopback port (or the one asked for, to start it again where it was), keeps
nothing on disk, and is stopped and removed at the end. ``tls=True`` serves TLS only, with a
self-signed certificate made by openssl, as Heroku Redis does: its URL is ``rediss://``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port

SERVER = "redis-server"


def unavailable(tls: bool = False) -> str | None:
    """Why a Redis server (over TLS, with ``tls``) cannot be started here, in one sentence."""
    if shutil.which(SERVER) is None:
        return "Debian's redis-server package is not installed (apt-get install redis-server)"
    if tls and shutil.which("openssl") is None:
        return "openssl is not installed, so no certificate can be made (apt-get install openssl)"
    return None


def _certificate(folder: Path) -> list[str]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return ["--port", "0", "--tls-port", "{port}", "--tls-cert-file", str(cert),
            "--tls-key-file", str(key), "--tls-auth-clients", "no"]


def _wait(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server stopped at start with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on port {port} within {timeout:.0f} s")


@contextmanager
def redis_server(port: int | None = None, tls: bool = False, timeout: float = 20.0):
    """Start redis-server; yield its URL (redis:// or, with ``tls``, rediss://); stop it."""
    port = port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="redis-test-"))
    listen = _certificate(folder) if tls else ["--port", "{port}"]
    command = [SERVER, "--bind", "127.0.0.1", *[arg.format(port=port) for arg in listen],
               "--dir", str(folder), "--save", "", "--appendonly", "no",
               "--protected-mode", "no", "--daemonize", "no", "--logfile", str(folder / "log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port, process, timeout)
        yield f"{'rediss' if tls else 'redis'}://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
        shutil.rmtree(folder, ignore_errors=True)

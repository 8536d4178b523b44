"""A real PostgreSQL server for tests: Debian's package, started as its own user on 127.0.0.1.

initdb refuses to run as root, so the cluster belongs to the ``postgres`` user (``runuser``
when the tests run as root) and lives in a temporary folder that user owns; it listens on a
free loopback port with trust authentication, and is stopped and removed at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port

USER = "postgres"
# port -> (start, stop) commands of the clusters running now, for ``stopped``.
_CLUSTERS: dict[int, tuple[list[str], list[str]]] = {}


def binaries() -> Path | None:
    """The folder of Debian's PostgreSQL programs (the newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here, in one sentence, or None."""
    if binaries() is None:
        return "Debian's postgresql package is not installed (apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing, so initdb cannot run as the postgres user"
    if os.geteuid() != 0 and not os.access(binaries() / "initdb", os.X_OK):
        return "initdb cannot be run by this user"
    return None


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(timeout: float = 60.0, durable: bool = False, port: int | None = None):
    """Start a throwaway cluster; yield its SQLAlchemy URL (psycopg 3); stop and remove it.

    Tests skip the disk flushes (fsync=off), which they never need; ``durable`` keeps them, as
    a real server has them, for benchmarks.
    """
    bin_dir, port = binaries(), port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, USER, USER)
    run = dict(check=True, capture_output=True, timeout=timeout)
    subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                              "-U", USER, "--no-sync", "-E", "UTF8"]), **run)
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    if not durable:
        options += " -c fsync=off -c full_page_writes=off"
    start = _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                       "-l", str(folder / "log"), "-w", "-t", str(int(timeout)), "start"])
    subprocess.run(start, **run)
    _CLUSTERS[port] = (start, _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                         "-w", "stop"]))
    try:
        subprocess.run(_as_owner([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p",
                                  str(port), "-U", USER, "stock"]), **run)
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/stock"
    finally:
        _CLUSTERS.pop(port, None)
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                  "-w", "stop"]), capture_output=True, timeout=timeout)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def stopped(url: str, timeout: float = 60.0):
    """Stop the server of ``url`` (one ``postgres_server`` started), keeping its data; start it
    again on the same port at the end: a database outage, as a restart or failover makes one."""
    from sqlalchemy.engine import make_url

    start, stop = _CLUSTERS[make_url(url).port]
    subprocess.run(stop, check=True, capture_output=True, timeout=timeout)
    try:
        yield
    finally:
        subprocess.run(start, check=True, capture_output=True, timeout=timeout)


def new_database(server_url: str) -> str:
    """A new, empty database on the server at ``server_url``; its URL."""
    from sqlalchemy import create_engine

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        admin.dispose()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"

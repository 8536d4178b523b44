"""What bench_abuse.py runs its attacks in: a checkout's Procfile server, its databases, sizes.

The server is the ``web:`` line of the checkout's own Procfile, run by bash in that checkout
with this venv's programs, on 127.0.0.1, with the checkout's package first on PYTHONPATH (the
venv's editable install points at /work/main's) and bench/fakeyahoo before it (a fake Yahoo and
a SQLite that refuses writes, each off unless asked for).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.postgres import binaries, unavailable  # noqa: E402
from tests.servers import free_port  # noqa: E402

FAKE_MODULES = ROOT / "bench" / "fakeyahoo"
# The app's settings a server must not inherit from the shell that runs the bench.
UNSET = ("DATABASE_URL", "PRICE_SOURCE", "REDIS_URL", "WEB_CONCURRENCY", "PORT", "HOST",
         "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY",
         "BENCH_FAKE_YAHOO", "BENCH_SQLITE_FILE", "BENCH_SQLITE_MAX_PAGES", "PYTHONPATH")


def web_command(tree: Path) -> str:
    """The ``web:`` line of ``tree``'s Procfile, as written."""
    for line in (tree / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"{tree / 'Procfile'} has no web: line")


def tree_env(tree: Path, extra: dict | None = None) -> dict:
    """The environment of a process that runs ``tree``'s code with this venv."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
               PYTHONPATH=f"{FAKE_MODULES}:{tree / 'LSTM_predictor'}", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra or {})
    return env


@dataclass
class Server:
    """A running Procfile server: its port, the bash (then gunicorn master) pid, its log."""

    port: int
    pid: int
    log: Path


def _get(port: int, path: str, timeout: float = 2.0) -> int | None:
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@contextmanager
def server(tree: Path, url: str, env: dict, log: Path, timeout: float = 240.0):
    """``tree``'s Procfile web command on a free loopback port, serving the database ``url``."""
    port = free_port()
    folder = tempfile.mkdtemp(prefix="abuse-cache-")
    full = tree_env(tree, {"PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": url,
                           "CACHE_DIR": folder, "SECRET_KEY": "bench-abuse-" + uuid.uuid4().hex,
                           **env})
    with open(log, "ab") as out:
        process = subprocess.Popen(["bash", "-c", "exec " + web_command(tree)], cwd=tree,
                                   env=full, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _get(port, "/healthz") is not None:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"the server did not start in {timeout:.0f} s; see {log}")
        _settle(process.pid)
        yield Server(port, process.pid, log)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


def _settle(pid: int, seconds: float = 20.0) -> None:
    # /healthz answers once one worker is up: wait until the worker count holds for a second.
    from loadkit import processes

    deadline, count, since = time.monotonic() + seconds, -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            now = len(processes(pid)[1])
        except OSError:  # a thread or process ended during the walk of /proc
            time.sleep(0.2)
            continue
        if now != count:
            count, since = now, time.monotonic()
        elif count and time.monotonic() - since >= 1.0:
            return
        time.sleep(0.2)


def migrate(tree: Path, url: str) -> None:
    """Create ``tree``'s tables in ``url`` as Heroku's release phase does."""
    subprocess.run([sys.executable, "-m", "stockPredictor.cli", "db", "upgrade"], cwd=tree,
                   env=tree_env(tree, {"DATABASE_URL": url}), check=True, capture_output=True,
                   timeout=120)


# --- PostgreSQL: one throwaway cluster that can be stopped and started again -----------------

class Postgres:
    """Debian's PostgreSQL 15 (as tests/postgres.py starts it, fsync on), stoppable mid-run."""

    USER = "postgres"

    def __init__(self) -> None:
        reason = unavailable()
        if reason:
            raise SystemExit(f"PostgreSQL: {reason}")
        self.bin, self.port = binaries(), free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="abuse-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, self.USER, self.USER)
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.USER, "--no-sync",
                  "-E", "UTF8")
        self.start()

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.USER, "--", *command]
        subprocess.run(command, check=check, capture_output=True, timeout=90)

    def start(self) -> None:
        """Start the cluster on its port (the same every time) and wait until it answers."""
        self._run("pg_ctl", "-D", str(self.data), "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.folder}", "-l",
                  str(self.folder / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once, as a crash or a failover does: clients are cut off."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def new_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = f"abuse_{uuid.uuid4().hex[:10]}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, name)
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        """Stop the cluster and remove its files."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


# --- reading a database from outside the server ----------------------------------------------

def sqlite_path(url: str) -> Path:
    """The file of a sqlite:/// URL."""
    return Path(url.split("///", 1)[1])


def size_bytes(url: str) -> int | None:
    """The database's size: SQLite's pages (its file with the WAL written back into it);
    PostgreSQL's pg_database_size. None if it does not answer."""
    if url.startswith("sqlite"):  # the file once checkpointed: the WAL's pages are in it
        value = query(url, "select page_count * page_size from pragma_page_count(), "
                      "pragma_page_size()")
    else:
        value = query(url, "select pg_database_size(current_database())")
    return None if value is None else int(value[0][0])


def query(url: str, sql: str, timeout: float = 5.0) -> list[tuple] | None:
    """Rows of ``sql`` on ``url``, or None when the database does not answer."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    args = {"connect_timeout": int(timeout)} if url.startswith("postgresql") else \
        {"timeout": timeout}
    engine = create_engine(url, connect_args=args, poolclass=_null_pool())
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    """Run one statement on ``url`` outside a transaction (ALTER DATABASE and the like)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def _null_pool():
    from sqlalchemy.pool import NullPool
    return NullPool


def live_tickers(url: str) -> set[str] | None:
    """The tickers that have a live forecast in the ledger; None if it cannot be read."""
    rows = query(url, "select distinct ticker from forecasts where kind = 'live'")
    if rows is None:  # a ledger of live forecasts only has no kind column
        rows = query(url, "select distinct ticker from forecasts")
    return None if rows is None else {row[0] for row in rows}


def count(url: str, table: str) -> int | None:
    """Rows in ``table``; None if it cannot be read."""
    rows = query(url, f"select count(*) from {table}")
    return None if rows is None else int(rows[0][0])


STOPPED = 64 * 1024      # second-half growth under this: the database stopped growing


class Sizes(threading.Thread):
    """The database's size every second while an attack runs."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.done, self.samples = url, threading.Event(), []

    def run(self) -> None:
        """Sample until stopped, then once more."""
        start = time.monotonic()
        while True:
            size = size_bytes(self.url)
            if size is not None:
                self.samples.append((time.monotonic() - start, size))
            if self.done.wait(1.0):
                break
        size = size_bytes(self.url)
        if size is not None:
            self.samples.append((time.monotonic() - start, size))

    def stop(self) -> None:
        """End the sampling."""
        self.done.set()
        self.join(30)

    def fill_time(self) -> str:
        """The time to 1 GB at the second half's growth rate; "never" when it stopped."""
        if len(self.samples) < 3:
            return "-"
        middle = (self.samples[0][0] + self.samples[-1][0]) / 2
        late = [s for s in self.samples if s[0] >= middle]
        grown, seconds = late[-1][1] - late[0][1], late[-1][0] - late[0][0]
        if grown < STOPPED or seconds <= 0:
            return "never"
        return _duration(1e9 / (grown / seconds))


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"

"""Engines for ``DATABASE_URL``, SQLite's settings for several processes, and migrations."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import StockPredictorError, excerpt

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_FILE = "stock-predictor.db"
# A writer waits this long for another process's write lock before "database is locked".
SQLITE_BUSY_MS = 10_000
# A PostgreSQL server that does not answer is given up on after this many seconds, well inside
# gunicorn's 30 s timeout, unless DATABASE_URL sets connect_timeout itself.
CONNECT_TIMEOUT_S = 5
# The execution option that marks a transaction as one that writes (see ``writing``).
WRITES = "stock_predictor_writes"


def database_url(url: str | None = None, folder: str | os.PathLike | None = None) -> str:
    """The SQLAlchemy URL for ``url`` (default: $DATABASE_URL), else a SQLite file in ``folder``.

    Heroku writes ``postgres://``, which SQLAlchemy 2 no longer reads; it and ``postgresql://``
    become ``postgresql+psycopg://`` (psycopg 3).
    """
    url = (url if url is not None else os.environ.get("DATABASE_URL", "")).strip()
    if not url:
        if folder is None:
            raise StockPredictorError("no database: set DATABASE_URL, or give the folder for "
                                      "the default SQLite file")
        return f"sqlite:///{Path(folder).resolve() / DEFAULT_FILE}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StockPredictorError("DATABASE_URL is not a database URL; expected e.g. "
                                  "postgres://user:password@host:5432/name") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StockPredictorError(f"DATABASE_URL names {excerpt(parsed.get_backend_name())}; "
                                  f"expected PostgreSQL or SQLite")
    return url


def display_url(url: str) -> str:
    """``url`` with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def writing(engine: Engine) -> Engine:
    """``engine`` for transactions that write: on SQLite they take the write lock at BEGIN.

    The same pool and connections; reads go through ``engine`` itself and never wait for a
    writer (WAL), nor make one wait.
    """
    return engine.execution_options(**{WRITES: True})


def engine_for(url: str, **options) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys per connection.

    ``options`` go to ``create_engine`` (a ``poolclass``, say) in place of the pool's sizes.
    """
    parsed = make_url(url)
    pool = options or {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 2}
    if parsed.get_backend_name() != "sqlite":
        connect = {} if "connect_timeout" in parsed.query else {
            "connect_timeout": CONNECT_TIMEOUT_S}
        return create_engine(url, connect_args=connect, **pool)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, **options)

    @event.listens_for(engine, "connect")
    def _sqlite_settings(connection, _record):
        # WAL: readers never wait for the writer, and several workers share one file.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # pysqlite's own BEGIN is deferred: a transaction that reads, then writes, must upgrade
        # its lock, and when another process wrote meanwhile SQLite answers "database is locked"
        # at once, whatever the busy timeout. A transaction through ``writing(engine)`` begins
        # IMMEDIATE instead, taking the write lock first, so a second writer waits its turn;
        # a read begins deferred and takes no lock at all.
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        writes = connection.get_execution_options().get(WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations on ``url`` up to ``revision``: an empty database gets every table."""
    from alembic import command
    from alembic.config import Config

    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    command.upgrade(config, revision)


class Database:
    """The app's database: its engine when it could be reached and migrated, else why not.

    A database that is down never stops forecasts: prices come from Yahoo or the sample, and
    ``status()`` says what is wrong for /api/v1/healthz.
    """

    def __init__(self, url: str, migrate: bool = True):
        self.url, self.engine, self.error = url, None, None
        try:
            if migrate:
                upgrade(url)
            self.engine = engine_for(url)
        except Exception as exc:  # any driver or migration failure: served without a database
            self.error = _reason(exc)
        else:
            # gunicorn --preload forks its workers from this process: a child must never use
            # a connection its parent opened, so each starts with an empty pool of its own.
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        if self.engine is not None:
            self.engine.dispose(close=False)

    def status(self) -> dict:
        """{"status": "ok"} when a query answers now, else {"status": "down", "reason"}."""
        if self.engine is None:
            return {"status": "down", "reason": self.error or "not configured"}
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception as exc:  # the server went away since start-up
            return {"status": "down", "reason": _reason(exc)}
        return {"status": "ok"}


def _reason(exc: Exception) -> str:
    # The driver's first line names the cause ("connection refused"); never a password.
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = first[0] if first else type(exc).__name__
    return f"{type(exc).__name__}: {excerpt(text, 160)}"

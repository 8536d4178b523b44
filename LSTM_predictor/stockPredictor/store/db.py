"""Engines for ``DATABASE_URL``, SQLite's settings for several processes, and migrations."""

from __future__ import annotations

import functools
import logging
import os
import time
import weakref
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .. import settings
from ..errors import DatabaseUnavailableError, StockPredictorError, excerpt

log = logging.getLogger(__name__)

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
    """The SQLAlchemy URL for ``url`` (default: the DATABASE_URL setting), else a SQLite file
    in ``folder``.

    Heroku writes ``postgres://``, which SQLAlchemy 2 no longer reads; it and ``postgresql://``
    become ``postgresql+psycopg://`` (psycopg 3).
    """
    url = (url if url is not None else settings.current().database_url).strip()
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
    """The app's database: its engine, and why it is down when it is.

    The engine exists whenever ``url`` is usable, even if the server did not answer at start:
    a database that comes back is used again without a restart. Until then every caller's
    query fails, and each caller serves without it (prices from Yahoo or the sample, ledger
    writes kept and retried by store/writer.py). A migration that failed at start is tried
    again when ``status()`` is asked (``/api/v1/healthz``), at most every ``RETRY_S`` seconds.
    """

    RETRY_S = 30.0

    def __init__(self, url: str, migrate: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        # ``error``: the detail, for logs; ``failure``: its kind alone, for answers.
        self.url, self.engine, self.error, self.migrate = url, None, None, migrate
        self.failure: str | None = None
        self.clock, self._tried, self._logged = clock, None, None
        try:
            self.engine = engine_for(url)
        except Exception as exc:  # an unusable URL or a missing driver: never any database
            self.error, self.failure = reason(exc), failure_kind(exc)
            return
        _track(self)
        if migrate:
            self._upgrade()

    def require(self, what: str) -> Engine:
        """The engine, or DatabaseUnavailableError saying ``what`` cannot be used without it."""
        if self.engine is None:
            raise DatabaseUnavailableError(unavailable(what))
        return self.engine

    def _upgrade(self) -> None:
        self._tried = self.clock()
        try:
            upgrade(self.url)
        except Exception as exc:  # any driver or migration failure: served without it for now
            self.error, self.failure = reason(exc), failure_kind(exc)
        else:
            self.error = self.failure = None

    def status(self) -> dict:
        """{"status": "ok"} when a query answers now, else {"status": "down", "reason"}.

        The reason names the kind of failure alone (``failure_kind``): it may reach a stranger,
        so never a host, port, user or path; the detail goes to the log, once per change.
        """
        if self.engine is None:
            return {"status": "down", "reason": self.failure or "no database is configured"}
        if self.error and self.migrate and self.clock() - self._tried >= self.RETRY_S:
            self._upgrade()
        if self.error:
            self._log(self.error)
            return {"status": "down", "reason": self.failure}
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception as exc:  # the server went away since start-up
            self._log(reason(exc))
            return {"status": "down", "reason": failure_kind(exc)}
        self._logged = None
        return {"status": "ok"}

    def _log(self, detail: str) -> None:
        if detail != self._logged:  # a health check polled every few seconds logs it once
            self._logged = detail
            log.warning("database down: %s", detail)


# gunicorn --preload forks its workers from the process that made the engines: a child must
# never use a connection its parent opened, so each starts with empty pools of its own. The hook
# is registered with the first database, not at import.
_DATABASES: weakref.WeakSet[Database] = weakref.WeakSet()


def _track(database: Database) -> None:
    if not _DATABASES and not getattr(_track, "registered", False):
        os.register_at_fork(after_in_child=_forked)
        _track.registered = True
    _DATABASES.add(database)


def _forked() -> None:
    for database in list(_DATABASES):
        database.engine.dispose(close=False)


def unavailable(what: str) -> str:
    """The sentence for ``what`` the database keeps while it does not answer."""
    return f"{what} is unavailable because the database is down; forecasts are still served"


def guarded(what: str):
    """A decorator: a database error in the function becomes DatabaseUnavailableError.

    The one way a database that is down reaches callers: they catch that error (and serve
    without the database), or let the web answer it with a 503. The reason goes to the log,
    never into the message, which may reach a stranger.
    """
    def decorate(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except SQLAlchemyError as exc:
                log.warning("%s: %s", function.__qualname__, reason(exc))
                raise DatabaseUnavailableError(unavailable(what)) from exc
        return call
    return decorate


def reason(exc: Exception) -> str:
    """Why ``exc`` happened, in one line of at most ~180 characters, never with a password."""
    # The driver's first line names the cause ("connection refused"); never a password.
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = first[0] if first else type(exc).__name__
    return f"{type(exc).__name__}: {excerpt(text, 160)}"


# The kinds of failure an answer may name. A stranger learns what kind of trouble the app is in
# and nothing more: never a host, port, user, file path or the driver's text.
NO_ANSWER = "the database does not answer"
DISK_FULL = "the database refuses writes: disk full"
READ_ONLY = "the database refuses writes: read-only"
LOCKED = "the database is busy: locked by another writer"
# Kind: PostgreSQL's SQLSTATEs, SQLite's result names, then words of the driver's text (read
# only when neither code says). The first kind whose code matches wins, then the first by words.
_KINDS = (
    (DISK_FULL, ("53100",), ("SQLITE_FULL",), ("disk is full", "no space left")),
    (READ_ONLY, ("25006",), ("SQLITE_READONLY",), ("readonly database", "read-only")),
    ("authentication failed", ("28000", "28P01"), ("SQLITE_AUTH",),
     ("authentication failed", "pg_hba.conf")),
    (LOCKED, ("55P03", "40P01", "40001"), ("SQLITE_BUSY", "SQLITE_LOCKED"), ("is locked",)),
    ("the database is busy: too many connections", ("53300",), (),
     ("too many connections", "too many clients")),
    ("the database is not migrated: a table is missing", ("42P01",), (), ("no such table",)),
    ("the database does not exist", ("3D000",), (), ()),
    ("the database file cannot be opened", (), ("SQLITE_CANTOPEN", "SQLITE_IOERR"), ()),
    (NO_ANSWER + ": it is stopping or starting", ("57P01", "57P02", "57P03"), (),
     ("shutting down", "starting up")),
    (NO_ANSWER + ": connection refused", (), (), ("connection refused",)),
    (NO_ANSWER + ": timed out", (), (), ("timeout expired", "timed out")),
    (NO_ANSWER, ("08000", "08001", "08003", "08004", "08006"), (),
     ("connection failed", "server closed", "could not connect", "could not translate",
      "name or service", "no route", "connection is closed", "consuming input failed")),
)


def failure_kind(exc: BaseException) -> str:
    """The kind of database failure ``exc`` is, in a few words safe to show anyone.

    "the database does not answer: connection refused", "the database refuses writes: disk
    full", "authentication failed", ...: read from the SQLSTATE (PostgreSQL), SQLite's result
    name, or failing those the driver's text, which itself is never shown.
    """
    orig = getattr(exc, "orig", None) or exc
    code = str(getattr(orig, "sqlstate", "") or "")
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    for kind, codes, names, _ in _KINDS:
        if code in codes or (name and any(name.startswith(n) for n in names)):
            return kind
    text = str(orig).lower()
    for kind, _, _, words in _KINDS:
        if any(word in text for word in words):
            return kind
    if isinstance(orig, ModuleNotFoundError) or type(exc).__name__ == "NoSuchModuleError":
        return "the database driver is not installed"
    if isinstance(exc, ArgumentError):
        return "the database URL is not usable"
    return f"the database failed ({type(orig).__name__})"

"""The settings a deployment makes through the environment (12-factor), read once, checked once.

``Settings.read(environ, overrides)`` turns the environment, and a test's overrides on top of it,
into one frozen object. ``current()`` is the process's own, read at its first use (never at
import), which the package's defaults use; the web app reads its own and passes it on. Nothing
else reads the environment, and nothing writes it. ``ENVIRONMENT`` names every variable read;
README's settings table lists exactly these.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import SettingError

# Where prices come from: Yahoo, then the bundled sample; Yahoo only; the sample only.
SOURCES = ("auto", "yahoo", "sample")
# The committed models live in the web app's folder; an editable install finds them here.
BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "Flask_webapp" / "models"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
# An origin's port when it names none.
DEFAULT_PORTS = {"http": 80, "https": 443}


def _whole(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise ValueError
        return value
    parse.rule = f"a whole number from {low} on"
    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError
    return value


_seconds.rule = "a number of seconds, 0 or more"


def _positive(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise ValueError
    return value


_positive.rule = "a number of seconds above 0"


def _flag(text: str) -> bool:
    text = text.strip().lower()
    if text not in TRUE + FALSE:
        raise ValueError
    return text in TRUE


_flag.rule = "1 or 0"


def _source(text: str) -> str:
    text = text.strip().lower()
    if text not in SOURCES:
        raise ValueError
    return text


_source.rule = f"one of {', '.join(SOURCES)}"


def _preload(text: str) -> bool | None:
    text = text.strip().lower()
    return None if text == "auto" else _flag(text)


_preload.rule = "auto, 1 or 0"


def _text(text: str) -> str:
    return text.strip()


_text.rule = "text"


def _path(text: str) -> Path:
    return Path(text).expanduser()


_path.rule = "a folder"


def origin(text: str) -> str | None:
    """``text`` as an origin, ``scheme://host[:port]`` in lower case without a default port;
    None when it is not an http(s) origin (a path, a query, a user or no host)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname or parts.username \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    scheme = parts.scheme.lower()
    shown = f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{parts.hostname.lower()}{shown}"


def _origins(text: str) -> tuple[str, ...]:
    given = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    if given == ["*"]:
        return ("*",)
    found = tuple(origin(part) for part in given)
    if None in found:
        raise ValueError
    return found


_origins.rule = "* or origins such as https://example.com, separated by commas"


# A rate as Flask-Limiter reads it: "60 per minute", "20/hour", "10 per 5 minutes".
RATE = re.compile(r"[1-9]\d*\s*(?:per|/)\s*(?:[1-9]\d*\s*)?(?:second|minute|hour|day)s?", re.I)
REDIS_SCHEMES = ("redis", "rediss")
CERT_REQS = ("none", "optional", "required")


def _rate(text: str) -> str:
    parts = [part.strip() for part in text.split(";")]
    if not all(RATE.fullmatch(part) for part in parts):
        raise ValueError
    return "; ".join(parts).lower()


_rate.rule = 'a rate such as "60 per minute" or "20 per hour" (several joined by ";")'


def _redis_url(text: str) -> str:
    text = text.strip()
    parts = urlsplit(text)
    # Heroku's rediss:// URLs need ssl_cert_reqs=none (a self-signed certificate); a value
    # redis-py does not know would only fail at the first request, so it is checked here.
    reqs = re.findall(r"(?:^|&)ssl_cert_reqs=([^&]*)", parts.query)
    if parts.scheme.lower() not in REDIS_SCHEMES or not parts.hostname or \
            any(value.lower() not in CERT_REQS for value in reqs):
        raise ValueError
    return text


_redis_url.rule = ("a redis:// or rediss:// URL with a host (ssl_cert_reqs, if given: none, "
                   "optional or required)")


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default; see ENVIRONMENT for the variable that sets each."""

    port: int = 5000
    secret_key: str = ""  # empty: a random key per process (nothing outlives a process)
    models_dir: Path = BUNDLED_MODELS
    cache_dir: Path = Path("~/.cache/stock-predictor").expanduser()
    instance_path: Path | None = None  # the default SQLite file's folder; None: ./instance
    price_source: str = "auto"
    price_ttl: float = 900.0  # seconds before any worker asks Yahoo for a ticker again
    store_read_ttl: float = 60.0  # seconds a worker reuses what it read from the price store
    # Seconds one Yahoo fetch may take in all, well inside gunicorn's and Heroku's 30 s.
    yahoo_deadline: float = 4.0
    yahoo_backoff: float = 60.0  # seconds every worker leaves Yahoo alone after it failed
    # Tickers whose prices the store keeps; the least recently read go first. At worst a ticker
    # is 64 years of days (16,100 rows) at 134 B a row on PostgreSQL (93 B of row, 41 B of
    # index): 2.2 MB, so 120 of them take 260 MB of a 1 GB Heroku Postgres (README).
    price_store_tickers: int = 120
    # Stored frames each process keeps for watchlists (store/price_batch.py), in MB: one 20-year
    # ticker is 240 kB of float64, so 64 MB holds the 120 the store keeps at that length.
    price_frames_mb: int = 64
    table_cache_mb: int = 64  # forecast-table blocks kept per process
    preload_tables: bool | None = None  # None: build the sample's tables when source is sample
    blas_threads: int = 1  # OpenBLAS threads per process; 0 leaves OpenBLAS alone
    database_url: str = ""  # empty: SQLite in the instance folder
    database_migrate: bool = True  # run the migrations when the app starts
    # The ledger writer of each worker (store/writer.py; README "Nothing lost silently"):
    ledger_queue_size: int = 1000  # distinct forecasts held while writes fail; more are dropped
    ledger_flush_s: float = 1.0  # seconds between writes: what a `kill -9` can lose
    ledger_retry_max_s: float = 15.0  # the longest pause between tries of a failed write
    # Live entries the ledger takes per as-of day, all tickers and models together (README
    # "What the ledger keeps": 500 x 4.5 kB = 2.3 MB a day at most).
    ledger_day_entries: int = 500
    # Uploads kept for their links, in MB (10**6 bytes) of file plus 1 kB a link; past either
    # budget the least recently used go first (README: "Upload budgets" has the arithmetic).
    upload_budget_mb: int = 200  # all senders together
    upload_client_budget_mb: int = 20  # one sender (a hash of its address): four 5 MB files
    upload_retention_days: int = 90  # an upload nobody viewed this long is removed
    # Rate limits per client address (Flask_webapp/rate_limits.py; README: "Rate limits" has the
    # arithmetic). Counted in Redis when REDIS_URL is set, else in each process's memory.
    redis_url: str = ""  # empty: no Redis
    rate_limits: bool = True  # 0 turns every limit off: the benchmarks, which flood on purpose
    rate_limit_forecasts: str = "60 per minute"  # forecast pages, downloads, API forecasts
    rate_limit_uploads: str = "20 per hour"  # requests that carry a file: 20 x 5 MB an hour
    rate_limit_ledger: str = "30 per minute"  # the ledger's page and its API listing
    rate_limit_jobs: str = "5 per hour"  # training jobs (rate_limits.jobs marks views)
    rate_limit_other: str = "600 per minute"  # every other page or API call, health checks aside
    # Training jobs (stockPredictor/jobs; README "Bounds on training"): jobs queued or running
    # in all, at most one per client; each runs on a worker process, never in a web request.
    job_queue_size: int = 20
    job_time_limit_s: float = 900.0  # seconds a job may run before it is stopped as failed
    training_token: str = ""  # when set, starting a job needs it; empty: anyone may train
    model_poll_s: float = 5.0  # seconds between a web process's looks for newly trained models
    trained_models_max: int = 50  # trained models kept; past it the oldest non-default goes
    train_threads: int = 1  # TensorFlow threads a worker trains with; 0: TensorFlow's default
    # Watchlists (issue 22; README "Watchlists"): tickers per list through the page and the
    # API, name length, lists a client may make per rolling 24 h (counted in the database).
    watchlist_page_tickers: int = 50
    # 70: one API list and one page list (50) fit in PRICE_STORE_TICKERS (120) together, so a
    # list's refresh never evicts the list's own tickers (README "Watchlists" on raising both).
    watchlist_api_tickers: int = 70
    watchlist_name_chars: int = 80
    watchlists_per_day: int = 20
    # A list's refresh is refused while one is queued or running, and for this long after one
    # that fetched nothing (the store had fetched every ticker within PRICE_TTL).
    watchlist_refresh_s: float = 300.0
    watchlist_summaries_max: int = 20000  # summaries kept; past it the oldest are evicted
    watchlist_keep_days: int = 365  # a list nobody opened this long is removed
    watchlists_max: int = 10000  # lists kept in all; past it the least recently read go
    watch_jobs_max: int = 200  # tasks waiting in the job queue past which no watch job is queued
    proxy_hops: int = 1  # proxies trusted in X-Forwarded-For/-Proto: Heroku's router is one
    debug: bool = False  # Flask's debugger and reloader, for `python Flask_webapp/app.py`
    traceback: bool = False  # the command line shows a traceback for an unexpected error
    # Other sites whose pages may call the API from a browser; empty: none, "*": any. The
    # API refuses cross-site requests otherwise (Flask_webapp/origins.py).
    api_allowed_origins: tuple[str, ...] = ()

    @property
    def preloads(self) -> bool:
        """Whether the app builds the bundled sample's forecast tables at start-up."""
        return self.price_source == "sample" if self.preload_tables is None else \
            self.preload_tables

    @property
    def table_cache_bytes(self) -> int:
        """The forecast-table cache's bound in bytes."""
        return self.table_cache_mb * 1024 * 1024

    @property
    def key(self) -> str:
        """SECRET_KEY, or a random key for this process when none is set."""
        return self.secret_key or _process_key()

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ,
             overrides: Mapping[str, object] | None = None) -> "Settings":
        """The settings ``environ`` makes, then ``overrides`` (by variable name) on top.

        A variable that is set but empty takes the default; a value that cannot be used is a
        SettingError naming it and what is expected.
        """
        values = {}
        given = {name: environ[name] for name in ENVIRONMENT if environ.get(name, "").strip()}
        # An override of None leaves the variable to the environment.
        given.update({k: v for k, v in (overrides or {}).items()
                      if k in ENVIRONMENT and v is not None})
        for name, value in given.items():
            field, parse = ENVIRONMENT[name]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str):  # a test's override, already a value
                value = str(value) if not isinstance(value, bool) else str(int(value))
            try:
                values[field] = parse(value)
            except (ValueError, OverflowError):
                raise SettingError(f"{name}={value[:80]!r} is not valid: expected "
                                   f"{parse.rule}") from None
        return cls(**values)


# Variable -> (field, parser); the parser's ``rule`` words what is expected.
ENVIRONMENT: dict[str, tuple[str, Callable]] = {
    "PORT": ("port", _whole(1)),
    "SECRET_KEY": ("secret_key", _text),
    "MODELS_DIR": ("models_dir", _path),
    "CACHE_DIR": ("cache_dir", _path),
    "INSTANCE_PATH": ("instance_path", _path),
    "PRICE_SOURCE": ("price_source", _source),
    "PRICE_TTL": ("price_ttl", _seconds),
    "STORE_READ_TTL": ("store_read_ttl", _seconds),
    "YAHOO_DEADLINE": ("yahoo_deadline", _positive),
    "YAHOO_BACKOFF": ("yahoo_backoff", _seconds),
    "PRICE_STORE_TICKERS": ("price_store_tickers", _whole(1)),
    "PRICE_FRAMES_MB": ("price_frames_mb", _whole(1)),
    "TABLE_CACHE_MB": ("table_cache_mb", _whole(1)),
    "PRELOAD_TABLES": ("preload_tables", _preload),
    "BLAS_THREADS": ("blas_threads", _whole(0)),
    "DATABASE_URL": ("database_url", _text),
    "DATABASE_MIGRATE": ("database_migrate", _flag),
    "LEDGER_QUEUE_SIZE": ("ledger_queue_size", _whole(1)),
    "LEDGER_FLUSH_S": ("ledger_flush_s", _positive),
    "LEDGER_RETRY_MAX_S": ("ledger_retry_max_s", _positive),
    "LEDGER_DAY_ENTRIES": ("ledger_day_entries", _whole(1)),
    "UPLOAD_BUDGET_MB": ("upload_budget_mb", _whole(1)),
    "UPLOAD_CLIENT_BUDGET_MB": ("upload_client_budget_mb", _whole(1)),
    "UPLOAD_RETENTION_DAYS": ("upload_retention_days", _whole(1)),
    "REDIS_URL": ("redis_url", _redis_url),
    "RATE_LIMITS": ("rate_limits", _flag),
    "RATE_LIMIT_FORECASTS": ("rate_limit_forecasts", _rate),
    "RATE_LIMIT_UPLOADS": ("rate_limit_uploads", _rate),
    "RATE_LIMIT_LEDGER": ("rate_limit_ledger", _rate),
    "RATE_LIMIT_JOBS": ("rate_limit_jobs", _rate),
    "RATE_LIMIT_OTHER": ("rate_limit_other", _rate),
    "JOB_QUEUE_SIZE": ("job_queue_size", _whole(1)),
    "JOB_TIME_LIMIT_S": ("job_time_limit_s", _positive),
    "TRAINING_TOKEN": ("training_token", _text),
    "MODEL_POLL_S": ("model_poll_s", _positive),
    "TRAINED_MODELS_MAX": ("trained_models_max", _whole(1)),
    "TRAIN_THREADS": ("train_threads", _whole(0)),
    "WATCHLIST_PAGE_TICKERS": ("watchlist_page_tickers", _whole(1)),
    "WATCHLIST_API_TICKERS": ("watchlist_api_tickers", _whole(1)),
    "WATCHLIST_NAME_CHARS": ("watchlist_name_chars", _whole(1)),
    "WATCHLISTS_PER_DAY": ("watchlists_per_day", _whole(1)),
    "WATCHLIST_REFRESH_S": ("watchlist_refresh_s", _seconds),
    "WATCHLIST_SUMMARIES_MAX": ("watchlist_summaries_max", _whole(1)),
    "WATCHLIST_KEEP_DAYS": ("watchlist_keep_days", _whole(1)),
    "WATCHLISTS_MAX": ("watchlists_max", _whole(1)),
    "WATCH_JOBS_MAX": ("watch_jobs_max", _whole(1)),
    "PROXY_HOPS": ("proxy_hops", _whole(0)),
    "FLASK_DEBUG": ("debug", _flag),
    "STOCK_PREDICTOR_DEBUG": ("traceback", _flag),
    "API_ALLOWED_ORIGINS": ("api_allowed_origins", _origins),
}


@functools.cache
def _process_key() -> str:
    return secrets.token_hex(32)


@functools.cache
def current() -> Settings:
    """This process's settings, read from its environment at the first call."""
    return Settings.read()


def reset() -> None:
    """Forget the settings read, so that the next ``current()`` reads the environment again:
    each run of the command line starts with it, and so does each test."""
    current.cache_clear()

"""Rate limits per client address, with Flask-Limiter: counted in Redis, or in memory without it.

Not ``limits.py``: ``python Flask_webapp/app.py`` puts this folder first on sys.path, where a
module of that name would hide the ``limits`` library Flask-Limiter imports.

Each request falls in one kind, and each kind has its own limit (a setting; README, "Rate
limits", gives the defaults and the arithmetic behind them):

- forecasts: the forecast pages and their downloads, ``POST /predict`` without a file,
  ``GET``/``POST /api/v1/forecast...`` without a file, and a watchlist's table, rows.json, CSV
  and API rows (RATE_LIMIT_FORECASTS). A list's call counts one, whatever its tickers: its
  batched pass costs what one cold single forecast does (bench_watchlist.py: 0.2 s of CPU for
  500 warm tickers), and weighting by tickers would need the list read before the view;
- uploads: a request that carries a file, to ``POST /predict`` or ``POST /api/v1/forecast``
  (RATE_LIMIT_UPLOADS);
- ledger: the ledger's page ``/forecasts`` and ``GET /api/v1/forecasts`` (RATE_LIMIT_LEDGER);
- jobs: views marked with ``@rate_limits.jobs``, for training jobs (RATE_LIMIT_JOBS);
- other: every other page and API call, one generous count (RATE_LIMIT_OTHER).

Health checks are never limited: Heroku's router and monitors poll them, and they must see the
app as it is. Static files are served by WhiteNoise before Flask (assets.py), so never either.

One ``ApplicationLimit`` per kind, each exempt unless the request is of its kind: a request
costs one count, of its own kind, in one bucket per client shared by every view of that kind.
The kind is decided in a ``before_request`` that runs before Flask-Limiter's, so an upload's
body is parsed (and refused with 413 when too large) by the usual error path, not as a storage
failure. The client is ``request.remote_addr``, which security's ProxyFix takes from the last
PROXY_HOPS entries of X-Forwarded-For; an IPv6 address counts by its /64 network, which one
subscriber usually holds whole.

When Redis does not answer, requests are served without limits (fail open) for STORE_RETRY
seconds, said once in the log: a limit exists to keep the app up, so it must never be what
takes it down, and never a 500.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits.errors import StorageError
from redis.backoff import NoBackoff
from redis.retry import Retry
from stockPredictor.settings import Settings
from stockPredictor.store.uploads import sender

from . import errors

log = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable)

FORECASTS, UPLOADS, LEDGER, JOBS, OTHER = "forecasts", "uploads", "ledger", "jobs", "other"
# Each kind: the setting that holds its limit, and what the 429's sentence calls its requests.
KINDS = {FORECASTS: ("rate_limit_forecasts", "forecasts"),
         UPLOADS: ("rate_limit_uploads", "uploads"),
         LEDGER: ("rate_limit_ledger", "ledger listings"),
         JOBS: ("rate_limit_jobs", "training jobs"),
         OTHER: ("rate_limit_other", "requests")}
# Views that forecast a ticker's prices, or a file's when the request carries one.
FORECAST_OR_UPLOAD = "forecast or upload"
ENDPOINTS = {
    "pages.prediction": FORECASTS, "pages.upload_prediction": FORECASTS,
    "pages.download": FORECASTS, "pages.upload_download": FORECASTS,
    "api.forecast_of": FORECASTS,
    # A watchlist's rows: every ticker forecast in one batched pass.
    "watchlists.page": FORECASTS, "watchlists.rows": FORECASTS, "watchlists.csv": FORECASTS,
    "api-watchlists.rows": FORECASTS,
    "pages.predict": FORECAST_OR_UPLOAD, "api.forecast": FORECAST_OR_UPLOAD,
    "pages.forecasts": LEDGER, "api.forecasts": LEDGER,
}
UNLIMITED = frozenset({"healthz", "api.healthz", "static"})
MARK = "rate_limit_kind"  # the attribute @jobs (or @kind(...)) sets on a view
STORE_RETRY = 30.0  # seconds without limits after the store failed, before it is tried again
# Redis on Heroku answers in about a millisecond; one that does not answer in 0.5 s is down.
REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
KEY_PREFIX = "stock-predictor"
PERIODS = {"second": "a second", "minute": "a minute", "hour": "an hour", "day": "a day"}


def kind(name: str) -> Callable[[View], View]:
    """A decorator that puts a view under the limit of kind ``name`` (one of KINDS)."""
    if name not in KINDS:
        raise ValueError(f"rate limit kind {name!r} is not one of {', '.join(KINDS)}")

    def mark(view: View) -> View:
        setattr(view, MARK, name)
        return view
    return mark


# Training jobs (the next issue's views): put @rate_limits.jobs right under the route decorator, so
# the function Flask registers carries the mark (functools.wraps copies it through wrappers).
jobs = kind(JOBS)


class FailOpenLimiter(Limiter):
    """Flask-Limiter's Limiter that serves requests unlimited while its store does not answer."""

    failed_at: float | None = None  # time.monotonic() when the store last failed

    def _check_request_limit(self, callable_name: str | None = None,
                             in_middleware: bool = True) -> None:
        # Flask-Limiter's own before_request. Its swallow_errors would also serve, but would ask a
        # hanging Redis again on every request, each waiting out the socket timeout.
        now = time.monotonic()
        if self.failed_at is not None and now < self.failed_at + STORE_RETRY:
            return
        try:
            super()._check_request_limit(callable_name, in_middleware)
        except StorageError as exc:
            self.failed_at = now
            log.warning("rate limits are off for %.0f s: their store did not answer (%s)",
                        STORE_RETRY, type(exc.storage_error).__name__)
            return
        if self.failed_at is not None:
            self.failed_at = None
            log.info("rate limits are on again: their store answers")


def client_key() -> str:
    """The client a count belongs to: its address, or its IPv6 /64 network."""
    return sender(request.remote_addr) if request.remote_addr else "unknown"


def request_kind() -> str | None:
    """The kind of limit the current request counts against; None for unlimited ones."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in UNLIMITED:
        return None  # Flask-Limiter leaves requests with no endpoint (404s) alone anyway
    marked = getattr(current_app.view_functions.get(endpoint), MARK, None)
    if marked:
        return marked
    found = ENDPOINTS.get(endpoint, OTHER)
    if found == FORECAST_OR_UPLOAD:
        if request.method != "POST":
            return OTHER  # GET /predict: the empty form
        return UPLOADS if _carries_file() else FORECASTS
    return found


def _carries_file() -> bool:
    # The form's multipart POST names a file field even when no file was chosen; as the views,
    # count only a file with a name.
    return request.mimetype == "multipart/form-data" and any(
        upload.filename for upload in request.files.values())


def _classify() -> None:
    g.rate_limit_kind = request_kind()


def storage(settings: Settings) -> tuple[str, dict]:
    """The storage URI and options of the counts: Redis when REDIS_URL is set, else memory."""
    if not settings.redis_url:
        return "memory://", {}
    options = {**REDIS_OPTIONS, "wrap_exceptions": True, "retry": Retry(NoBackoff(), 0)}
    if settings.redis_url.lower().startswith("rediss://"):
        # Heroku Redis presents a self-signed certificate; ?ssl_cert_reqs=required in the URL,
        # which redis-py prefers to this default, turns verification back on.
        options["ssl_cert_reqs"] = "none"
    return settings.redis_url, options


def _limit(name: str, rate: str) -> ApplicationLimit:
    return ApplicationLimit(rate, scope=name, exempt_when=lambda: g.get("rate_limit_kind") != name)


def message(name: str, exc: RateLimitExceeded, retry_after: int) -> str:
    """The 429's sentence: which limit, and when to try again."""
    item = exc.limit.limit
    unit = item.GRANULARITY.name
    period = PERIODS[unit] if item.multiples == 1 else f"every {item.multiples} {unit}s"
    wait = f"{retry_after} s" if retry_after < 120 else f"{math.ceil(retry_after / 60)} min"
    return (f"Too many {KINDS[name][1]} from your address: the limit is {item.amount} {period}; "
            f"try again in {wait}")


def _too_many(exc: RateLimitExceeded):
    limiter = current_app.extensions["rate_limiter"]
    breached = limiter.current_limit
    try:
        reset_at = breached.window.reset_time if breached else None
    except StorageError:
        reset_at = None
    if reset_at is None:  # the store stopped answering between the count and now
        retry_after = int(exc.limit.limit.get_expiry())
    else:
        retry_after = max(1, math.ceil(reset_at - time.time()))
    name = g.get("rate_limit_kind") or OTHER
    return errors.error_response(429, "too_many_requests", message(name, exc, retry_after),
                                 [("Retry-After", str(retry_after))])


def register(app: Flask) -> None:
    """Count each client's requests by kind; answer 429 with Retry-After past a limit."""
    settings = app.extensions["settings"]
    missing = sorted(set(ENDPOINTS) - set(app.view_functions))
    if missing:
        raise RuntimeError(f"limits.ENDPOINTS names views that do not exist: {missing}")
    if not settings.rate_limits:
        app.logger.warning("rate limits are off (RATE_LIMITS=0)")
        return
    uri, options = storage(settings)
    # Ours first: the kind is known before Flask-Limiter's before_request asks for it.
    app.before_request(_classify)
    limiter = FailOpenLimiter(
        client_key, application_limits=[_limit(name, getattr(settings, field))
                                        for name, (field, _) in KINDS.items()],
        storage_uri=uri, storage_options=options, strategy="fixed-window",
        key_prefix=KEY_PREFIX, headers_enabled=False)
    limiter.init_app(app)
    app.extensions["rate_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
    app.logger.info("rate limits per client, counted in %s: %s",
                    "Redis" if settings.redis_url else "this process's memory",
                    ", ".join(f"{name} {getattr(settings, field)}"
                              for name, (field, _) in KINDS.items()))

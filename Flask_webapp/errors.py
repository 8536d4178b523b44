"""One way to fail: JSON ``{"error", "message"}`` under /api, a friendly page elsewhere."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, jsonify, render_template, request
from marshmallow import ValidationError
from stockPredictor.errors import (ArtifactError, ClientBusyError, DatabaseUnavailableError,
                                   DataError, ExpiredUploadError, NotTrainedError, QueueFullError,
                                   SettingError, SourceUnavailableError, StockPredictorError,
                                   UnknownJobError, UnknownTickerError, UnknownUploadError,
                                   excerpt, without_folders)
from stockPredictor.store.watchlists import WatchlistBoundError, WatchlistNotFound
from werkzeug.exceptions import HTTPException

from . import security

log = logging.getLogger(__name__)


class TrainingTokenError(StockPredictorError):
    """Starting a job without the training token this deployment asks for, or a wrong one."""


# Most specific first: each package error and the status and code it answers with.
PACKAGE_ERRORS = (
    (UnknownTickerError, 404, "unknown_ticker"),
    # Issued once, its file since removed for space or time: gone, not unknown.
    (ExpiredUploadError, 410, "expired_upload"),
    (UnknownUploadError, 404, "unknown_upload"),
    (NotTrainedError, 404, "unknown_model"),
    (UnknownJobError, 404, "unknown_job"),
    (WatchlistNotFound, 404, "unknown_watchlist"),
    (TrainingTokenError, 403, "training_token"),
    (ClientBusyError, 429, "client_busy"),
    (QueueFullError, 503, "queue_full"),
    (SourceUnavailableError, 503, "source_unavailable"),
    (DatabaseUnavailableError, 503, "database_unavailable"),
    (DataError, 422, "invalid_input"),
    (ArtifactError, 500, "model_error"),
    (SettingError, 500, "setting_error"),
)
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
              413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input",
              429: "too_many_requests"}
# Seconds a caller is told to wait (Retry-After) by the refusals that pass: a queued job takes
# about a minute (README, "Bounds on training").
RETRY_AFTER = {"client_busy": 60, "queue_full": 60}
TITLES = {403: "Refused", 404: "Not found", 405: "Not allowed here", 410: "Link expired",
          413: "File too large", 415: "Unsupported upload", 422: "Please check your input",
          429: "Too many requests", 503: "Temporarily unavailable"}


def error_response(status: int, code: str, message: str,
                   headers: list[tuple[str, str]] | None = None):
    """The error as JSON for API calls, as an HTML page for everything else."""
    message = without_server_paths(message)
    if request.path.startswith("/api/"):
        return jsonify(error=code, message=message), status, headers or {}
    title = TITLES.get(status, "Something went wrong" if status >= 500 else "Bad request")
    # The code lets the page offer what fits (an unknown ticker: the sample's tickers as links).
    return (render_template("error.html", status=status, title=title, message=message,
                            code=code), status, headers or {})


def without_server_paths(message: str) -> str:
    """``message`` with the server's folders replaced by their names: no answer shows a path."""
    # The package's messages serve people at a terminal too, where a path helps; over the web it
    # tells strangers how the server is laid out.
    settings = current_app.extensions.get("settings")
    return without_folders(message, {
        settings and settings.models_dir: "the models folder",
        settings and settings.cache_dir: "the cache folder",
        Path(current_app.root_path).parent: "the app's folder"})


def describe(messages) -> str:
    """One sentence from marshmallow's nested messages: 'horizon: must be ...; ticker: ...'."""
    parts = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, inner in value.items():
                # webargs nests by location ("json", "query", "form"); a field path is enough.
                walk(inner, path if key in ("json", "query", "form", "files", "view_args", "path",
                                            "json_or_form", "_schema") else path + [str(key)])
        elif isinstance(value, (list, tuple)):
            for inner in value:
                walk(inner, path)
        else:
            text = str(value).rstrip(".")
            parts.append(f"{'.'.join(path)}: {text}" if path else text)

    walk(messages, [])
    return "; ".join(parts) or "the request is not valid"


def package_status(exc: StockPredictorError) -> tuple[int, str, str]:
    """The status, code and message a package error answers with."""
    for kind, status, code in PACKAGE_ERRORS:
        if isinstance(exc, kind):
            if status == 500:
                log.error("%s: %s", code, exc)
                what = "the model" if code == "model_error" else "a setting"
                return status, code, f"{what} could not be used; the server log says why"
            return status, code, str(exc)
    log.error("unmapped package error: %r", exc)
    return 500, "internal_error", "something went wrong on our side"


def _package_error(exc: StockPredictorError):
    status, code, message = package_status(exc)
    field = getattr(exc, "field", None)
    # As the schemas' messages do ("horizon: ..."): the caller reads which field is at fault.
    # A form shows the bare sentence beside that field instead (forms.refused).
    retry = [("Retry-After", str(RETRY_AFTER[code]))] if code in RETRY_AFTER else None
    return error_response(status, code, f"{field}: {message}" if field else message, retry)


# A watchlist's bound: its status (413, 422, 429) and code say which bound was passed.
WATCHLIST_BOUNDS = {"tickers": "too_many_tickers", "name": "name_too_long",
                    "per_day": "too_many_watchlists", "refresh": "refresh_too_soon"}


def _watchlist_bound(exc: WatchlistBoundError):
    retry = [("Retry-After", str(exc.retry_after))] if exc.retry_after else None
    return error_response(exc.status, WATCHLIST_BOUNDS.get(exc.bound, "invalid_input"), str(exc),
                          retry)


def _http_error(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # webargs' validation errors
        message = describe(data["messages"])
    elif status == 413:
        message = security.too_large_message(request)
    elif status == 405:
        message = (f"method {excerpt(request.method)} is not allowed here; allowed: "
                   f"{', '.join(getattr(exc, 'valid_methods', None) or [])}")
    else:
        message = exc.description or exc.name
    # Headers that belong to the answer, such as a 405's Allow; the body is ours, so its type too.
    headers = [(name, value) for name, value in exc.get_headers()
               if name.lower() != "content-type"]
    return error_response(status, HTTP_CODES.get(status, exc.name.lower().replace(" ", "_")),
                          message, headers)


def _validation_error(exc: ValidationError):
    return error_response(422, "invalid_input", describe(exc.messages))


def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "something went wrong on our side")


def register(app: Flask) -> None:
    """Route every error of ``app`` through ``error_response``."""
    app.register_error_handler(StockPredictorError, _package_error)
    app.register_error_handler(WatchlistBoundError, _watchlist_bound)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(Exception, _unexpected)

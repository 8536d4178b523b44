"""Security headers on every answer, and request bodies bounded before they are read.

The headers come from one ``after_request`` function rather than flask-talisman: they are a
handful of fixed strings (HSTS, the one header that depends on the request, only over HTTPS), so
an extension would add a dependency and a layer of options to say what these few lines say.

The Content-Security-Policy allows scripts and styles from this app only, with no inline script
or style element (the charts' attribution logo, whose ``<style>`` element needed a hash, is off:
see static/vendor/README.md, "Attribution"). The forecast page's
downloads are ``data:`` URLs in ``<a download>`` links: CSP governs what a page loads, not what a
link downloads, so they need no exception.

Request bodies: forecast requests are a few hundred bytes of JSON or form fields, and only a CSV
upload needs megabytes. ``Request`` lowers the byte limit for bodies that carry no file, so no one
can make the server hold 5 MB of JSON, and turns JSON that cannot be parsed, nested ones too, into a
400 that says so. A custom request class rather than a ``before_request`` check, because werkzeug
enforces ``max_content_length`` where the body is read (for chunked bodies with no
Content-Length too), and ``get_json`` is the one place JSON is parsed.
"""

from __future__ import annotations

import json
from typing import Any

import flask
from flask import Flask, current_app
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than CSP's frame-ancestors
    # same-origin: no other site needs to know which page (ticker and date) a person came from.
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
# Bodies that carry no file: a JSON forecast request, or the form without its upload.
SMALL_BODY_TYPES = ("application/x-www-form-urlencoded",)
MAX_SMALL_BODY = 64 * 1000
EXAMPLE_BODY = '{"ticker": "IBM", "horizon": 4}'
JOB_BODY = '{"ticker": "IBM", "epochs": 10}'  # a training job's (POST /api/v1/jobs)


class Request(flask.Request):
    """Flask's request with a small byte limit for bodies without a file, and bounded JSON."""

    @property
    def small_body(self) -> bool:
        """True for a body that carries no file: JSON or a plain form."""
        return self.is_json or self.mimetype in SMALL_BODY_TYPES

    @property
    def max_content_length(self) -> int | None:
        """The byte limit of this request's body: MAX_SMALL_BODY for JSON and plain forms."""
        limit = flask.Request.max_content_length.fget(self)
        if not self.small_body:
            return limit
        small = current_app.config.get("MAX_SMALL_BODY", MAX_SMALL_BODY) if current_app else (
            MAX_SMALL_BODY)
        return small if limit is None else min(limit, small)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        flask.Request.max_content_length.fset(self, value)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The parsed JSON body; a 400 that says why when it is not JSON, however deep."""
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            # json gives up on deeply nested arrays with RecursionError, which is no ValueError.
            if silent:
                return None
            return self.on_json_loading_failed(RecursionError("it is nested too deeply"))

    def on_json_loading_failed(self, e: Exception | None) -> Any:
        """Raise a 400 naming what is wrong with the JSON (or a 415 when it is not JSON)."""
        if e is None:
            raise UnsupportedMediaType("Content-Type: must be application/json to send JSON")
        example = JOB_BODY if self.path.startswith("/api/v1/jobs") else EXAMPLE_BODY
        raise BadRequest(f"the body is not valid JSON ({_why(e)}); send a JSON object such as "
                         f"{example}")


def _why(exc: Exception) -> str:
    # Our own words: a parser's message may quote the input.
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg.lower()} at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(exc, RecursionError):
        return str(exc)
    return "it could not be parsed"


def too_large_message(request: Request) -> str:
    """The sentence for a 413: which limit the request went over."""
    limit = request.max_content_length
    if request.small_body:
        return (f"body: larger than the limit of {_size(limit)} for {request.mimetype}; "
                "a forecast request takes a few hundred bytes")
    length = request.content_length
    if request.mimetype == "multipart/form-data" and not (length and limit and length > limit):
        # werkzeug raises the same error for too many parts and for a field that is too long.
        return (f"form: over its limits of {_size(limit)} in all, {request.max_form_parts} fields,"
                f" and {_size(request.max_form_memory_size)} for a field other than the file")
    return f"file: the upload is larger than the limit of {_size(limit)}"


def _size(limit: int | None) -> str:
    if limit is None:
        return "no limit"
    for unit, size in (("MB", 1_000_000), ("kB", 1000)):
        if limit >= size:
            return f"{limit / size:g} {unit}"
    return f"{limit} bytes"


def _add_headers(response: flask.Response) -> flask.Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Over plain HTTP a browser ignores HSTS; behind Heroku's router ProxyFix makes is_secure true.
    if flask.request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    """Bound request bodies, trust PROXY_HOPS proxies for the address and the scheme, send
    security headers."""
    app.request_class = Request
    # Heroku's router ends TLS, says so in X-Forwarded-Proto, and appends the address it was
    # connected from to X-Forwarded-For: one hop. ProxyFix takes the client's address from the
    # last PROXY_HOPS entries, so whatever a client writes in the header itself, in front of
    # them, changes nothing (the rate limits count by this address: rate_limits.py). Run with no
    # proxy in front, PROXY_HOPS=0 trusts neither header: else a client could claim any address
    # (escaping its rate limit) or HTTPS (earning itself an HSTS header). The scheme is the
    # last proxy's: Heroku's router sets X-Forwarded-Proto to one value rather than appending.
    hops = app.extensions["settings"].proxy_hops
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=min(hops, 1))
    app.after_request(_add_headers)

"""Cross-site requests: the form's CSRF token, the API's origin check, and the session cookie.

A page on another site can make a visitor's browser send requests here: a form that posts a file
to /predict, a ``fetch`` to the API, an ``<img>`` pointing at a forecast. Three layers refuse
what would write or cost anything:

- **The form's token** (Flask-WTF's ``CSRFProtect``): every page POST carries ``csrf_token``, an
  HMAC-signed copy of a random value kept in the session cookie, valid for
  ``WTF_CSRF_TIME_LIMIT`` (an hour). Over HTTPS Flask-WTF also wants a same-origin Referer, which
  the site's ``Referrer-Policy: same-origin`` always lets the browser send. A refused token brings
  the form back with what was typed and one sentence (400), never a bare error page.
- **Origin and Sec-Fetch-Site**: a page POST, and any API request, that a browser marks as
  coming from another site (``Origin`` other than this scheme and host, or ``Sec-Fetch-Site``
  ``cross-site`` or ``same-site``: another subdomain is another site here) is refused with a 403
  before its body is read. Requests without these headers (curl, scripts) and same-origin ones
  (the API docs' "Try it out") pass, and so does a link to the API followed in a browser (a
  top-level GET navigation, as web.dev's resource isolation policy allows). Cross-site API GETs
  are refused too: their answers cannot be read there without CORS, yet each costs a forecast.
  Page GETs stay open: people share forecast links. ``API_ALLOWED_ORIGINS`` opens the API to the
  sites it lists ("*": any), with the CORS headers that let their pages read the answers.
- **The session cookie**: HttpOnly, SameSite=Lax (a cross-site POST arrives without it, so
  without the token's other half), and Secure whenever the request came over HTTPS.

The API keeps no session, so it is exempt from the token; the origin check stands for it.
"""

from __future__ import annotations

import flask
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from stockPredictor.errors import excerpt
from stockPredictor.settings import origin

from . import errors, forms, services, training_pages

EXPIRED = "This form expired; check the values and send it again."
NO_REFERRER = ("This form was sent without this site's address as its Referer; check the values "
               "and send it again from this page.")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Sec-Fetch-Site values that name another site; "none" is a person typing the address.
OTHER_SITES = ("cross-site", "same-site")
# What a browser on an allowed site may send and read (API_ALLOWED_ORIGINS), and for how long it
# may remember a preflight's answer.
# PUT and DELETE: the watchlists' API replaces and deletes a list.
CORS_METHODS, CORS_HEADERS, CORS_MAX_AGE = "GET, POST, PUT, DELETE", "Content-Type", "600"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose cookie is Secure whenever the request was HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure when configured so, or when this request came over HTTPS (ProxyFix's scheme)."""
        return super().get_cookie_secure(app) or (
            flask.has_request_context() and request.is_secure)


def own_origin() -> str | None:
    """This app's origin as the client addressed it: scheme (through ProxyFix) and Host."""
    return origin(f"{request.scheme}://{request.host}") if request.host else None


def sender() -> tuple[str | None, str | None]:
    """``(origin, described)`` of another site this request comes from; ``(None, None)`` when
    the browser marks it same-origin, or when nothing marks it at all (curl, scripts)."""
    sent = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if sent is not None and origin(sent) != own_origin():
        return origin(sent), f"a page at {excerpt(sent.strip())}"
    if site in OTHER_SITES:
        return None, f"a page on another site (Sec-Fetch-Site: {site})"
    return None, None


def _api_allows(sent: str | None) -> bool:
    allowed = services.settings().api_allowed_origins
    return "*" in allowed or (sent is not None and sent in allowed)


def _followed_link() -> bool:
    # A person following a link to the API: a top-level navigation, never a fetch, an image or
    # a frame, and no write.
    return (request.method in ("GET", "HEAD")
            and request.headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
            and request.headers.get("Sec-Fetch-Dest", "").lower() == "document")


def _refuse_other_sites():
    api = request.path.startswith("/api/")
    if not api and request.method in SAFE_METHODS:
        return None  # page GETs stay open: forecast links are shared
    sent, described = sender()
    if described is None or (api and (_api_allows(sent) or _followed_link())):
        return None
    if api:
        return errors.error_response(403, "cross_site", (
            f"{described} may not call this API: it answers this site's own pages and clients "
            "that send no Origin (curl, scripts), and an operator opens it to other sites by "
            "listing them in the setting API_ALLOWED_ORIGINS"))
    return errors.error_response(403, "cross_site", (
        f"{described} may not send this site's forms: they are accepted from this site's own "
        "pages only; open the form here and send it again"))


def _cors(response: flask.Response) -> flask.Response:
    # Only for a site API_ALLOWED_ORIGINS lists: its pages may read the API's answers.
    sent = request.headers.get("Origin")
    if not request.path.startswith("/api/") or sent is None or origin(sent) == own_origin() \
            or not _api_allows(origin(sent)):
        return response
    everyone = "*" in services.settings().api_allowed_origins
    response.headers["Access-Control-Allow-Origin"] = "*" if everyone else origin(sent)
    response.vary.add("Origin")
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


def _refused_token(exc: CSRFError):
    """The form again, as typed, with one sentence: a token that expired is no one's fault."""
    message = NO_REFERRER if "referrer" in (exc.description or "").lower() else EXPIRED
    values = request.form.to_dict()
    values.pop(flask.current_app.config["WTF_CSRF_FIELD_NAME"], None)
    values.pop("training_token", None)  # a secret is never echoed back into a page
    if request.endpoint == "training.train":  # the training form, as typed
        return training_pages.render_form(values, status=400, notice=message)
    if request.endpoint != "pages.predict":  # a button's form (cancel, delete): the page
        return errors.error_response(400, "form_expired", message)
    name, stored = forms.chosen(values, request.files)
    return forms.render(values, upload=name, status=400, stored=stored, notice=message)


def register(app: Flask, csrf: CSRFProtect | None = None) -> CSRFProtect:
    """Refuse cross-site API calls and page POSTs, and check the form's CSRF token."""
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    # Before CSRFProtect's own check: a cross-site POST is refused before its body is read.
    app.before_request(_refuse_other_sites)
    app.after_request(_cors)
    csrf = csrf or CSRFProtect()
    csrf.init_app(app)
    for name, blueprint in app.blueprints.items():
        if name == "api" or name.startswith("api-"):  # no session, so nothing to forge
            csrf.exempt(blueprint)
    app.register_error_handler(CSRFError, _refused_token)
    return csrf

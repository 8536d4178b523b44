"""The watchlists' JSON API under /api/v1/watchlists (issue 22): make a list, read, replace and
delete it, read its rows at a horizon, ask for its prices to be refreshed.

A list's token is its secret: whoever holds it may read, change and delete the list; nothing
lists tokens. The bounds (tickers through the API, the name's length, lists per client per day,
one refresh per list per WATCHLIST_REFRESH_S) are the store's, refused with a 4xx naming them.
A list's rows count as one forecast (RATE_LIMIT_FORECASTS); every other call as
RATE_LIMIT_OTHER.
"""

from __future__ import annotations

import flask_smorest
from flask import jsonify
from stockPredictor.errors import DatabaseUnavailableError
from stockPredictor.store import watchlists
from stockPredictor.store.watchlists import Watchlist

from . import api_examples, services, watch_view
from . import watchlist_examples as ex
from .watch_view import engine_of_lists
from .schemas import watchlists as schemas
from .schemas.answers import Error

blp = flask_smorest.Blueprint("api-watchlists", __name__, url_prefix="/api/v1",
                              description="Watchlists: several tickers forecast on one page.")
VIA_API = " through the API"
ERRORS = {
    400: "the body is not valid JSON",
    403: "a browser sent it from a page on another site",
    404: "no watchlist has this token (never made, deleted, or unread for WATCHLIST_KEEP_DAYS)",
    413: "more tickers than WATCHLIST_API_TICKERS (too_many_tickers), or a body over the size "
         "limit",
    415: "the body is not JSON",
    422: "the name is longer than WATCHLIST_NAME_CHARS (name_too_long), a ticker or field is "
         "not valid (invalid_input, naming it), or the token is malformed",
    429: "this client made WATCHLISTS_PER_DAY lists in the last 24 hours (too_many_watchlists), "
         "or called too often (RATE_LIMIT_OTHER; a list's rows: RATE_LIMIT_FORECASTS); "
         "Retry-After says in how many seconds",
    503: "the database or the job queue does not answer",
}
EXAMPLES = {**ex.ERRORS, 403: api_examples.ERRORS[403], 422: {
    "name_too_long": {"summary": "the name is too long", "value": ex.ERRORS[422]},
    "bad_ticker": {"summary": "a ticker is not valid", "value": ex.BAD_TICKER}}}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before asking again",
                               "schema": {"type": "integer"}}}
BODY = {"required": True, "content": {"application/json": {
    "schema": schemas.WatchlistRequest, "examples": ex.WATCHLIST_REQUESTS}}}
JSON_BODY = "-H 'Content-Type: application/json'"


def _errors(*statuses: int, refresh: bool = False):
    def decorate(view):
        for status in statuses:
            example = ex.REFRESH_TOO_SOON if refresh and status == 429 else EXAMPLES[status]
            shown = {"examples": example} if status == 422 else {"example": example}
            description = ("the list's prices were refreshed less than WATCHLIST_REFRESH_S "
                           "seconds ago (refresh_too_soon), or too many calls (RATE_LIMIT_OTHER); "
                           "Retry-After says in how many seconds"
                           if refresh and status == 429 else ERRORS[status])
            view = blp.alt_response(status, schema=Error, description=description,
                                    headers=RETRY_AFTER if status in (429, 503) else None,
                                    **shown)(view)
        return view
    return decorate


def as_json(watchlist: Watchlist) -> dict:
    """spec22's Watchlist JSON: the list and where to read it."""
    return {"token": watchlist.token, "name": watchlist.name, "tickers": list(watchlist.tickers),
            "created_at": watchlist.created_at.isoformat(),
            "updated_at": watchlist.updated_at.isoformat(),
            "url": f"/watchlists/{watchlist.token}",
            "rows_url": f"/api/v1/watchlists/{watchlist.token}/rows"}


def _body() -> dict:
    return schemas.WatchlistRequest().load(services.request_body())


@blp.route("/watchlists", methods=["POST"])
@blp.doc(description="\n\n".join([api_examples.curl(
    "/api/v1/watchlists", JSON_BODY,
    "-d '{\"name\": \"Tech\", \"tickers\": [\"IBM\", \"MSFT\", \"XYZ\"]}'"), ex.DESCRIPTION]),
    requestBody=BODY)
@blp.response(201, schemas.Watchlist, example=ex.WATCHLIST, headers={
    "Location": {"description": "the list's address in the API", "schema": {"type": "string"}}})
@_errors(400, 403, 413, 415, 422, 429, 503)
def create():
    """Make a watchlist (201): its token, in the answer, is the only key to it."""
    body, settings = _body(), services.settings()
    made = watchlists.create(
        engine_of_lists(), body["name"], body["tickers"], services.client(),
        max_tickers=settings.watchlist_api_tickers, max_name=settings.watchlist_name_chars,
        per_day=settings.watchlists_per_day, keep_days=settings.watchlist_keep_days,
        max_lists=settings.watchlists_max, where=VIA_API)
    return jsonify(as_json(made)), 201, {"Location": f"/api/v1/watchlists/{made.token}"}


@blp.route("/watchlists/<token>")
@blp.doc(description=api_examples.curl(ex.PATH))
@blp.arguments(schemas.WatchlistPath, location="path", as_kwargs=True)
@blp.response(200, schemas.Watchlist, example=ex.WATCHLIST)
@_errors(403, 404, 422, 429, 503)
def read(token: str):
    """A watchlist: its name and tickers."""
    return jsonify(as_json(watchlists.get(engine_of_lists(), token, touch=True)))


@blp.route("/watchlists/<token>", methods=["PUT"])
@blp.doc(description=api_examples.curl(
    ex.PATH, "-X PUT", JSON_BODY,
    "-d '{\"name\": \"Tech and banks\", \"tickers\": [\"IBM\", \"MSFT\", \"JPM\"]}'"),
    requestBody=BODY)
@blp.arguments(schemas.WatchlistPath, location="path", as_kwargs=True)
@blp.response(200, schemas.Watchlist, example=ex.REPLACED)
@_errors(400, 403, 404, 413, 415, 422, 429, 503)
def replace(token: str):
    """Replace a watchlist's name and tickers, within the same bounds as when it was made."""
    body, settings = _body(), services.settings()
    return jsonify(as_json(watchlists.replace(
        engine_of_lists(), token, body["name"], body["tickers"],
        max_tickers=settings.watchlist_api_tickers, max_name=settings.watchlist_name_chars,
        where=VIA_API)))


@blp.route("/watchlists/<token>", methods=["DELETE"])
@blp.doc(description=api_examples.curl(ex.PATH, "-X DELETE"))
@blp.arguments(schemas.WatchlistPath, location="path", as_kwargs=True)
@blp.response(204, description="the list was deleted; its token reaches nothing now")
@_errors(403, 404, 422, 429, 503)
def remove(token: str):
    """Delete a watchlist (it still counts for its maker's WATCHLISTS_PER_DAY for a day)."""
    watchlists.delete(engine_of_lists(), token)
    return "", 204


@blp.route("/watchlists/<token>/rows")
@blp.doc(description=api_examples.curl(f"{ex.PATH}/rows?horizon=4") + "\n\nEach row is "
         "forecast from the prices already stored (never a fetch in the request). A row whose "
         "forecast is not yet computed is `computing`, counted in `pending`: ask again every "
         "few seconds while it is above 0. A ticker that cannot be forecast has status `error` "
         "and its reason; it never fails the list.")
@blp.arguments(schemas.WatchlistPath, location="path", as_kwargs=True)
@blp.arguments(schemas.RowsQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.WatchTable, example=ex.WATCH_TABLE)
@_errors(403, 404, 422, 429, 503)
def rows(token: str, horizon: int):
    """A watchlist's rows at ``horizon``: each ticker's forecast and whether it beats no change.
    Counts as one forecast (RATE_LIMIT_FORECASTS)."""
    watchlist = watchlists.get(engine_of_lists(), token, touch=True)
    answer = jsonify(watch_view.table(watchlist, horizon))
    answer.headers["Cache-Control"] = "no-store"  # polled while rows compute
    return answer


@blp.route("/watchlists/<token>/refresh", methods=["POST"])
@blp.doc(description=api_examples.curl(f"{ex.PATH}/refresh", "-X POST") + "\n\nQueues one "
         "batched fetch of the list's stale prices; at most one per list every "
         "WATCHLIST_REFRESH_S seconds (300).")
@blp.arguments(schemas.WatchlistPath, location="path", as_kwargs=True)
@blp.response(202, schemas.Queued, example=ex.QUEUED)
@_errors(403, 404, 422, 429, 503, refresh=True)
def refresh(token: str):
    """Refresh the list's prices in the background (202), at most once per interval (429)."""
    watchlists.require_claim(engine_of_lists(), token, "refresh",
                             services.settings().watchlist_refresh_s)
    if not watch_view.submit("watch_refresh", token):  # it gave the claim back
        raise DatabaseUnavailableError("the job queue does not answer now, so the refresh was "
                                       "not queued; try again in a minute")
    return jsonify(queued=True), 202

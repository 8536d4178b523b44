"""The watchlist pages under /watchlists (issue 22, D): a list's table, its rows as JSON for the
page's script, its CSV, and the forms that make a list, add a ticker and refresh its prices.

No accounts: a list's unguessable token in its address is the only key to it. The token of the
list last made in this browser is kept in the session, so a second "Add to watchlist" appends.
Every POST carries the form's CSRF token (origins.py).
"""

from __future__ import annotations

import re

from flask import (Blueprint, Response, flash, jsonify, redirect, render_template, request,
                   session, url_for)
from stockPredictor.data.tickers import TICKER_RULE, check_ticker, html_pattern
from stockPredictor.errors import DataError
from stockPredictor.forecast.predict import DEFAULT_HORIZON
from stockPredictor.model.config import MAX_HORIZON
from stockPredictor.store import watchlists
from stockPredictor.store.watchlists import WatchlistBoundError, WatchlistNotFound

from . import errors, services, watch_view
from .watch_view import engine_of_lists

bp = Blueprint("watchlists", __name__)
SESSION_KEY = "watchlist"
PAGES = " through the pages (the API takes more)"
# A person followed a link: said as a link (the API's answer names the token). Bounds and every
# other error answer as anywhere in the app (errors.py).
NOT_FOUND = ("no watchlist has this link: check that it was copied whole; a list nobody opened "
             "for a year is removed")
SEPARATORS = re.compile(r"[\s,;]+")
# Column heads in the table's order: sort key (None: not sortable), label, numeric.
COLUMNS = (("ticker", "Ticker", False), ("close", "Last close", True),
           ("day", "Day", True), ("trend", "60 days", True), ("change", "Forecast", True),
           ("band", "Band", True), ("verdict", "Beats no change?", False),
           ("fresh", "Prices", False), ("model", "Model", False))


@bp.app_template_filter("pct")
def pct(value, sign: bool = True) -> str:
    """A percent to 2 decimals, signed: '+1.25%'; 'n/a' for None."""
    if value is None:
        return "n/a"
    return f"{value:+.2f}%".replace("-", "\u2212") if sign else f"{value:.2f}%"


@bp.app_template_filter("sparkline_points")
def sparkline_points(closes) -> str:
    """The closes as a polyline's points in the sparkline's 60 x 20 box."""
    return watch_view.sparkline_points(closes)


@bp.app_template_global("watchlist_token")
def watchlist_token() -> str | None:
    """The token of the list last made in this browser, if any (the "Add" form appends to it)."""
    token = session.get(SESSION_KEY)
    return token if isinstance(token, str) else None


def _horizon() -> int:
    raw = request.args.get("horizon", str(DEFAULT_HORIZON)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HORIZON:
        raise DataError(f"horizon {raw[:20]!r} is not valid: expected a whole number of trading "
                        f"days from 1 to {MAX_HORIZON}")
    return int(raw)


def _sort() -> tuple[str | None, bool]:
    key = request.args.get("sort")
    if key is not None and key not in watch_view.SORT_KEYS:
        raise DataError(f"sort {key[:20]!r} is not a column: expected one of "
                        f"{', '.join(watch_view.SORT_KEYS)}")
    return key, request.args.get("dir", "asc") == "desc"


def _load(token: str, touch: bool = False):
    return watchlists.get(engine_of_lists(), token, touch=touch)


@bp.errorhandler(WatchlistNotFound)
def _not_found(exc: WatchlistNotFound):
    return errors.error_response(404, "unknown_watchlist", NOT_FOUND)


@bp.route("/watchlists/new")
def new():
    """The form that makes a list: a name and its tickers."""
    return _new_form({"name": request.args.get("name", ""),
                      "tickers": request.args.get("tickers", "")})


def _new_form(values: dict, error: str | None = None, field: str = "tickers", status: int = 200,
              headers=None):
    settings = services.settings()
    return render_template("watchlist_new.html", values=values, error=error, field=field,
                           max_tickers=settings.watchlist_page_tickers,
                           max_name=settings.watchlist_name_chars, ticker_rule=TICKER_RULE
                           ), status, headers or {}


@bp.route("/watchlists", methods=["POST"])
def create():
    """Make a list from the form (name and tickers) or an "Add" button (ticker); 303 to it.

    A refused bound or ticker from an "Add" button answers as anywhere in the app (errors.py:
    the bound's status and code, Retry-After); from the form, beside its field."""
    form = request.form
    name = form.get("name", "").strip() or watchlists.DEFAULT_NAME
    from_button = "tickers" not in form
    text = form.get("ticker", "") if from_button else form.get("tickers", "")
    settings = services.settings()
    try:
        tickers = list(dict.fromkeys(check_ticker(t) for t in SEPARATORS.split(text) if t))
        if not tickers:
            raise DataError("no tickers were given: type one or more, separated by spaces or "
                            "commas (for example IBM MSFT)")
        made = watchlists.create(engine_of_lists(), name, tickers, services.client(),
                                 max_tickers=settings.watchlist_page_tickers,
                                 max_name=settings.watchlist_name_chars,
                                 per_day=settings.watchlists_per_day,
                                 keep_days=settings.watchlist_keep_days,
                                 max_lists=settings.watchlists_max, where=PAGES)
    except DataError as exc:  # a bound, or a ticker that cannot be one: said beside the field
        if from_button:
            raise
        status = getattr(exc, "status", 422)
        field = "name" if getattr(exc, "bound", None) == "name" else "tickers"
        retry = getattr(exc, "retry_after", None)
        return _new_form({"name": form.get("name", ""), "tickers": text}, str(exc), field,
                         status, [("Retry-After", str(retry))] if retry else None)
    session[SESSION_KEY] = made.token
    return redirect(url_for("watchlists.page", token=made.token, new=1), 303)


@bp.route("/watchlists/<token>/add", methods=["POST"])
def add(token: str):
    """Append the form's ticker (the "Add to watchlist" button); 303 to the list."""
    ticker = check_ticker(request.form.get("ticker", ""))
    try:
        watchlists.add_ticker(engine_of_lists(), token, ticker,
                              max_tickers=services.settings().watchlist_page_tickers,
                              where=PAGES)
    except WatchlistNotFound:
        if session.get(SESSION_KEY) != token:
            raise
        # The browser's list is gone (removed unread): the button starts a new one instead.
        session.pop(SESSION_KEY, None)
        return create()
    flash(f"{ticker} is on this list.")
    return redirect(url_for("watchlists.page", token=token), 303)


@bp.route("/watchlists/<token>")
def page(token: str):
    """The list's table; ?fragment=rows: its rows alone (the script swaps in filled rows)."""
    watchlist = _load(token, touch=True)
    horizon, (key, descending) = _horizon(), _sort()
    answer = watch_view.table(watchlist, horizon)
    rows = watch_view.sort_rows(answer["rows"], key, descending) if key else answer["rows"]
    context = {"table": answer, "rows": rows, "sort": key, "descending": descending,
               "columns": COLUMNS, "horizon": horizon, "max_horizon": MAX_HORIZON,
               "sort_value": watch_view.sort_value, "trend_pct": watch_view.trend_pct,
               "ticker_pattern": html_pattern()}
    if request.args.get("fragment") == "rows":
        return render_template("_watchlist_rows.html", **context)
    link = url_for("watchlists.page", token=token, _external=True)
    return render_template("watchlist.html", new=request.args.get("new") == "1", link=link,
                           refreshed=request.args.get("refreshed") == "1", **context)


@bp.route("/watchlists/<token>/rows.json")
def rows(token: str):
    """The list's WatchTable JSON, which the page polls while rows are computing."""
    answer = jsonify(watch_view.table(_load(token), _horizon()))
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.route("/watchlists/<token>.csv")
def csv(token: str):
    """The list's table as CSV: the page's columns, in its order (?sort= too)."""
    answer = watch_view.table(_load(token), _horizon())
    key, descending = _sort()
    if key:
        answer = {**answer, "rows": watch_view.sort_rows(answer["rows"], key, descending)}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", answer["name"]).strip("-")[:40] or "watchlist"
    return Response(watch_view.csv_of(answer), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{slug}-{answer["horizon"]}d.csv"'})


@bp.route("/watchlists/<token>/refresh", methods=["POST"])
def refresh(token: str):
    """Queue a refresh of the list's prices, at most once per WATCHLIST_REFRESH_S; 303 back."""
    try:
        watchlists.require_claim(engine_of_lists(), token, "refresh",
                                 services.settings().watchlist_refresh_s)
    except WatchlistBoundError as exc:  # too soon: the sentence says when it may be again
        flash(f"Not refreshed: {exc}.")
    else:
        if watch_view.submit("watch_refresh", token):
            flash("This list's prices are being fetched; the table shows them once stored.")
            # The page polls until the job has run (it may wait a while in the queue).
            return redirect(url_for("watchlists.page", token=token, refreshed=1), 303)
        flash("The refresh could not be queued just now; try again in a minute.")
    return redirect(url_for("watchlists.page", token=token), 303)

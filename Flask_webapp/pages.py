"""The HTML pages: search and info card, the forecast form, the forecast itself, the ledger."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from marshmallow import ValidationError
from stockPredictor import rounding
from stockPredictor.data import info
from stockPredictor.data.csv import MAX_UPLOAD_BYTES
from stockPredictor.data.sample import SAMPLE_TICKERS
from stockPredictor.data.tickers import TICKER_MAX_CHARS, TICKER_RULE, check_ticker, html_pattern
from stockPredictor.errors import DatabaseUnavailableError, StockPredictorError
from stockPredictor.forecast import words
from stockPredictor.forecast.bands import DEFAULT_LEVEL, LEVELS
from stockPredictor.forecast.predict import DEFAULT_HORIZON
from stockPredictor.forecast.report import Report
from stockPredictor.forecast.track_record import p_text
from stockPredictor.model.config import MAX_HORIZON
from stockPredictor.store import ledger, outcomes

from . import errors, forecast_page, forms, links, schemas, services

bp = Blueprint("pages", __name__)
# The form's fields that a link may fill in.
FORM_FIELDS = ("ticker", "horizon", "level", "as_of", "model")
# A forecast's options, in services.forecast's order.
OPTIONS = ("horizon", "as_of", "model", "level")
# The rules every page's forms and scripts follow, from the Python constants that define them.
RULES = {"ticker_pattern": html_pattern(), "ticker_max": TICKER_MAX_CHARS,
         "ticker_rule": TICKER_RULE, "levels": [(f"{level:g}", f"{level:.0%}") for level in LEVELS],
         "default_level": f"{DEFAULT_LEVEL:g}", "max_horizon": MAX_HORIZON,
         "default_horizon": DEFAULT_HORIZON, "max_upload_mb": f"{MAX_UPLOAD_BYTES / 1e6:g}",
         "price_digits": rounding.PAGE_DIGITS, "price_decimals": rounding.PAGE_DECIMALS}


@bp.app_context_processor
def _rules() -> dict:
    # Every page's search box offers the tickers that work offline.
    return {"rules": RULES, "suggestions": SAMPLE_TICKERS}


@bp.app_template_filter("p_value")
def p_value(p: float) -> str:
    """A p-value as the verdict writes it: 'p < 0.001', 'p = 0.004', 'p = 0.23'."""
    return p_text(p)


@bp.app_template_filter("p_words")
def p_words(p: float) -> str:
    """A p-value in words: 'unlikely to be chance' below 0.05, else 'could easily be chance'."""
    return words.p_words(p)


@bp.app_template_filter("price")
def price(value, sign: bool = False, like: float | None = None) -> str:
    """A price with thousands separators and at least 4 significant digits: 0.08390, 14,566.65;
    with ``like``, an error or change in that price's decimals (+1.80 beside 202.45)."""
    return "n/a" if value is None else rounding.price_text(value, sign=sign, like=like)


@bp.app_template_filter("date")
def date(value) -> Markup:
    """An ISO date that never breaks across lines: 2013-03-01."""
    # escape() then concatenation: Markup.format costs ~25 us a call, and a page has 300 dates.
    return Markup(f'<span class="date">{escape(value)}</span>')


@bp.route("/")
def index():
    """Ticker search; with ?ticker=, its info card and price chart."""
    ticker = request.args.get("ticker", "").strip()
    if not ticker:
        return render_template("index.html", ticker=None)
    try:
        card = info.summary(services.load_prices(_ticker(ticker)))
    except ValidationError as exc:
        # Beside the field, which keeps what was typed and takes the focus to be corrected.
        message = _field_errors(exc).get("ticker") or errors.describe(exc.messages)
        return render_template("index.html", ticker=ticker[:forms.MAX_ECHO],
                               search_error=message), 422
    except StockPredictorError as exc:
        status, code, message = errors.package_status(exc)
        return render_template("index.html", ticker=ticker[:forms.MAX_ECHO], error=message,
                               code=code), status
    return render_template("index.html", ticker=card["ticker"], card=card)


@bp.route("/predict", methods=["GET", "POST"])
def predict():
    """The forecast form; a ticker or a stored upload goes on to its forecast page (303)."""
    if request.method == "GET":
        # "Another forecast" comes back with the values just used; the form shows them again.
        values = _asked(request.args)
        try:
            if values["ticker"]:
                _ticker(values["ticker"])
        except ValidationError as exc:
            return forms.render(values, _field_errors(exc), status=422)
        return forms.render(values)
    form = request.form.to_dict()
    # A refused stored upload's form comes back with its id: forecast that file again, unless
    # another was chosen.
    name, stored = forms.chosen(form, request.files)
    frame = None
    try:
        args = schemas.ForecastRequest().load(schemas.form_fields(form))
        asked = {key: args[key] for key in OPTIONS}
        if stored is not None:
            frame, _ = services.load_upload(stored, as_of=args["as_of"])
            forms.check(frame, args)
            return redirect(links.upload(stored, **asked), 303)
        if name is None and not args["ticker"]:
            raise ValidationError("enter a ticker, or choose a CSV file of prices", "ticker")
        # Refused here, before a file is stored: the form keeps its file's name and values,
        # and its date field the file's usable dates.
        if name is not None:
            def check(prices):
                nonlocal frame
                frame = prices
                forms.check(prices, args)
            frame = services.read_upload(request.files["file"], args["ticker"], check=check,
                                         as_of=args["as_of"])
        else:
            frame = services.load_prices(check_ticker(args["ticker"]))
            forms.check(frame, args)
    except ValidationError as exc:
        return forms.render(form, _field_errors(exc), upload=name, frame=frame, status=422,
                            stored=stored if frame is not None else None)
    except StockPredictorError as exc:
        return forms.refused(form, exc, upload=name, frame=frame,
                             stored=stored if frame is not None else None)
    if name is None:
        return redirect(links.prediction(check_ticker(args["ticker"]), **asked), 303)
    if frame.attrs.get("upload_id") is not None:  # POST/redirect/GET: a reload asks nothing
        return redirect(links.upload(frame.attrs["upload_id"], **asked), 303)
    # The database could not keep the file, so there is no page to send the person to.
    frame.attrs["notices"] = [*frame.attrs.get("notices", ()), forecast_page.UNKEPT]
    return forecast_page.page(_forecast(frame, args), frame)


@bp.route("/predict/dates")
def predict_dates():
    """The as-of dates the form's ticker and model can forecast from, as JSON (the form's
    script sets the date field's bounds from it); nulls when they cannot be known."""
    ticker, model = (request.args.get(key, "")[:forms.MAX_ECHO] for key in ("ticker", "model"))
    found = forms.usable(ticker, model) or {}
    return jsonify({key: found.get(key) for key in ("earliest", "latest", "text")} | {
        "warning": forms.model_warning(ticker, model, forms.model_summaries())})


@bp.route("/prediction/<ticker>")
def prediction(ticker: str):
    """The forecast of a ticker: chart, table, track record, model, data and downloads."""
    # Options that cannot be forecast (from the form's redirect or a link) bring the form back.
    values = _asked(request.args, ticker=ticker)
    try:
        args = _options()
        frame = services.load_prices(_ticker(ticker))
        report = _forecast(frame, args)
    except ValidationError as exc:
        return forms.render(values, _field_errors(exc), status=422)
    except StockPredictorError as exc:
        return forms.refused(values, exc)
    return forecast_page.page(report, frame)


@bp.route("/prediction/upload/<int:upload_id>")
def upload_prediction(upload_id: int):
    """The forecast of a stored upload: its permanent address, as the API's "url" gives it."""
    values, frame = _asked(request.args), None
    try:
        # The link's as_of as written: the reader ignores one that is not a date, and
        # _options refuses it below.
        frame, options = services.load_upload(upload_id, viewed=True, as_of=_link_as_of())
        values["ticker"] = values["ticker"] or options.get("ticker") or ""
        report = _forecast(frame, _options())
    except ValidationError as exc:
        return forms.render(values, _field_errors(exc), upload="", frame=frame, status=422,
                            stored=upload_id if frame is not None else None)
    except StockPredictorError as exc:
        return forms.refused(values, exc, upload="", frame=frame,
                             stored=upload_id if frame is not None else None)
    return forecast_page.page(report, frame)


@bp.route("/prediction/<ticker>/forecast.<any(csv, json):kind>")
def download(ticker: str, kind: str):
    """A ticker's forecast as a CSV or JSON file: the page's downloads."""
    return forecast_page.download(_forecast(services.load_prices(_ticker(ticker)), _options()),
                                  kind)


@bp.route("/prediction/upload/<int:upload_id>/forecast.<any(csv, json):kind>")
def upload_download(upload_id: int, kind: str):
    """A stored upload's forecast as a CSV or JSON file."""
    frame, _ = services.load_upload(upload_id, as_of=_link_as_of())
    return forecast_page.download(_forecast(frame, _options()), kind)


def _link_as_of() -> str | None:
    # Bounded before any parser reads it; the schema refuses a bad one afterwards.
    return request.args.get("as_of", "")[:forms.MAX_ECHO] or None


@bp.route("/glossary")
def glossary():
    """The words the forecast pages use, in plain terms."""
    return render_template("glossary.html")


@bp.route("/forecasts")
def forecasts():
    """The forecast ledger: the live record per ticker and model, and the live forecasts."""
    query = schemas.LedgerQuery().load(schemas.form_fields(request.args.to_dict()))
    # Only live forecasts are recorded: a replay is recomputed on its own page on demand.
    if query["ticker"]:
        query["ticker"] = check_ticker(query["ticker"])
    filters = {key: query[key] for key in ("ticker", "model", "as_of") if query[key]}
    try:
        engine = services.database().require(ledger.LEDGER)
        records = services.live_records().every(engine)
        listing = links.ledger(ledger.listing(engine, **filters, limit=query["limit"],
                                              before=query["before"], after=query["after"]))
    except DatabaseUnavailableError as exc:
        return render_template("forecasts.html", unavailable=str(exc), filters=filters,
                               records=[], listing=None, pages={})
    # The page size travels with the pager's links; the default stays out of the address.
    size = {} if query["limit"] == ledger.DEFAULT_LIMIT else {"limit": query["limit"]}
    pages = {"newer": listing["newer"] and url_for(
                 "pages.forecasts", **filters, **size, after=listing["newer"]),
             "older": listing["older"] and url_for(
                 "pages.forecasts", **filters, **size, before=listing["older"]),
             "first": not (query["before"] or query["after"])}
    for item in listing["forecasts"]:  # the page's error columns; the API gives the rows
        item["outcome"] = outcomes.outcome(item)
    return render_template("forecasts.html", unavailable=None, filters=filters, records=records,
                           listing=listing, pages=pages)


@bp.app_template_global("live_record")
def live_record(ticker: str, model: str) -> dict | None:
    """The live record of ``ticker`` by ``model`` for the forecast page, or None."""
    return services.live_records().get(services.database().engine, ticker, model)


def _ticker(value: str) -> str:
    # The schema's check first: its message quotes at most an excerpt of what was sent.
    schemas.TickerPath().load({"ticker": value})
    return check_ticker(value)


def _field_errors(exc: ValidationError) -> dict:
    # Shown beside each field, so the sentence need not name it again.
    return {field: errors.describe(messages)
            for field, messages in exc.normalized_messages().items()}


def _options() -> dict:
    # A forecast's options from the query string: horizon, as_of, model and level.
    return schemas.ForecastOptions().load(schemas.form_fields(request.args.to_dict()))


def _forecast(frame, args: dict) -> Report:
    # The report of ``frame`` with the options a schema loaded.
    return services.forecast(frame, *(args[key] for key in OPTIONS))


def _asked(query, **given) -> dict:
    # The form's values from a query string: the defaults, then what was asked, as typed.
    return {"ticker": "", "horizon": DEFAULT_HORIZON, "level": DEFAULT_LEVEL,
            **{key: query[key].strip() for key in FORM_FIELDS if key in query}, **given}

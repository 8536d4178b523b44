"""The HTML pages: search and info card, the forecast form, the forecast itself, the ledger."""

from __future__ import annotations

import base64
import json

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from marshmallow import ValidationError
from stockPredictor import rounding
from stockPredictor.data import info
from stockPredictor.data.csv import MAX_UPLOAD_BYTES
from stockPredictor.data.sample import SAMPLE_TICKERS
from stockPredictor.data.tickers import TICKER_MAX_CHARS, TICKER_RULE, check_ticker, html_pattern
from stockPredictor.errors import DatabaseUnavailableError, StockPredictorError
from stockPredictor.forecast.bands import DEFAULT_LEVEL, LEVELS
from stockPredictor.forecast.predict import DEFAULT_HORIZON
from stockPredictor.forecast.report import Report
from stockPredictor.forecast.track_record import p_text
from stockPredictor.model.config import MAX_HORIZON
from stockPredictor.store import ledger

from . import errors, links, schemas, services

bp = Blueprint("pages", __name__)
# The most of what was typed that goes back into a search box or form field (a model name is
# up to 64 characters): a page never echoes a whole hostile input.
MAX_ECHO = 80
# The form's fields that a link may fill in.
FORM_FIELDS = ("ticker", "horizon", "level", "as_of", "model")
# Rows of history drawn before the forecast on the prediction page.
CHART_HISTORY = 250
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


@bp.app_template_filter("price")
def price(value, sign: bool = False) -> str:
    """A price with thousands separators and at least 4 significant digits: 0.08390, 14,566.65."""
    return "n/a" if value is None else rounding.price_text(value, sign=sign)


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
        return render_template("index.html", ticker=ticker[:MAX_ECHO],
                               error=errors.describe(exc.messages)), 422
    except StockPredictorError as exc:
        status, code, message = errors.package_status(exc)
        return render_template("index.html", ticker=ticker, error=message), status
    return render_template("index.html", ticker=card["ticker"], card=card)


@bp.route("/predict", methods=["GET", "POST"])
def predict():
    """The forecast form; a ticker goes on to its forecast page, an upload is forecast here."""
    if request.method == "GET":
        # "Another forecast" comes back with the values just used; the form shows them again.
        values = {"horizon": DEFAULT_HORIZON, "level": DEFAULT_LEVEL,
                  **{key: request.args[key].strip() for key in FORM_FIELDS if key in request.args}}
        values["ticker"] = values.get("ticker", "")
        try:
            if values["ticker"]:
                _ticker(values["ticker"])
        except ValidationError as exc:
            return _form(values, _field_errors(exc)), 422
        return _form(values)
    form = request.form.to_dict()
    upload = request.files.get("file")
    try:
        args = schemas.ForecastRequest().load(schemas.form_fields(form))
        if upload is not None and upload.filename:
            frame = services.read_upload(upload, args["ticker"])
            return _show(services.forecast(frame, args["horizon"], args["as_of"],
                                           args["model"], args["level"]), frame)
        if not args["ticker"]:
            raise ValidationError("enter a ticker, or choose a CSV file of prices", "ticker")
    except ValidationError as exc:
        return _form(form, _field_errors(exc)), 422
    except StockPredictorError as exc:
        status, _, message = errors.package_status(exc)
        return _form(form, {"file" if upload and upload.filename else "ticker": message}), status
    return redirect(links.prediction(args["ticker"].upper(), horizon=args["horizon"],
                                     as_of=args["as_of"], model=args["model"],
                                     level=args["level"]), 303)


@bp.route("/prediction/<ticker>")
def prediction(ticker: str):
    """The forecast of a ticker: chart, table, track record, model, data and downloads."""
    args = schemas.ForecastOptions().load(schemas.form_fields(request.args.to_dict()))
    frame = services.load_prices(_ticker(ticker))
    return _show(services.forecast(frame, args["horizon"], args["as_of"], args["model"],
                                   args["level"]), frame)


@bp.route("/prediction/upload/<int:upload_id>")
def upload_prediction(upload_id: int):
    """The forecast of a stored upload: its permanent address, as the API's "url" gives it."""
    args = schemas.ForecastOptions().load(schemas.form_fields(request.args.to_dict()))
    frame, _ = services.load_upload(upload_id)
    return _show(services.forecast(frame, args["horizon"], args["as_of"], args["model"],
                                   args["level"]), frame)


@bp.route("/forecasts")
def forecasts():
    """The forecast ledger: the live record per ticker and model, and the forecasts served."""
    query = schemas.LedgerQuery().load(schemas.form_fields(request.args.to_dict()))
    query["kind"] = query["kind"] or "live"  # live and replay are never listed together
    if query["ticker"]:
        query["ticker"] = check_ticker(query["ticker"])
    filters = {key: query[key] for key in ("ticker", "model", "as_of", "kind") if query[key]}
    try:
        engine = services.database().require(ledger.LEDGER)
        records = services.live_records().every(engine)
        listing = links.ledger(ledger.listing(engine, **filters, limit=query["limit"],
                                              offset=query["offset"]))
    except DatabaseUnavailableError as exc:
        return render_template("forecasts.html", unavailable=str(exc), filters=filters,
                               records=[], listing=None, pages={})
    limit, offset = query["limit"], query["offset"]
    # The page size travels with the pager's links; the default stays out of the address.
    size = {} if limit == ledger.DEFAULT_LIMIT else {"limit": limit}
    pages = {"newer": None if offset == 0 else url_for(
                 "pages.forecasts", **filters, **size, offset=max(0, offset - limit) or None),
             "older": None if offset + limit >= listing["total"] else url_for(
                 "pages.forecasts", **filters, **size, offset=offset + limit),
             "first": offset + 1, "last": offset + len(listing["forecasts"])}
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


def _form(values: dict, field_errors: dict | None = None):
    models = services.registry()
    values = {key: str(value)[:MAX_ECHO] for key, value in values.items()}
    return render_template("price_predict.html", values=values, errors=field_errors or {},
                           models=[models.get(n).summary() for n in models.names()])


def _show(report: Report, frame):
    # What the person asked for (an as_of as typed, "automatic" for the model), not what served
    # it: the page's links and "Another forecast" keep it.
    asked = {**request.args.to_dict(), **request.form.to_dict()}
    asked = {key: asked[key] for key in ("as_of", "model") if asked.get(key)}
    document = links.answer(report, asked.get("as_of"), asked.get("model"))
    name = f"{report.ticker}-forecast-{report.as_of}"
    downloads = {"csv": (_data_url("text/csv", report.to_csv()), f"{name}.csv"),
                 "json": (_data_url("application/json", json.dumps(document)), f"{name}.json")}
    again = {"ticker": report.ticker, "horizon": report.horizon, "level": report.level, **asked}
    # The band level is part of the page's address, so a reload or a shared link keeps it. An
    # upload the database could not keep has no address: its level is chosen on the form.
    levels = {}
    if report.upload_id is not None:
        levels = {f"{level:g}": links.upload(report.upload_id, horizon=report.horizon,
                                             level=level, **asked) for level in LEVELS}
    elif report.data["source"] != "csv":
        levels = {f"{level:g}": links.prediction(report.ticker, horizon=report.horizon,
                                                 level=level, **asked) for level in LEVELS}
    # What reading a file fixed goes in the Data card; the rest (sample or stale prices, a
    # moved as_of) at the top, where it cannot be missed. Each sentence shows once.
    file_notices = list(frame.attrs.get("notices", ()))
    banner = [n for n in report.notices if n not in file_notices]
    return render_template("show_prediction.html", result=document, chart=_chart(report, frame),
                           downloads=downloads, again=again, banner=banner, levels=levels,
                           file_notices=file_notices, past_rows=_past_rows(report.record))


def _past_rows(record: dict) -> Markup:
    # The past-forecasts table's rows, a year of them, written in one pass: dates and numbers
    # only, so nothing in them needs escaping.
    past = record.get("past") or []
    texts = rounding.price_texts([row[key] for row in past
                                  for key in ("forecast", "actual", "last_close")])
    cells = iter(texts)
    return Markup("".join(
        f'<tr><th scope="row"><span class="date">{row["date"]}</span></th><td>{next(cells)}'
        f'</td><td>{next(cells)}</td><td>{next(cells)}</td></tr>' for row in past))


def _data_url(mimetype: str, text: str) -> str:
    # base64 rather than percent-encoding: a third of the size of an escaped JSON document, and
    # written in C rather than a character at a time.
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return f"data:{mimetype};charset=utf-8;base64,{encoded}"


def _chart(report: Report, frame) -> dict:
    # What the page's scripts draw: the report's numbers, and the closes before the forecast.
    document, record = report.to_dict(), report.record
    by_step = None if not record["available"] else {
        key: record[key] for key in ("steps", "origins", "start", "end", "mae_vs_naive",
                                     "p_value_vs_naive", "policy_weights")}
    return {"ticker": report.ticker, "as_of": report.as_of, "horizon": report.horizon,
            "history": info.closes(frame, report.as_of, CHART_HISTORY),
            **{key: document[key] for key in ("forecast", "actual", "level", "bands",
                                              "baselines")},
            "by_step": by_step, "past": record.get("past", [])}

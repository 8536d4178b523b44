"""The HTML pages: search and info card, the forecast form, and the forecast itself."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from marshmallow import ValidationError
from stockPredictor import info, rounding
from stockPredictor.bands import DEFAULT_LEVEL, LEVELS
from stockPredictor.config import MAX_HORIZON
from stockPredictor.errors import StockPredictorError
from stockPredictor.predict import DEFAULT_HORIZON
from stockPredictor.track_record import p_text
from stockPredictor.prices import SAMPLE_TICKERS, check_ticker

from . import errors, forecasting, ledger_view, schemas

bp = Blueprint("pages", __name__)
# The most of what was typed that goes back into a search box or form field (a model name is
# up to 64 characters): a page never echoes a whole hostile input.
MAX_ECHO = 80
# The form's fields that a link may fill in.
FORM_FIELDS = ("ticker", "horizon", "level", "as_of", "model")


@bp.app_context_processor
def _suggestions() -> dict:
    # Every page's search box offers the tickers that work offline.
    return {"suggestions": SAMPLE_TICKERS}


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
        card = info.summary(forecasting.load_prices(_ticker(ticker)))
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
            frame = forecasting.read_upload(upload, args["ticker"])
            return _show(forecasting.run_forecast(frame, args["horizon"], args["as_of"],
                                                  args["model"], args["level"]), frame)
        if not args["ticker"]:
            raise ValidationError("enter a ticker, or choose a CSV file of prices", "ticker")
    except ValidationError as exc:
        return _form(form, _field_errors(exc)), 422
    except StockPredictorError as exc:
        status, _, message = errors.package_status(exc)
        return _form(form, {"file" if upload and upload.filename else "ticker": message}), status
    query = {key: args[key] for key in ("as_of", "model") if args[key]}
    if args["level"] != DEFAULT_LEVEL:  # the default stays out of the address
        query["level"] = args["level"]
    return redirect(url_for("pages.prediction", ticker=args["ticker"].upper(),
                            horizon=args["horizon"], **query), 303)


@bp.route("/prediction/<ticker>")
def prediction(ticker: str):
    """The forecast of a ticker: chart, table, model, data freshness and downloads."""
    args = schemas.ForecastOptions().load(schemas.form_fields(request.args.to_dict()))
    frame = forecasting.load_prices(_ticker(ticker))
    return _show(forecasting.run_forecast(frame, args["horizon"], args["as_of"], args["model"],
                                          args["level"]), frame)


@bp.route("/prediction/upload/<int:upload_id>")
def upload_prediction(upload_id: int):
    """The forecast of a stored upload: its permanent address, as the API's "url" gives it."""
    args = schemas.ForecastOptions().load(schemas.form_fields(request.args.to_dict()))
    frame, _ = forecasting.load_upload(upload_id)
    return _show(forecasting.run_forecast(frame, args["horizon"], args["as_of"], args["model"],
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
        records = ledger_view.live_records()
        listing = ledger_view.listing(**filters, limit=query["limit"], offset=query["offset"])
    except ledger_view.LedgerUnavailable as exc:
        return render_template("forecasts.html", unavailable=str(exc), filters=filters,
                               records=[], listing=None, pages={})
    limit, offset = query["limit"], query["offset"]
    # The page size travels with the pager's links; the default stays out of the address.
    size = {} if limit == schemas.LedgerQuery().load({})["limit"] else {"limit": limit}
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
    return ledger_view.live_record(ticker, model)


def _ticker(value: str) -> str:
    # The schema's check first: its message quotes at most an excerpt of what was sent.
    schemas.TickerPath().load({"ticker": value})
    return check_ticker(value)


def _field_errors(exc: ValidationError) -> dict:
    # Shown beside each field, so the sentence need not name it again.
    return {field: errors.describe(messages)
            for field, messages in exc.normalized_messages().items()}


def _form(values: dict, field_errors: dict | None = None):
    models = forecasting.registry()
    values = {key: str(value)[:MAX_ECHO] for key, value in values.items()}
    return render_template("price_predict.html", values=values, errors=field_errors or {},
                           models=[forecasting.model_info(models.get(n)) for n in models.names()],
                           max_horizon=MAX_HORIZON, default_level=str(DEFAULT_LEVEL),
                           levels=[(str(level), f"{level:.0%}") for level in LEVELS])


def _show(result: dict, frame):
    chart = forecasting.chart_data(frame, result)
    name = f"{result['ticker']}-forecast-{result['as_of']}"
    downloads = {"csv": ("data:text/csv;charset=utf-8," + quote(_csv(result)), f"{name}.csv"),
                 "json": ("data:application/json;charset=utf-8," + quote(json.dumps(result)),
                          f"{name}.json")}
    # What the person asked for (an as_of as typed, "automatic" for the model), not what served it.
    asked = {**request.args.to_dict(), **request.form.to_dict()}
    again = {"ticker": result["ticker"], "horizon": result["horizon"],
             "level": result.get("level") or DEFAULT_LEVEL,
             **{key: asked[key] for key in ("as_of", "model") if asked.get(key)}}
    # What reading a file fixed goes in the Data card; the rest (sample or stale prices, a
    # moved as_of) at the top, where it cannot be missed. Each sentence shows once.
    file_notices = list(frame.attrs.get("notices", ()))
    banner = [n for n in result["notices"] if n not in file_notices]
    return render_template("show_prediction.html", result=result, chart=chart,
                           downloads=downloads, again=again, banner=banner,
                           file_notices=file_notices)


def _csv(result: dict) -> str:
    actual = {row["date"]: row["close"] for row in result["actual"] or []}
    banded = any("low" in row for row in result["forecast"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "forecast"] + (["low", "high"] if banded else []) + ["actual"])
    for row in result["forecast"]:
        band = [row.get("low"), row.get("high")] if banded else []
        writer.writerow([row["date"], row["close"], *band, actual.get(row["date"])])
    return out.getvalue()

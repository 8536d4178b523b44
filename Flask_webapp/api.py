"""The JSON API under /api/v1, described by the OpenAPI document at /api/v1/openapi.json."""

from __future__ import annotations

import math

import flask_smorest
from flask import current_app, jsonify, request
from stockPredictor import info
from stockPredictor.errors import DataError
from stockPredictor.prices import check_ticker
from webargs.flaskparser import parser

from . import forecasting, schemas

# Views answer with jsonify, which is fast for thousands of rows; @blp.response documents the
# shape, and the tests check every answer against that schema.
blp = flask_smorest.Blueprint("api", __name__, url_prefix="/api/v1",
                              description="Prices, forecasts and models.")
ERRORS = {404: "unknown ticker or model", 422: "a field is not valid (the message names it)",
          503: "Yahoo Finance is unavailable and nothing else can serve the prices"}


class Api(flask_smorest.Api):
    """flask-smorest's Api with our error format: errors.py handles every error."""

    ERROR_SCHEMA = schemas.Error

    def _register_error_handlers(self):
        pass


def _document_errors(*statuses: int):
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, schema=schemas.Error, description=ERRORS[status])(view)
        return view
    return decorate


@blp.route("/healthz")
@blp.response(200, schemas.Health)
def healthz():
    """The process is up, with the models it loaded."""
    return jsonify(status="ok", models=forecasting.registry().names(),
                   price_source=current_app.config["PRICE_SOURCE"])


@blp.route("/models")
@blp.response(200, schemas.ModelList)
def models():
    """The models this process serves, with what they were trained on."""
    registry = forecasting.registry()
    return jsonify(models=[forecasting.model_info(registry.get(name))
                           for name in registry.names()])


@blp.route("/stocks/<ticker>")
@blp.response(200, schemas.StockInfo)
@_document_errors(404, 422, 503)
def stock(ticker: str):
    """The info card of a ticker: name, source, dates, last close, day change, 52-week range."""
    return jsonify(info.summary(forecasting.load_prices(check_ticker(ticker))))


@blp.route("/stocks/<ticker>/history")
@blp.arguments(schemas.HistoryQuery, location="query")
@blp.response(200, schemas.History)
@_document_errors(404, 422, 503)
def history(query: dict, ticker: str):
    """Daily prices of a ticker, oldest first, optionally from start (inclusive) to end."""
    frame = forecasting.load_prices(check_ticker(ticker))
    if query["start"]:
        frame = frame.loc[str(query["start"]):]
    if query["end"]:
        frame = frame[frame.index < str(query["end"])]
    rows = frame.round(4)
    prices = [{"date": day, "open": o, "high": h, "low": lo, "close": c,
               "volume": 0.0 if math.isnan(v) else v}
              for day, o, h, lo, c, v in zip(rows.index.strftime("%Y-%m-%d"), rows["open"],
                                             rows["high"], rows["low"], rows["close"],
                                             rows["volume"])]
    return jsonify(ticker=frame.attrs.get("ticker"), source=frame.attrs.get("source"),
                   prices=prices)


@blp.route("/forecast", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": schemas.ForecastRequest},
    "multipart/form-data": {"schema": schemas.ForecastUpload}}})
@blp.response(200, schemas.ForecastResult)
@_document_errors(404, 422, 503)
@blp.alt_response(413, schema=schemas.Error, description="the upload is over the size limit")
def forecast():
    """Forecast a ticker's next trading days, or those of an uploaded CSV of prices."""
    args = parser.parse(schemas.ForecastRequest(), request, location="json_or_form")
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        frame = forecasting.read_upload(upload, args["ticker"])
    elif args["ticker"]:
        frame = forecasting.load_prices(args["ticker"])
    else:
        raise DataError("ticker: give a ticker, or upload a CSV of prices as the field 'file'")
    result = forecasting.run_forecast(frame, args["horizon"], args["as_of"], args["model"])
    return jsonify(result)

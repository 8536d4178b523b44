"""The JSON API under /api/v1, described by the OpenAPI document at /api/v1/openapi.json.

The docs page, /api/v1/docs, renders that document with Swagger UI (static/vendor/swagger-ui);
every operation carries an example request and answer from api_examples.
"""

from __future__ import annotations

import flask_smorest
from flask import current_app, json, jsonify, render_template, request, url_for
from stockPredictor.data import info
from stockPredictor.data.tickers import check_ticker
from stockPredictor.errors import DataError
from stockPredictor.forecast import report
from stockPredictor.store import ledger

from . import api_examples, forms, job_examples, jobs_view, links, schemas, services

# Views answer with jsonify, which is fast for thousands of rows; @blp.response documents the
# shape, and the tests check every answer against that schema.
blp = flask_smorest.Blueprint("api", __name__, url_prefix="/api/v1",
                              description="Prices, forecasts and models.")
# The ledger's health where no database can be used at all (its URL or driver).
LEDGER_OFF = {"status": "off", "queued": 0, "dropped": 0, "last_write": None,
              "failing_since": None}
ERRORS = {400: "the body is not valid JSON",
          403: "a browser sent it from a page on another site (its Origin or Sec-Fetch-Site "
               "header says so) and API_ALLOWED_ORIGINS does not list that site",
          404: "unknown ticker or model",
          413: "the body is over a size limit (the message says which)",
          415: "the body is neither JSON nor a form",
          422: "a field is not valid (the message names it)",
          429: "too many requests of this kind from the caller's address (the message names the "
               "limit; README, \"Rate limits\"); Retry-After says in how many seconds to retry",
          503: "Yahoo Finance is unavailable and nothing else can serve the prices, or the "
               "database that keeps what was asked for is down"}
# The headers an error answer carries, by status, as the OpenAPI document describes them.
ERROR_HEADERS = {429: {"Retry-After": {"description": "seconds until the limit lets the caller "
                                                      "in again", "schema": {"type": "integer"}}}}


class Api(flask_smorest.Api):
    """flask-smorest's Api with our error format: errors.py handles every error."""

    ERROR_SCHEMA = schemas.Error

    def _register_error_handlers(self):
        pass

    def _openapi_swagger_ui(self):
        """The API docs page: Swagger UI in the site's layout, started by static/js/api_docs.js."""
        # flask-smorest's own template starts Swagger UI with an inline script, which the
        # Content-Security-Policy refuses; ours loads the same files and a script of our own.
        return render_template("api_docs.html", title=self.spec.title,
                               spec_url=url_for(f"{self._make_doc_blueprint_name()}.openapi_json"),
                               swagger_ui_url=self._swagger_ui_url)

    def _openapi_json(self):
        """The OpenAPI document, naming the server it was fetched from in servers and examples."""
        # request.url_root is the address the client used: its Host header, and the scheme
        # X-Forwarded-Proto gave through security's ProxyFix (https behind Heroku's router).
        # werkzeug leaves the host empty when the header holds characters a host cannot.
        document = self.spec.to_dict()
        if request.host:
            document = api_examples.for_server(document, request.url_root.rstrip("/"))
        # As flask-smorest serves it: in the order written (Swagger UI lists operations so).
        return current_app.response_class(json.dumps(document, indent=2, sort_keys=False),
                                          mimetype="application/json")


def _document_errors(*statuses: int):
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, schema=schemas.Error, description=ERRORS[status],
                                    example=api_examples.ERRORS[status],
                                    headers=ERROR_HEADERS.get(status))(view)
        return view
    return decorate


@blp.route("/healthz")
@blp.doc(description=api_examples.curl("/api/v1/healthz"))
@blp.response(200, schemas.Health, example=api_examples.HEALTH)
@blp.alt_response(503, schema=schemas.Health, description="no model is loaded, so no forecast "
                  "can be served; or forecasts are served but not recorded: the database does "
                  "not answer, or refuses this worker's ledger writes",
                  examples=api_examples.HEALTH_503)
@_document_errors(403)
def healthz():
    """Whether the process serves forecasts and records them in the ledger; a 503 says why not."""
    registry = services.registry()
    writer = current_app.extensions.get("ledger")
    body = {"status": "ok", "models": registry.names(),
            "price_source": services.settings().price_source,
            # Reasons name the kind of failure alone, never a host, port, user or path.
            "database": services.database().status(),
            "ledger": writer.health() if writer is not None else dict(LEDGER_OFF)}
    if registry.skipped:
        body["skipped"] = registry.skipped  # path-free: the registry keeps them so
    if not body["models"]:
        # A load balancer should route around a process that can only answer 404s to forecasts.
        body.update(status="unavailable", reason="no model is loaded, so no forecast can be "
                    "served; train one with `stock-predictor train`")
        return jsonify(body), 503
    # Forecasts are still served (from Yahoo or the sample), but nothing served is recorded:
    # an operator must hear of it, not find a hole in the ledger later.
    failure = body["ledger"].get("reason") or body["database"].get("reason")
    if failure:
        body.update(status="degraded", reason=f"forecasts are served but not recorded: {failure}")
        return jsonify(body), 503
    return jsonify(body)


@blp.route("/models")
@blp.doc(description=api_examples.curl("/api/v1/models"))
@blp.response(200, schemas.ModelList, examples={
    "committed": {"summary": "the committed models alone", "value": api_examples.MODELS},
    "trained": {"summary": "after a training job kept a model", "value": {
        **api_examples.MODELS, "trained": [job_examples.TRAINED]}}})
@_document_errors(403, 429)
def models():
    """The models this process serves, with what they were trained on; and the models
    training jobs keep in the database, with their records."""
    registry = services.registry()
    trained, _ = jobs_view.trained_models()
    return jsonify(models=[report.describe(registry.get(name)) for name in registry.names()],
                   trained=trained)


@blp.route("/stocks/<ticker>")
@blp.doc(description=api_examples.curl("/api/v1/stocks/IBM"))
@blp.arguments(schemas.TickerPath, location="path", as_kwargs=True)
@blp.response(200, schemas.StockInfo, example=api_examples.STOCK)
@_document_errors(403, 404, 422, 429, 503)
def stock(ticker: str):
    """The info card of a ticker: name, source, dates, last close, day change, 52-week range."""
    return jsonify(info.summary(services.load_prices(check_ticker(ticker))))


@blp.route("/stocks/<ticker>/history")
@blp.doc(description=api_examples.curl(api_examples.HISTORY_PATH))
@blp.arguments(schemas.TickerPath, location="path", as_kwargs=True)
@blp.arguments(schemas.HistoryQuery, location="query")
@blp.response(200, schemas.History, example=api_examples.HISTORY)
@_document_errors(403, 404, 422, 429, 503)
def history(query: dict, ticker: str):
    """Daily prices of a ticker, oldest first, optionally from start (inclusive) to end."""
    frame = services.load_prices(check_ticker(ticker))
    return jsonify(ticker=frame.attrs.get("ticker"), source=frame.attrs.get("source"),
                   prices=info.history(frame, query["start"], query["end"]))


@blp.route("/forecasts")
@blp.doc(description=api_examples.LEDGER_DESCRIPTION)
@blp.arguments(schemas.LedgerQuery, location="query")
@blp.response(200, schemas.LedgerList, examples=api_examples.LEDGER_ANSWERS)
@_document_errors(403, 422, 429)
@blp.alt_response(503, schema=schemas.Error, description="the database is down, so the ledger "
                  "cannot be read (forecasts are still served)",
                  example=api_examples.LEDGER_UNAVAILABLE)
def forecasts(query: dict):
    """The forecast ledger: live forecasts, newest first, a page at a time, with outcomes."""
    ticker = check_ticker(query["ticker"]) if query["ticker"] else None
    engine = services.database().require(ledger.LEDGER)  # down: a 503 from errors.py
    return jsonify(links.ledger(ledger.listing(
        engine, ticker=ticker, model=query["model"], as_of=query["as_of"],
        level=query["level"], limit=query["limit"], before=query["before"],
        after=query["after"])))


@blp.route("/forecast", methods=["POST"])
@blp.doc(description=api_examples.FORECAST_DESCRIPTION, requestBody={"required": True, "content": {
    "application/json": {"schema": schemas.ForecastRequest,
                         "examples": api_examples.FORECAST_REQUESTS},
    "multipart/form-data": {"schema": schemas.ForecastUpload,
                            "example": api_examples.UPLOAD_REQUEST}}})
@blp.response(200, schemas.ForecastResult, examples=api_examples.FORECAST_ANSWERS)
@_document_errors(400, 403, 404, 413, 415, 422, 429, 503)
def forecast():
    """Forecast a ticker's next trading days, or those of an uploaded CSV of prices."""
    args = schemas.ForecastRequest().load(_forecast_body())
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        # Refused (model, horizon, as_of) before the file is stored: a refused upload keeps
        # nothing.
        frame = services.read_upload(upload, args["ticker"],
                                     check=lambda prices: forms.check(prices, args),
                                     as_of=args["as_of"])
    elif args["ticker"]:
        frame = services.load_prices(args["ticker"])
    else:
        raise DataError("ticker: give a ticker, or upload a CSV of prices as the field 'file'")
    return _answer(frame, args)


@blp.route("/forecast/<ticker>")
@blp.doc(description=api_examples.FORECAST_GET_DESCRIPTION)
# The ticker's decorator below the options': the document lists parameters in the order the
# decorators are applied, and the ticker comes first in the address.
@blp.arguments(schemas.ForecastOptions, location="query")
@blp.arguments(schemas.TickerPath, location="path", as_kwargs=True)
@blp.response(200, schemas.ForecastResult, examples=api_examples.FORECAST_GET_ANSWERS)
@_document_errors(403, 404, 422, 429, 503)
def forecast_of(query: dict, ticker: str):
    """Forecast a ticker's next trading days: the POST's answer, with options in the query."""
    # The same validation and the same report as POST /forecast with {"ticker": ..., **query}.
    return _answer(services.load_prices(check_ticker(ticker)), query)


def _answer(frame, args: dict):
    answer = services.forecast(frame, args["horizon"], args["as_of"], args["model"],
                               args["level"])
    return jsonify(links.answer(answer, args["as_of"], args["model"]))


def _forecast_body():
    return services.request_body("application/json, or multipart/form-data with the CSV as "
                                 "the field 'file'")

"""Request and response schemas: they validate the API's input and write its OpenAPI document."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields, validate
from stockPredictor.config import MAX_HORIZON
from stockPredictor.predict import DEFAULT_HORIZON
from stockPredictor.prices import TICKER_PATTERN

TICKER_RULE = "1 to 15 letters, digits or . - ^ = (for example IBM, BRK-B, ^GSPC, BTC-USD)"
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _ticker(description: str = "a ticker", **kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(TICKER_PATTERN, error=f"must be {TICKER_RULE}"),
                         metadata={"example": "IBM", "description": description}, **kwargs)


class TickerPath(ma.Schema):
    """A ticker in the URL path."""

    ticker = _ticker(required=True)


class HistoryQuery(ma.Schema):
    """Optional date range of a price history: start inclusive, end exclusive."""

    start = fields.Date(load_default=None, metadata={"example": "2012-01-01"})
    end = fields.Date(load_default=None, metadata={"example": "2013-01-01"})

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ma.ValidationError(f"must be after start ({data['start']})", "end")


class ForecastOptions(ma.Schema):
    """How far to forecast, from when, and with which model."""

    class Meta:
        unknown = ma.EXCLUDE  # a form also posts its submit button

    horizon = fields.Integer(load_default=DEFAULT_HORIZON, strict=False,
                             validate=validate.Range(1, MAX_HORIZON),
                             metadata={"description": "trading days to forecast"})
    as_of = fields.Date(load_default=None, metadata={
        "description": "forecast as if on this past date (default: the latest price)"})
    model = fields.String(load_default=None, validate=validate.Regexp(
        MODEL_PATTERN, error="must be the name of a loaded model (see /api/v1/models)"),
        metadata={"description": "model name (default: the best one for the ticker)"})

    @ma.pre_load
    def _blank_is_missing(self, data, **kwargs):
        # HTML forms send empty strings for fields left blank.
        return {key: value for key, value in data.items() if value not in ("", None)}

    @ma.validates("as_of")
    def _in_the_past(self, value, **kwargs):
        if value is not None and value > dt.date.today():
            raise ma.ValidationError(f"{value} is in the future; as_of must be a past date")


class ForecastRequest(ForecastOptions):
    """A forecast request: a ticker, or (as multipart/form-data) a CSV file of prices."""

    ticker = _ticker("required unless a file is uploaded; names the upload otherwise",
                     load_default=None)


class ForecastUpload(ForecastRequest):
    """The multipart/form-data form of a forecast request, with a file of prices."""

    file = fields.Raw(metadata={"type": "string", "format": "binary", "description":
                                "CSV of daily prices: Yahoo export, Kaggle or Bitstamp layout"})


class Error(ma.Schema):
    """Every error: a short code and a sentence that names the bad value."""

    error = fields.String(required=True, metadata={"example": "invalid_input"})
    message = fields.String(required=True, metadata={"example": "horizon: must be 1 to 30"})


class Health(ma.Schema):
    """The process is up and has its models."""

    status = fields.String(required=True)
    models = fields.List(fields.String(), required=True)
    price_source = fields.String(required=True)


class ModelSummary(ma.Schema):
    """A loaded model and what it was trained on."""

    name = fields.String(required=True)
    scope = fields.String(required=True)
    arch = fields.String(required=True)
    target = fields.String(required=True)
    window = fields.Integer(required=True)
    tickers = fields.List(fields.String(), required=True)
    trained_from = fields.String(allow_none=True, metadata={
        "description": "first day of the prices it was trained on"})
    trained_to = fields.String(allow_none=True, metadata={
        "description": "last day of the prices that shaped its weights (training and validation)"})
    data_to = fields.String(allow_none=True, metadata={
        "description": "last day of its data; the days after trained_to were held out for testing"})
    test_mae_vs_naive = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "test-split MAE over the naive forecast's, per horizon step"})


class ModelList(ma.Schema):
    """The models this process serves."""

    models = fields.List(fields.Nested(ModelSummary), required=True)


class Freshness(ma.Schema):
    """Where prices came from and how current they are."""

    source = fields.String(required=True)
    source_label = fields.String(required=True)
    fetched_at = fields.String(allow_none=True)
    last_date = fields.String(required=True)
    age_days = fields.Integer(required=True)
    stale = fields.Boolean(required=True)
    notice = fields.String(allow_none=True)


class StockInfo(Freshness):
    """The info card of a ticker."""

    ticker = fields.String(required=True)
    name = fields.String(allow_none=True)
    first_date = fields.String(required=True)
    rows = fields.Integer(required=True)
    last_close = fields.Float(required=True)
    change = fields.Float(allow_none=True)
    change_pct = fields.Float(allow_none=True)
    low_52w = fields.Float(required=True)
    high_52w = fields.Float(required=True)


class PriceRow(ma.Schema):
    """One day of prices."""

    date = fields.String(required=True)
    open = fields.Float(required=True)
    high = fields.Float(required=True)
    low = fields.Float(required=True)
    close = fields.Float(required=True)
    volume = fields.Float(required=True)


class History(ma.Schema):
    """Daily prices, oldest first."""

    ticker = fields.String(required=True)
    source = fields.String(required=True)
    prices = fields.List(fields.Nested(PriceRow), required=True)


class ClosePoint(ma.Schema):
    """A dated close; forecast rows may carry a band."""

    date = fields.String(required=True)
    close = fields.Float(required=True, allow_none=True)
    low = fields.Float()
    high = fields.Float()


class TrackRecord(ma.Schema):
    """How the model did on this series before the forecast, against assuming no change."""

    available = fields.Boolean(required=True)
    reason = fields.String(metadata={"description": "why there is no track record"})
    origins = fields.Integer(metadata={"description": "past forecasts scored"})
    horizon = fields.Integer()
    start = fields.String(metadata={"description": "first past forecast's date"})
    end = fields.String(metadata={"description": "last past forecast's date"})
    level = fields.Float()
    origins_in_training = fields.Integer()
    mae_vs_naive = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: MAE over the naive forecast's MAE (below 1 beats it)"})
    directional_accuracy = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: share of forecasts that moved the way the price did"})
    coverage = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: share of actual prices inside the band"})
    verdict = fields.String()


class ForecastResult(ma.Schema):
    """A forecast, the prices it started from, and the actual prices when they are known."""

    ticker = fields.String(required=True)
    model = fields.String(required=True)
    as_of = fields.String(required=True, metadata={"description": "date of the last price used"})
    source = fields.String(required=True)
    last_close = fields.Float(required=True)
    horizon = fields.Integer(required=True)
    level = fields.Float(allow_none=True)
    forecast = fields.List(fields.Nested(ClosePoint), required=True)
    actual = fields.List(fields.Nested(ClosePoint), allow_none=True, required=True, metadata={
        "description": "actual closes on the forecast dates, when as_of is in the past"})
    model_info = fields.Nested(ModelSummary, required=True)
    data = fields.Nested(Freshness, required=True)
    track_record = fields.Nested(TrackRecord, required=True)

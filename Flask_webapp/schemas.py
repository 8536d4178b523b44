"""Request and response schemas: they validate the API's input and write its OpenAPI document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import marshmallow as ma
from marshmallow import fields, validate
from stockPredictor.data.frame import FIRST_DAY, LAST_DAY
from stockPredictor.data.tickers import TICKER_MAX_CHARS, TICKER_PATTERN, TICKER_RULE
from stockPredictor.errors import excerpt
from stockPredictor.forecast.bands import DEFAULT_LEVEL, LEVELS, level_list
from stockPredictor.forecast.predict import DEFAULT_HORIZON
from stockPredictor.model.config import MAX_HORIZON
from stockPredictor.store.ledger import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
FORECAST_FIELDS = "ticker, horizon, as_of, level and model"
HORIZON_RULE = f"must be a whole number of trading days from 1 to {MAX_HORIZON}"
MODEL_RULE = "must be the name of a loaded model (see /api/v1/models)"


class _TickerRule(validate.Validator):
    """TICKER_PATTERN, with a message that quotes (a bounded excerpt of) what was sent."""

    def __call__(self, value: str) -> str:
        if not TICKER_PATTERN.match(value):
            raise ma.ValidationError(f"{excerpt(value)} is not a ticker: use {TICKER_RULE}")
        return value


def _ticker(description: str = "a ticker", **kwargs) -> fields.String:
    # The pattern goes into the OpenAPI document by hand: apispec only reads validate.Regexp, whose
    # message could not quote a bounded excerpt of the input.
    return fields.String(validate=_TickerRule(), error_messages={
        "invalid": f"must be a string of {TICKER_RULE}"}, metadata={
        "example": "IBM", "description": description, "pattern": TICKER_PATTERN.pattern,
        "minLength": 1, "maxLength": TICKER_MAX_CHARS}, **kwargs)


class Day(fields.Date):
    """A YYYY-MM-DD day from ``earliest`` to ``latest`` (a date, or a callable such as today)."""

    default_error_messages = {"invalid": "must be a date as YYYY-MM-DD",
                              "range": "must be a day from {earliest} to {latest}"}

    def __init__(self, *, earliest: dt.date = FIRST_DAY,
                 latest: dt.date | Callable[[], dt.date] = LAST_DAY, **kwargs):
        self.earliest, self.latest = earliest, latest
        metadata = dict(kwargs.pop("metadata", {}))
        rule = f"a day from {earliest} to {self._latest_label()}"
        metadata["description"] = "; ".join(filter(None, (metadata.get("description"), rule)))
        super().__init__(metadata=metadata, **kwargs)

    def _latest_label(self) -> str:
        return "today" if callable(self.latest) else str(self.latest)

    def _deserialize(self, value, attr, data, **kwargs) -> dt.date:
        day = super()._deserialize(value, attr, data, **kwargs)
        # Called per request, so a process that runs for weeks still knows what today is.
        latest = self.latest() if callable(self.latest) else self.latest
        if not self.earliest <= day <= latest:
            label = f"today ({latest})" if callable(self.latest) else str(latest)
            raise self.make_error("range", earliest=self.earliest, latest=label)
        return day


class WholeNumber(fields.Integer):
    """An integer, from JSON or a form's text: 4, 4.0 and "4" are 4; 4.5 and "4.5" are refused."""

    def _validated(self, value) -> int:
        # fields.Integer(strict=False) would quietly truncate 4.5 to 4; strict=True would refuse
        # the text that every HTML form sends.
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class BandLevel(fields.Float):
    """A band coverage from LEVELS, from JSON or a form's text: 0.8 and "0.8" are 0.8."""

    def _deserialize(self, value, attr, data, **kwargs) -> float:
        try:
            level = super()._deserialize(value, attr, data, **kwargs)
        except ma.ValidationError:
            level = None  # not a number at all: the same sentence as for 0.7
        if level not in LEVELS:
            raise ma.ValidationError(f"{excerpt(value)} is not a band level: use {level_list()}")
        return level


class TickerPath(ma.Schema):
    """A ticker in the URL path."""

    ticker = _ticker(required=True)


class HistoryQuery(ma.Schema):
    """Optional date range of a price history: start inclusive, end exclusive."""

    start = Day(load_default=None, metadata={"example": "2013-02-27"})
    end = Day(load_default=None, metadata={"example": "2013-03-01"})

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ma.ValidationError(f"must be after start ({data['start']})", "end")


class ForecastOptions(ma.Schema):
    """How far to forecast, from when, and with which model."""

    class Meta:
        unknown = ma.EXCLUDE  # a form also posts its submit button

    horizon = WholeNumber(load_default=DEFAULT_HORIZON, allow_none=True,
                          validate=validate.Range(1, MAX_HORIZON, error=HORIZON_RULE),
                          error_messages={"invalid": HORIZON_RULE, "too_large": HORIZON_RULE},
                          metadata={"description": "trading days to forecast"})
    as_of = Day(latest=dt.date.today, load_default=None, allow_none=True, metadata={
        "description": "forecast as if on this past date (default: the latest price)"})
    level = BandLevel(load_default=DEFAULT_LEVEL, allow_none=True, metadata={
        "enum": [*LEVELS, None], "description": "coverage of the forecast band (0.8: the close "
        "should fall inside it 8 times in 10)"})
    model = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(MODEL_PATTERN, error=MODEL_RULE),
                          error_messages={"invalid": MODEL_RULE}, metadata={
                              "description": "model name (default: the best one for the ticker)"})

    @ma.pre_load
    def _blank_is_missing(self, data, **kwargs):
        # A JSON body may be any JSON value; only an object has fields to read.
        if not isinstance(data, Mapping):
            raise ma.ValidationError(f"must be a JSON object with the fields {FORECAST_FIELDS}, "
                                     f"not {_json_kind(data)}", "body")
        # null is "the default", as documented; a form's blanks were dropped by `form_fields`.
        return {key: value for key, value in data.items() if value is not None}


def form_fields(form: Mapping) -> dict:
    """A page's form or query string without the empty strings of the fields left blank.

    Only the pages' forms: in the API, "" is a value (refused where it is not valid), as the
    OpenAPI document says; null or no field means the default.
    """
    return {key: value for key, value in form.items() if value != ""}


def _json_kind(value: object) -> str:
    kinds = ((bool, "true or false"), (str, "a string"), (int, "a number"), (float, "a number"),
             (list, "an array"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


class ForecastRequest(ForecastOptions):
    """A forecast request: a ticker, or (as multipart/form-data) a CSV file of prices."""

    ticker = _ticker("required unless a file is uploaded; names the upload otherwise",
                     load_default=None, allow_none=True)


class ForecastUpload(ForecastRequest):
    """The multipart/form-data form of a forecast request, with a file of prices."""

    file = fields.Raw(metadata={"type": "string", "format": "binary", "description":
                                "CSV of daily prices: Yahoo export, Kaggle or Bitstamp layout"})


class Error(ma.Schema):
    """Every error: a short code and a sentence that names the bad value."""

    error = fields.String(required=True, metadata={"example": "invalid_input"})
    message = fields.String(required=True, metadata={
        "example": "horizon: must be a whole number of trading days from 1 to 30"})


class DatabaseHealth(ma.Schema):
    """Whether the database answers now, and why not."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "down"]))
    reason = fields.String(metadata={"description": "why the database is down"})


class Health(ma.Schema):
    """Whether the process can serve forecasts: "ok" with its models, else "unavailable" and why."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    models = fields.List(fields.String(), required=True)
    price_source = fields.String(required=True)
    reason = fields.String(metadata={"description": "why no forecast can be served"})
    skipped = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "model folders that could not be loaded, with the reason"})
    database = fields.Nested(DatabaseHealth, required=True, metadata={
        "description": "the database (price store, ledger, uploads); forecasts are served "
                       "while it is down"})


class PolicySummary(ma.Schema):
    """The model's point policy in brief: how and on which days it was fitted."""

    method = fields.String(allow_none=True)
    fitted_on = fields.String(allow_none=True, metadata={
        "description": "the split it was fitted on (never the test split)"})
    start = fields.String(allow_none=True, metadata={"description": "first origin it read"})
    end = fields.String(allow_none=True, metadata={"description": "last origin it read"})
    served_steps = fields.Integer(metadata={
        "description": "steps that serve some of the network's move; the rest serve no change"})


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
    network_test_mae_vs_naive = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "per step: the raw network's MAE over the naive forecast's on its "
                       "held-out test windows at training time, before its point policy (not "
                       "the served forecast's: its record is the answer's track_record)"})
    policy = fields.Nested(PolicySummary, allow_none=True, metadata={
        "description": "the per-step weight toward the naive forecast; null: the raw network"})


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
    notice = fields.String(allow_none=True, metadata={
        "description": "the notices below as one paragraph; null when there are none"})
    notices = fields.List(fields.String(), required=True, metadata={
        "description": "one sentence each: how old the prices are, what reading a file fixed "
                       "(rows sorted, rows without a price dropped) or cut"})
    first_date = fields.String(required=True)
    file_name = fields.String(allow_none=True, metadata={
        "description": "the uploaded file's name; null for a ticker's prices"})


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


class PastForecast(ma.Schema):
    """A forecast the track record scores, on the day it was for, beside that day's close."""

    date = fields.String(required=True, metadata={"description": "the day it was for"})
    forecast = fields.Float(required=True)
    actual = fields.Float(required=True)
    last_close = fields.Float(required=True, metadata={
        "description": "the close when it was made: the no-change forecast"})


class TrackRecord(ma.Schema):
    """How the model did on this series before the forecast, against assuming no change, on ONE
    set of origins: every figure and both pictures score the same past forecasts."""

    available = fields.Boolean(required=True)
    reason = fields.String(metadata={"description": "why there is no track record"})
    origins = fields.Integer(metadata={"description": "past forecasts scored: one per origin"})
    steps = fields.Integer(metadata={
        "description": "steps scored at every origin (the per-step lists' length)"})
    horizon = fields.Integer()
    start = fields.String(metadata={"description": "first origin: the day the first scored "
                                                   "forecast was made"})
    end = fields.String(metadata={"description": "last origin"})
    level = fields.Float(metadata={"description": "the band whose coverage is scored: the "
                                                  "level the answer was asked at"})
    origins_in_training = fields.Integer()
    mae_vs_naive = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: MAE over the naive forecast's MAE (below 1 beats it)"})
    p_value_vs_naive = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: two-sided Diebold-Mariano p-value against the naive forecast; "
                       "below 0.05 the difference is unlikely to be chance"})
    policy_weights = fields.List(fields.Float(), metadata={
        "description": "per step: the share of the network's predicted move served; 0 = the "
                       "naive forecast"})
    directional_accuracy = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: share of forecasts that moved the way the price did"})
    coverage = fields.List(fields.Float(allow_none=True), metadata={
        "description": "per step: share of actual prices inside the band"})
    verdict = fields.String()
    past = fields.List(fields.Nested(PastForecast), metadata={
        "description": "the forecasts horizon days ahead made at the same origins, oldest first"})


class BandPoint(ma.Schema):
    """A day's band at one level."""

    date = fields.String(required=True)
    low = fields.Float(required=True)
    high = fields.Float(required=True)


class Outcome(ma.Schema):
    """How the forecast did on the days whose close is known (an as_of in the past)."""

    days = fields.Integer(required=True, metadata={"description": "days with a known close"})
    mean_error = fields.Float(required=True, metadata={"description": "mean of forecast minus "
                                                                      "actual"})
    mean_absolute_error = fields.Float(required=True)
    mean_absolute_percent = fields.Float(required=True, metadata={
        "description": "mean absolute error in percent of the actual close"})
    level = fields.Float(required=True, allow_none=True)
    inside = fields.Integer(required=True, allow_none=True, metadata={
        "description": "closes inside the band; null without a band"})


class ForecastResult(ma.Schema):
    """The whole answer: the forecast and its bands, how far to trust it, and what happened."""

    ticker = fields.String(required=True)
    model = fields.String(required=True)
    as_of = fields.String(required=True, metadata={"description": "date of the last price used"})
    source = fields.String(required=True)
    last_close = fields.Float(required=True)
    horizon = fields.Integer(required=True)
    level = fields.Float(required=True, allow_none=True, metadata={
        "description": "the band's level: the forecast rows' low and high, the outcome and the "
                       "track record's coverage all use it; null when no band could be made"})
    forecast = fields.List(fields.Nested(ClosePoint), required=True)
    bands = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(BandPoint)),
                        required=True, metadata={
                            "description": "the band at every offered level, by level"})
    actual = fields.List(fields.Nested(ClosePoint), allow_none=True, required=True, metadata={
        "description": "actual closes on the forecast dates, when as_of is in the past"})
    outcome = fields.Nested(Outcome, required=True, allow_none=True)
    baselines = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(ClosePoint)),
                            required=True, metadata={
                                "description": "the no-change and long-run-drift forecasts"})
    model_info = fields.Nested(ModelSummary, required=True)
    data = fields.Nested(Freshness, required=True)
    track_record = fields.Nested(TrackRecord, required=True)
    notices = fields.List(fields.String(), required=True, metadata={
        "description": "every sentence to read beside the forecast: the data's notices, and an "
                       "as_of after the last price moved to it"})
    kind = fields.String(required=True, validate=validate.OneOf(["live", "replay"]), metadata={
        "description": "live: made from the latest fresh Yahoo close, its outcome unknown then; "
                       "replay: a past as_of, the bundled sample, a stale copy or an upload"})
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "an uploaded file's permanent forecast page, such as "
                       "/prediction/upload/7?horizon=4 (null for a ticker, or when the database "
                       "that keeps uploads is down)"})


LIMIT_RULE = f"must be a whole number from 1 to {MAX_LIMIT}"
OFFSET_RULE = f"must be a whole number from 0 to {MAX_OFFSET:,}"


class LedgerQuery(ma.Schema):
    """Filters and paging of the forecast ledger."""

    class Meta:
        unknown = ma.EXCLUDE  # a page's query string may carry more

    ticker = _ticker("only this ticker's forecasts", load_default=None)
    model = fields.String(load_default=None, validate=validate.Regexp(
        MODEL_PATTERN, error="must be a model name"), error_messages={
        "invalid": "must be a model name"}, metadata={
        "example": "ibm", "description": "only this model's forecasts"})
    as_of = Day(load_default=None, metadata={
        "example": "2013-03-01", "description": "only forecasts made as of this day"})
    kind = fields.String(load_default=None, validate=validate.OneOf(
        ["live", "replay"], error="must be live or replay"), metadata={
        "example": "live", "description": "live: made on the latest price, outcome unknown "
        "then; replay: made as of a past day, on the bundled sample or on an upload"})
    limit = WholeNumber(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT,
                                                                            error=LIMIT_RULE),
                        error_messages={"invalid": LIMIT_RULE, "too_large": LIMIT_RULE},
                        metadata={"example": DEFAULT_LIMIT, "description": "forecasts per page"})
    offset = WholeNumber(load_default=0, validate=validate.Range(0, MAX_OFFSET,
                                                                 error=OFFSET_RULE),
                         error_messages={"invalid": OFFSET_RULE, "too_large": OFFSET_RULE},
                         metadata={"example": 0, "description": "forecasts to skip, newest "
                                                                "first"})


class LedgerRow(ma.Schema):
    """One day of a recorded forecast, with the actual close once it is known."""

    date = fields.String(required=True)
    close = fields.Float(required=True)
    low = fields.Float(required=True, allow_none=True, metadata={
        "description": "the band's bottom; null for a forecast without a band"})
    high = fields.Float(required=True, allow_none=True)
    actual = fields.Float(required=True, allow_none=True, metadata={
        "description": "the actual close, in the units the forecast was made in; null until "
        "it is known"})
    error = fields.Float(required=True, allow_none=True, metadata={
        "description": "forecast minus actual; null until the actual is known"})
    naive_error = fields.Float(required=True, allow_none=True, metadata={
        "description": "the no-change forecast (the last close before it was made) minus "
        "actual; null until the actual is known"})
    inside = fields.Boolean(required=True, allow_none=True, metadata={
        "description": "whether the actual fell inside the band; null until it is known or "
        "without a band"})


class LedgerEntry(ma.Schema):
    """A distinct forecast the app served."""

    id = fields.Integer(required=True)
    ticker = fields.String(required=True)
    model = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["live", "replay"]), metadata={
        "description": "live: its outcome was unknown when it was made; replay: it was known"})
    source = fields.String(required=True, metadata={
        "description": "where its prices came from: yahoo, sample or csv (an upload)"})
    as_of = fields.String(required=True, metadata={"description": "date of the last price used"})
    horizon = fields.Integer(required=True)
    level = fields.Float(required=True, allow_none=True, metadata={
        "description": "coverage of its band; null without a band"})
    served = fields.Integer(required=True, metadata={
        "description": "how many times it was served"})
    created_at = fields.String(required=True, metadata={
        "description": "when it was first served (UTC)"})
    forecast = fields.List(fields.Nested(LedgerRow), required=True)
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "its forecast page; null for an upload that has since been purged"})


class LedgerList(ma.Schema):
    """The forecast ledger, newest first, filtered and paged."""

    total = fields.Integer(required=True, metadata={
        "description": "forecasts that match the filters, on every page"})
    forecasts = fields.List(fields.Nested(LedgerEntry), required=True)

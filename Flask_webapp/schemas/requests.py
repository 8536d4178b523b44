"""What a request may hold: the schemas that validate the API's and the pages' input, and the
fields they are made of. They write the OpenAPI document's parameters and request bodies."""

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
from stockPredictor.store.listing import DEFAULT_LIMIT, MAX_ID, MAX_LIMIT

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
                          metadata={"description": "trading days to forecast", "example": 2})
    # The examples are those of api_examples' past forecast, so the GET's parameters show one.
    as_of = Day(latest=dt.date.today, load_default=None, allow_none=True, metadata={
        "description": "forecast as if on this past date (default: the latest price)",
        "example": "2013-02-26"})
    level = BandLevel(load_default=DEFAULT_LEVEL, allow_none=True, metadata={
        "enum": [*LEVELS, None], "example": DEFAULT_LEVEL, "description": "coverage of the "
        "forecast band (0.8: the close should fall inside it 8 times in 10)"})
    model = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(MODEL_PATTERN, error=MODEL_RULE),
                          error_messages={"invalid": MODEL_RULE}, metadata={
                              "example": "ibm",
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


LIMIT_RULE = f"must be a whole number from 1 to {MAX_LIMIT}"
CURSOR_RULE = f"must be a forecast's id: a whole number from 1 to {MAX_ID:,}"


def _cursor(description: str) -> WholeNumber:
    return WholeNumber(load_default=None, validate=validate.Range(1, MAX_ID, error=CURSOR_RULE),
                       error_messages={"invalid": CURSOR_RULE, "too_large": CURSOR_RULE},
                       metadata={"example": 1234, "description": description})


class LedgerQuery(ma.Schema):
    """Filters and paging of the forecast ledger: a page from a cursor, never an offset."""

    class Meta:
        unknown = ma.EXCLUDE  # a page's query string may carry more

    ticker = _ticker("only this ticker's forecasts", load_default=None)
    model = fields.String(load_default=None, validate=validate.Regexp(
        MODEL_PATTERN, error="must be a model name"), error_messages={
        "invalid": "must be a model name"}, metadata={
        "example": "ibm", "description": "only this model's forecasts"})
    as_of = Day(load_default=None, metadata={
        "example": "2024-05-02", "description": "only forecasts made as of this day"})
    kind = fields.String(load_default=None, validate=validate.OneOf(["live"], error=(
        "must be live: replays are not recorded; ask /api/v1/forecast with that as_of to "
        "recompute one")), metadata={
        "example": "live", "description": "live, the only kind recorded (kept for old links): "
        "a replay (a past as_of, the sample, an upload) is recomputed on demand, never stored"})
    level = BandLevel(load_default=DEFAULT_LEVEL, metadata={
        "example": DEFAULT_LEVEL, "description": f"the band each day's low, high and inside "
        f"are given at: {level_list()}; every entry holds them all"})
    limit = WholeNumber(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT,
                                                                            error=LIMIT_RULE),
                        error_messages={"invalid": LIMIT_RULE, "too_large": LIMIT_RULE},
                        metadata={"example": DEFAULT_LIMIT, "description": "forecasts per page"})
    before = _cursor("the page of forecasts older than this id: the previous answer's older")
    after = _cursor("the page of forecasts just newer than this id: the previous answer's "
                    "newer")

    @ma.pre_load
    def _no_offset(self, data, **kwargs):
        # An address from before keyset paging: said plainly, not silently the first page.
        offset = data.get("offset") if isinstance(data, Mapping) and "offset" in data else None
        if isinstance(offset, (str, int)) and str(offset).strip() not in ("", "0"):
            raise ma.ValidationError("is no longer offered: page with before=<id>, the "
                                     "previous answer's older", "offset")
        return data

    @ma.validates_schema
    def _one_cursor(self, data, **kwargs):
        if data.get("before") is not None and data.get("after") is not None:
            raise ma.ValidationError("give before or after, not both", "after")

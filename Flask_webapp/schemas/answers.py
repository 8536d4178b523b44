"""What an answer holds: the schemas that describe the API's answers in its OpenAPI document
(the views answer with jsonify; the tests check every answer against these)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .jobs import TrainedModel


class Error(ma.Schema):
    """Every error: a short code and a sentence that names the bad value."""

    error = fields.String(required=True, metadata={"example": "invalid_input"})
    message = fields.String(required=True, metadata={
        "example": "horizon: must be a whole number of trading days from 1 to 30"})


class DatabaseHealth(ma.Schema):
    """Whether the database answers now, and why not."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "down"]))
    reason = fields.String(metadata={"description": "why the database is down: the kind of "
                                     "failure alone, never a host, port, user or path"})


class LedgerHealth(ma.Schema):
    """Whether this worker's ledger writes succeed, what waits to be written and what was lost."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "failing", "off"]),
                           metadata={"description": "failing: the last write failed, and what "
                                     "waits is tried again with backoff; off: no database"})
    queued = fields.Integer(required=True, metadata={
        "description": "distinct forecasts waiting in this worker to be written"})
    dropped = fields.Integer(required=True, metadata={
        "description": "forecasts this worker never recorded since it started: its queue was "
                       "full while writes failed, or the database refused the entry"})
    last_write = fields.String(required=True, allow_none=True, metadata={
        "description": "when this worker last wrote the ledger (UTC, ISO 8601); null before"})
    failing_since = fields.String(required=True, allow_none=True, metadata={
        "description": "when writes began to fail (UTC, ISO 8601); null while they succeed"})
    reason = fields.String(metadata={
        "description": "the kind of write failure, e.g. \"the database refuses writes: disk "
                       "full\"; never a host, port, user or path"})


class Health(ma.Schema):
    """Whether the process serves forecasts and records them: "ok"; "degraded" (503) when
    forecasts are served but not recorded; "unavailable" (503) when no model is loaded."""

    status = fields.String(required=True,
                           validate=validate.OneOf(["ok", "degraded", "unavailable"]))
    models = fields.List(fields.String(), required=True)
    price_source = fields.String(required=True)
    reason = fields.String(metadata={"description": "why no forecast can be served, or why "
                                     "none is recorded: the kind of failure alone"})
    skipped = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "model folders that could not be loaded, with the reason"})
    database = fields.Nested(DatabaseHealth, required=True, metadata={
        "description": "the database (price store, ledger, uploads); forecasts are served "
                       "while it is down"})
    ledger = fields.Nested(LedgerHealth, required=True, metadata={
        "description": "this worker's ledger writes (each gunicorn worker has its own queue)"})


class PolicySummary(ma.Schema):
    """The model's point policy in brief: how and on which days it was fitted."""

    method = fields.String(allow_none=True, metadata={
        "description": "how the weights were fitted: constant-shrinkage (one weight for every "
                       "step, as the bundled models), isotonic-shrinkage, curve-shrinkage, or "
                       "shrink-toward-naive (each step's weight on its own evidence)"})
    fitted_on = fields.String(allow_none=True, metadata={
        "description": "the data it was fitted on: validation folds, or the validation split "
                       "(never the test split)"})
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
        "description": "how its point policy was fitted (the share of the network's move it "
                       "serves at each step; the rest is no change); null: the raw network"})


class ModelList(ma.Schema):
    """The models this process serves, and the models training jobs keep in the database."""

    models = fields.List(fields.Nested(ModelSummary), required=True)
    trained = fields.List(fields.Nested(TrainedModel), metadata={
        "description": "models trained from the browser or the API, newest first, with what "
                       "each was trained on, its record and whether it is its ticker's default; "
                       "empty while the database is down"})


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
    low = fields.Float(allow_none=True, metadata={
        "description": "null at a step too short of history for a band"})
    high = fields.Float(allow_none=True)


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
        "description": "per step: share of actual prices inside the band, on the "
                       "banded_origins alone"})
    banded_origins = fields.Integer(metadata={
        "description": "the origins coverage scores: those with a band at every step, so "
                       "every step's coverage reads the same ones (at most origins)"})
    verdict = fields.String()
    past = fields.List(fields.Nested(PastForecast), metadata={
        "description": "the forecasts horizon days ahead made at the same origins, oldest first"})


class BandPoint(ma.Schema):
    """A day's band at one level."""

    date = fields.String(required=True)
    low = fields.Float(required=True, allow_none=True, metadata={
        "description": "null at a step too short of history for a band"})
    high = fields.Float(required=True, allow_none=True)


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


class Summary(ma.Schema):
    """The forecast in plain words: the sentences the page shows beside the chart."""

    headline = fields.String(required=True, metadata={
        "description": "what is forecast for the horizon's day, and the band then in prices"})
    trust = fields.String(required=True, metadata={
        "description": "how the model did against no change at this horizon"})
    coverage = fields.String(required=True, allow_none=True, metadata={
        "description": "how often the close stayed inside the band on the same past days"})
    days = fields.String(required=True, allow_none=True, metadata={
        "description": "which days are the last close and which carry the model's move, and "
                       "why; null when all days are alike"})
    outcome = fields.String(required=True, allow_none=True, metadata={
        "description": "what happened, for a forecast from a past date"})
    warning = fields.String(required=True, allow_none=True, metadata={
        "description": "a model trained on other tickers alone"})


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
    summary = fields.Nested(Summary, required=True, metadata={
        "description": "the forecast and how far to trust it, in plain words"})
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "an uploaded file's permanent forecast page, such as "
                       "/prediction/upload/7?horizon=4 (null for a ticker, or when the database "
                       "that keeps uploads is down)"})


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
    """A live forecast: made from the latest Yahoo close, its outcome unknown then. One per
    ticker, model and day, holding the model's whole path and the band at every level."""

    id = fields.Integer(required=True, metadata={
        "description": "its place in the ledger: give it as before or after to page from it"})
    ticker = fields.String(required=True)
    model = fields.String(required=True)
    source = fields.String(required=True, metadata={
        "description": "where its prices came from: yahoo"})
    as_of = fields.String(required=True, metadata={"description": "date of the last price used"})
    horizon = fields.Integer(required=True, metadata={
        "description": "the days it holds: the model's whole path, whatever was asked"})
    level = fields.Float(required=True, allow_none=True, metadata={
        "description": "the band level its rows' low, high and inside are at (the query's "
        "level); null when it has no band at that level"})
    created_at = fields.String(required=True, metadata={
        "description": "when it was first served (UTC)"})
    forecast = fields.List(fields.Nested(LedgerRow), required=True)
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "its forecast page"})


class LedgerList(ma.Schema):
    """The forecast ledger, newest first, filtered, a page at a time from a cursor."""

    total = fields.Integer(required=True, metadata={
        "description": "forecasts that match the filters, counted up to 1,000"})
    total_capped = fields.Boolean(required=True, metadata={
        "description": "true when more than total match (the count stops at 1,000)"})
    older = fields.Integer(required=True, allow_none=True, metadata={
        "description": "give it as before for the next, older page; null on the last page"})
    newer = fields.Integer(required=True, allow_none=True, metadata={
        "description": "give it as after for the previous, newer page; null on the first"})
    forecasts = fields.List(fields.Nested(LedgerEntry), required=True)

"""Watchlists' schemas (issue 22): what POST and PUT /api/v1/watchlists may hold, and what a
list, its table and its rows hold. The bounds (tickers, name) are checked by the store, which
answers 413 or 422 naming the bound; the schema checks only the body's shape."""

from __future__ import annotations

from collections.abc import Mapping

import marshmallow as ma
from marshmallow import fields, validate
from stockPredictor.forecast.predict import DEFAULT_HORIZON
from stockPredictor.model.config import MAX_HORIZON

from .requests import HORIZON_RULE, WholeNumber, _json_kind

WATCHLIST_FIELDS = "name and tickers"
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}$"
TICKERS_RULE = "must be a list of tickers such as [\"IBM\", \"MSFT\"]"
STATUSES = ("ok", "computing", "error")
BEATS = ("better", "worse", "no difference", "too few", "no change served")


class WatchlistRequest(ma.Schema):
    """A watchlist's name and tickers (upper-cased and kept once, in the order given)."""

    class Meta:
        unknown = ma.RAISE  # a misspelt field is refused, naming it, never silently ignored

    error_messages = {"unknown": f"is not a watchlist field: expected {WATCHLIST_FIELDS}"}

    name = fields.String(load_default="", error_messages={"invalid": "must be text"}, metadata={
        "example": "Tech", "description": "the list's name, at most WATCHLIST_NAME_CHARS (80) "
                                          "characters; empty: \"Watchlist\""})
    tickers = fields.List(fields.String(error_messages={"invalid": TICKERS_RULE}),
                          required=True, error_messages={"invalid": TICKERS_RULE,
                                                         "required": TICKERS_RULE},
                          metadata={"example": ["IBM", "MSFT", "AAPL"],
                                    "description": "at most WATCHLIST_API_TICKERS (70) through "
                                                   "the API, each once"})

    @ma.pre_load
    def _an_object(self, data, **kwargs):
        if not isinstance(data, Mapping):
            raise ma.ValidationError(f"must be a JSON object with the fields "
                                     f"{WATCHLIST_FIELDS}, not {_json_kind(data)}", "body")
        return data


class WatchlistPath(ma.Schema):
    """A watchlist's secret token in the URL path."""

    token = fields.String(required=True, validate=validate.Regexp(
        TOKEN_PATTERN, error="must be a watchlist's token: 43 letters, digits, - or _"),
        metadata={"example": "q1zS0mJw8fYk3TbR5uXn2cVa7pLd4HgE9oKi6WyZ0rA",
                  "description": "the list's secret token, from the answer to POST "
                                 "/api/v1/watchlists"})


class RowsQuery(ma.Schema):
    """The horizon a watchlist's rows forecast."""

    horizon = WholeNumber(load_default=DEFAULT_HORIZON,
                          validate=validate.Range(1, MAX_HORIZON, error=HORIZON_RULE),
                          error_messages={"invalid": HORIZON_RULE, "too_large": HORIZON_RULE},
                          metadata={"description": "trading days to forecast", "example": 4})


class Watchlist(ma.Schema):
    """A stored watchlist and where to read it."""

    token = fields.String(required=True)
    name = fields.String(required=True)
    tickers = fields.List(fields.String(), required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "the list's page"})
    rows_url = fields.String(required=True, metadata={"description": "its rows as JSON"})


class WatchRow(ma.Schema):
    """One ticker's row: its prices, its forecast at the horizon and whether the model beats
    no change there; or why it has none yet ("computing") or cannot have one ("error")."""

    class Meta:
        unknown = ma.INCLUDE  # a newer server may say more; the documented fields stay

    ticker = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(required=True, allow_none=True, metadata={
        "description": "why there is no forecast: one sentence; null when status is ok"})
    name = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    as_of = fields.String(allow_none=True)
    last_close = fields.Float(allow_none=True)
    last_date = fields.String(allow_none=True)
    day_change_pct = fields.Float(allow_none=True)
    sparkline = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "the last 60 closes, oldest first"})
    forecast_close = fields.Float(allow_none=True)
    change_pct = fields.Float(allow_none=True, metadata={
        "description": "the forecast's change from the last close, in percent"})
    low_pct = fields.Float(allow_none=True)
    high_pct = fields.Float(allow_none=True)
    level = fields.Float(allow_none=True)
    beats_naive = fields.String(allow_none=True, validate=validate.OneOf(BEATS), metadata={
        "description": "how the model did against no change at this horizon"})
    verdict = fields.String(allow_none=True)
    p_value = fields.Float(allow_none=True)
    mae_ratio = fields.Float(allow_none=True, metadata={
        "description": "the model's error over no change's (below 1: better)"})
    origins = fields.Integer(allow_none=True)
    source = fields.String(allow_none=True)
    stale = fields.Boolean(allow_none=True)
    age_days = fields.Integer(allow_none=True)
    freshness = fields.String(allow_none=True)


class WatchTable(ma.Schema):
    """A watchlist's rows at one horizon; ``pending`` rows are still computing."""

    token = fields.String(required=True)
    name = fields.String(required=True)
    horizon = fields.Integer(required=True)
    level = fields.Float(required=True)
    pending = fields.Integer(required=True, metadata={
        "description": "rows still computing: ask again in a few seconds while above 0"})
    refreshing = fields.Boolean(required=True, metadata={
        "description": "a refresh of stale prices is under way"})
    rows = fields.List(fields.Nested(WatchRow), required=True)


class Queued(ma.Schema):
    """A refresh of the list's prices was queued."""

    queued = fields.Boolean(required=True, metadata={"example": True})

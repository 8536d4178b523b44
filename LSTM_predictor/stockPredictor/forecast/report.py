"""The whole answer to a forecast request, built once: every surface renders this one object.

``build`` reads ONE forecast table (the model's over the series, tables.py) at ONE origin row:
one batched read of the served forecasts from the earliest row any part needs to the origin.
From it come the forecast, its bands at every offered level, the track record on one set of
origins (its numbers and its pictures alike), and beside them the baselines, the actual closes
where they are known, the model's summary, the data's freshness and notices, and whether the
forecast is live or a replay. The API and the CLI print ``to_dict()``, the downloads are
``to_dict()`` and ``to_csv()``, the page draws it, and the ledger records it: they cannot
disagree, because nothing is computed twice.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import rounding
from ..data.calendar import iso_days
from ..data.info import freshness
from ..lru import BoundedCache, ByteBoundedLRU
from ..model import policy
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from . import predict, tables, track_record, words
from .bands import DEFAULT_LEVEL, LEVELS, offered
from .baselines import long_run_drift_forecasts
from .predict import DEFAULT_HORIZON, Forecast

KINDS = ("live", "replay")
# What forecasts at one origin share, whatever their horizon and level (the band widths of
# every step, the track record's figures), kept per process by model and prices: the latest
# as_of of a few hundred tickers, each a few kB.
ORIGINS_KEPT = 1024


@dataclass(frozen=True)
class Report:
    """One forecast and everything a person needs to judge it; see the module docstring."""

    forecast: Forecast  # the closes, the chosen level's band, and the band at every level
    horizon: int
    level: float  # the level asked for; forecast.level is None when no band could be made
    actual: np.ndarray  # the closes on the forecast's days where the prices hold them, else NaN
    baselines: dict  # name -> (horizon,) closes of the naive and long-run-drift forecasts
    record: dict  # track_record.score's answer
    model_info: dict
    data: dict  # info.freshness
    notices: tuple[str, ...]
    kind: str  # "live": made from the latest fresh Yahoo close; else "replay"
    prices_fingerprint: str  # a digest of the closes up to as_of: all the forecast read
    artifact: Artifact = field(repr=False, compare=False)
    upload_id: int | None = None

    @property
    def ticker(self) -> str:
        """The ticker forecast."""
        return self.forecast.ticker

    @property
    def as_of(self) -> str:
        """The origin's date, YYYY-MM-DD."""
        return self.forecast.as_of.strftime("%Y-%m-%d")

    @functools.cached_property
    def dates(self) -> list[str]:
        """The forecast's trading days, YYYY-MM-DD."""
        return iso_days(self.forecast.dates.values)

    def to_dict(self) -> dict:
        """The answer as JSON-ready data: the API's document and the CLI's, exactly."""
        return dict(self._document)

    @functools.cached_property
    def _document(self) -> dict:
        result, dates, h = self.forecast, self.dates, self.horizon
        # Every price of the answer rounded in one call, then cut into its parts.
        levels = [level for level in LEVELS if level in result.bands]
        parts = [result.closes, *(bound for level in levels for bound in result.bands[level]),
                 *self.baselines.values(), self.actual, [result.last_close]]
        rounded = rounding.prices(np.concatenate(parts))
        cut = iter(rounded[k:k + h] for k in range(0, len(rounded) - 1, h))
        closes = next(cut)
        bands = {}
        for level in levels:
            low, high = next(cut), next(cut)
            # null at a step too short of history for a band (bands.has_band), never NaN
            bands[f"{level:g}"] = [{"date": d, "low": None if lo != lo else lo,
                                    "high": None if hi != hi else hi}
                                   for d, lo, hi in zip(dates, low, high)]
        baselines = {name: [{"date": d, "close": c} for d, c in zip(dates, next(cut))]
                     for name in self.baselines}
        actual = next(cut)
        known = ~np.isnan(self.actual)
        chosen = bands.get(f"{result.level:g}") if result.level is not None else None
        forecast = [{"date": d, "close": c} if chosen is None else
                    {"date": d, "close": c, "low": b["low"], "high": b["high"]}
                    for d, c, b in zip(dates, closes, chosen or dates)]
        document = {"ticker": result.ticker, "model": result.model, "as_of": self.as_of,
                    "source": result.source, "last_close": rounded[-1], "horizon": h,
                    "level": result.level, "forecast": forecast, "bands": bands,
                    "actual": [{"date": d, "close": None if np.isnan(c) else c}
                               for d, c in zip(dates, actual)] if known.any() else None,
                    "outcome": self.outcome(), "baselines": baselines,
                    "track_record": self.record, "model_info": self.model_info, "data": self.data,
                    "notices": list(self.notices), "kind": self.kind}
        # The sentences a person reads first, written from the document they summarise.
        return {**document, "summary": words.summary(
            document, list(policy.Policy.of(self.artifact).weights))}

    def outcome(self) -> dict | None:
        """How the forecast did on the days whose close is known (a past as_of), or None."""
        known = ~np.isnan(self.actual)
        if not known.any():
            return None
        errors = self.forecast.closes[known] - self.actual[known]
        summary = {"days": int(known.sum()), "mean_error": rounding.price(errors.mean()),
                   "mean_absolute_error": rounding.price(np.abs(errors).mean()),
                   "mean_absolute_percent": round(float(
                       np.mean(np.abs(errors) / self.actual[known]) * 100), 2),
                   "level": self.forecast.level, "inside": None}
        # Counted only when every known day has a band: "k of n inside" then reads true.
        if self.forecast.level is not None \
                and not np.isnan(self.forecast.lows[known]).any():
            low, high = self.forecast.lows[known], self.forecast.highs[known]
            summary["inside"] = int(((low <= self.actual[known])
                                     & (self.actual[known] <= high)).sum())
        return summary

    def to_csv(self) -> str:
        """The forecast as CSV: date, forecast, the band's low and high, and the actual close."""
        document = self._document
        actual = {row["date"]: row["close"] for row in document["actual"] or []}
        banded = self.forecast.level is not None
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "forecast"] + (["low", "high"] if banded else []) + ["actual"])
        for row in document["forecast"]:
            band = [row["low"], row["high"]] if banded else []
            writer.writerow([row["date"], row["close"], *band, actual.get(row["date"])])
        return out.getvalue()


def scored_origins(frame: pd.DataFrame) -> int | None:
    """How many past forecasts a track record scores: an upload all its days, a ticker a year."""
    return None if frame.attrs.get("source") == "csv" else track_record.YEAR_OF_ORIGINS


def kind_of(frame: pd.DataFrame, row: int) -> str:
    """"live" for a forecast from the latest fresh Yahoo close, whose outcome nobody knew yet;
    "replay" for a past as_of, the bundled sample, a stale copy or an upload."""
    fresh = frame.attrs.get("source") == "yahoo" and not frame.attrs.get("stale")
    return "live" if fresh and row == len(frame) - 1 else "replay"


def fingerprint(closes: np.ndarray, row: int) -> str:
    """A digest of the float64 closes up to ``row``: all that a forecast there depends on."""
    return hashlib.blake2b(np.ascontiguousarray(closes[:row + 1], np.float64).tobytes(),
                           digest_size=32).hexdigest()


def describe(model: Artifact) -> dict:
    """A model's summary for an answer: what it is, what it was trained on, its point policy,
    and the raw network's held-out figures from training, named as such."""
    network = model.metadata.get("test_metrics", {}).get("mae_vs_naive")
    return {**model.summary(), "policy": policy.summary(model),
            "network_test_mae_vs_naive": network or None}


@dataclass(frozen=True)
class OriginParts:
    """What a forecast at one origin reads from its table: the one read of served forecasts
    from row ``low`` to the origin ``row``, and the band widths at every step and level."""

    table: tables.ForecastTable
    row: int
    origins: int | None  # the track record's origins (None: all the series allows)
    low: int
    served: np.ndarray  # (row - low + 1, table.steps)
    widths: dict  # level -> (table.steps,) half-widths in log units
    prices: str  # fingerprint(table.closes, row)
    key: tuple | None  # what ``shared`` keeps this origin's parts under, None without it

    def slice_of(self, wanted: np.ndarray, count: int) -> np.ndarray:
        """The served forecasts at rows ``wanted``, their first ``count`` steps."""
        return self.served[np.asarray(wanted) - self.low, :count]


def origin_parts(frame: pd.DataFrame, model: Artifact, as_of=None, horizon: int = 1,
                 cache: ByteBoundedLRU | None = None, origins: int | None | str = "auto",
                 shared: BoundedCache | None = None) -> OriginParts:
    """The table's parts a forecast at ``as_of`` reads (``build``'s first lines, shared with
    the watchlist's summaries so that both read exactly the same numbers)."""
    row = predict.origin_row(frame, model, as_of)
    table = tables.table_for(frame, model, cache)
    origins = scored_origins(frame) if origins == "auto" else origins
    rows, _ = track_record.scored_rows(table, row, horizon, origins)
    positions = predict.band_positions(table, row, table.steps)
    low = min([row, *(int(part[0]) for part in (rows, positions) if len(part))])
    served = table.forecasts(np.arange(low, row + 1), table.steps)  # the one read
    prices = fingerprint(table.closes, row)
    key = None if shared is None else (table.model_key, prices)
    widths = shared.get(("bands", key)) if shared is not None else None
    if widths is None:
        widths = predict.band_widths(table, row, table.steps, LEVELS,
                                     served[positions - low, :table.steps])
        if shared is not None:
            shared.put(("bands", key), widths)
    return OriginParts(table, row, origins, low, served, widths, prices, key)


def build(frame: pd.DataFrame, model: Artifact, horizon: int = DEFAULT_HORIZON, as_of=None,
          level: float = DEFAULT_LEVEL, cache: ByteBoundedLRU | None = None,
          origins: int | None | str = "auto", shared: BoundedCache | None = None) -> Report:
    """The report of ``model``'s ``horizon``-day forecast of ``frame`` from ``as_of``.

    ``level`` is the band the answer is told at (one of LEVELS): the forecast's band, the track
    record's coverage and the outcome all use it; the bands at every level come along.
    ``origins``: the track record's origins ("auto": a year for a ticker, all for an upload).
    ``cache`` keeps the table's blocks (default: the process's); ``shared`` keeps what forecasts
    at one origin share, by model and prices up to as_of (default: nothing kept). Nothing after
    ``as_of`` is read but the actual closes on the forecast's days.
    """
    horizon = predict.check_horizon(horizon, min(MAX_HORIZON, model.config.output_steps))
    level = offered(level)
    parts = origin_parts(frame, model, as_of, horizon, cache, origins, shared)
    table, row, origins, slice_of = parts.table, parts.row, parts.origins, parts.slice_of
    prices, key, widths, served = parts.prices, parts.key, parts.widths, parts.served
    closes = served[-1, :horizon]
    result = predict.make(frame, model, row, float(table.closes[row]), closes, level,
                          predict.bands_of(closes, widths), predict.moved(frame, as_of))
    record = track_record.score(table, frame.index, row, horizon, origins, level,
                                result.ticker, served=slice_of,
                                kept=None if shared is None else (shared, ("record", key)))
    data = freshness(frame)
    return Report(forecast=result, horizon=horizon, level=level,
                  actual=_actual(frame, table.closes, result.dates), record=record,
                  baselines={"naive": np.full(horizon, table.closes[row]),
                             "long_run_drift": long_run_drift_forecasts(
                                 table.closes, np.array([row]), horizon)[0]},
                  model_info=describe(model), data=data,
                  notices=(*data["notices"], *result.notices), kind=kind_of(frame, row),
                  prices_fingerprint=prices, artifact=model,
                  upload_id=frame.attrs.get("upload_id"))


def _actual(frame: pd.DataFrame, closes: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    # The closes the prices hold on the forecast's days, by position: no reindexing.
    index = frame.index
    found = np.minimum(index.searchsorted(dates), len(index) - 1)
    return np.where(index[found] == dates, closes[found], np.nan)

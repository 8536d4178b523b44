"""A watchlist's rows in one batched pass: newest windows of all tickers, one call per model.

Bands and records come from summaries computed once per (model, ticker, prices) by
``summarise``, which reads the forecast table exactly as ``report.build`` does; the point
forecasts from one runtime call per model over the newest windows, decoded exactly as the table
decodes its own. Nothing else is computed, so a row tells what a single forecast tells (see
/work/notes/spec22.md §1; the point forecasts agree to float32 rounding: the runtime is not
batch-invariant).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import rounding
from ..data.info import freshness
from ..errors import StockPredictorError
from ..lru import ByteBoundedLRU
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from . import predict, report, tables, track_record
from .bands import DEFAULT_LEVEL, offered

SummaryKey = tuple[str, str, str]  # (model_digest, ticker, prices_fingerprint)
SPARKLINE = 60  # closes drawn in a row's sparkline
# Every key of WatchRow.to_dict(), in the order spec22 lists them.
FIELDS = ("ticker", "status", "reason", "name", "model", "as_of", "last_close", "last_date",
          "day_change_pct", "sparkline", "forecast_close", "change_pct", "low_pct", "high_pct",
          "level", "beats_naive", "verdict", "p_value", "mae_ratio", "origins", "source",
          "stale", "age_days", "freshness")


@dataclass(frozen=True)
class Summary:
    """What a forecast at a ticker's newest origin reads from its table besides the point."""

    key: SummaryKey
    model_name: str
    as_of: str  # YYYY-MM-DD, the newest origin
    steps: int  # the steps the record scored at horizon 1 (fewer than 30 on a short series)
    widths: dict  # level (float) -> (steps,) float64 half-widths in log units, NaN where none
    record: dict  # track_record.score's answer at horizon 1, less past, verdict and horizon

    def payload(self) -> dict:
        """The JSON stored for this summary: floats exactly (repr round-trips), NaN as null
        (a width is finite or not calibrated; JSON has no NaN)."""
        return {"steps": self.steps, "record": self.record,
                "widths": {repr(float(level)): [v if math.isfinite(v) else None
                                                for v in np.asarray(width, np.float64).tolist()]
                           for level, width in self.widths.items()}}

    @classmethod
    def from_payload(cls, key: SummaryKey, model_name: str, as_of: str,
                     payload: dict) -> "Summary":
        """The summary ``payload()`` stored."""
        widths = {float(level): np.array([np.nan if v is None else v for v in values],
                                         np.float64)
                  for level, values in payload["widths"].items()}
        return cls(tuple(key), model_name, as_of, int(payload["steps"]), widths,
                   payload["record"])


@dataclass(frozen=True)
class Failed:
    """A ticker's summary that could not be computed, stored so: its row is an error row with
    ``reason`` (a sentence), not "computing" forever."""

    reason: str


@dataclass(frozen=True)
class WatchRow:
    """One ticker's row of a watchlist; to_dict() is spec22's WatchRow JSON.

    ``fields`` holds the other keys: all of them when "ok", the prices' own (last close, day
    change, sparkline, freshness) when "computing", None on an "error". ``forecast`` and
    ``bands`` are the unrounded served closes and bands by level, for comparisons.
    """

    ticker: str
    status: str  # "ok" | "computing" | "error"
    reason: str | None = None
    fields: dict | None = None
    forecast: np.ndarray | None = field(default=None, repr=False, compare=False)
    bands: dict | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The row as JSON-ready data: every key of FIELDS, null where not known."""
        return {**dict.fromkeys(FIELDS), **(self.fields or {}), "ticker": self.ticker,
                "status": self.status, "reason": self.reason}


def _stub(model: Artifact) -> tables.ForecastTable:
    # A table without closes: its key, steps, first row and decoding, nothing computed.
    return tables.ForecastTable(np.empty(0), model)


def model_digest(model: Artifact) -> str:
    """32 hex digits naming what a forecast table of ``model`` is keyed on."""
    return hashlib.sha256(repr(_stub(model).model_key).encode()).hexdigest()[:32]


def keys(frames: Mapping[str, pd.DataFrame | Exception],
         models: Mapping[str, Artifact]) -> dict[str, SummaryKey]:
    """The summary key of each ticker that has a frame and a model."""
    digests: dict[int, str] = {}
    found = {}
    for ticker, frame in frames.items():
        model = models.get(ticker)
        if not isinstance(frame, pd.DataFrame) or not isinstance(model, Artifact) \
                or not len(frame):
            continue
        if id(model) not in digests:
            digests[id(model)] = model_digest(model)
        closes = frame["close"].to_numpy(np.float64)
        found[ticker] = (digests[id(model)], ticker, report.fingerprint(closes, len(closes) - 1))
    return found


def summarise(frame: pd.DataFrame, model: Artifact, cache: ByteBoundedLRU | None = None,
              ticker: str | None = None) -> Summary:
    """The summary at ``frame``'s newest origin, read from the table exactly as report.build.

    ``ticker`` names the key (default: the frame's); ``cache`` keeps the table's blocks
    (default: the process's; a worker passes a private one).
    """
    parts = report.origin_parts(frame, model, None, 1, cache, "auto")
    name = str(frame.attrs.get("ticker", ""))
    record = track_record.score(parts.table, frame.index, parts.row, 1, parts.origins,
                                DEFAULT_LEVEL, name, served=parts.slice_of)
    _, steps = track_record.scored_rows(parts.table, parts.row, 1, parts.origins)
    kept = {k: v for k, v in record.items() if k not in ("past", "verdict", "horizon")}
    return Summary(key=(model_digest(model), ticker or name, parts.prices),
                   model_name=model.name, as_of=frame.index[parts.row].strftime("%Y-%m-%d"),
                   steps=steps, widths=parts.widths, record=kept)


def rows(frames: Mapping[str, pd.DataFrame | Exception], models: Mapping[str, Artifact],
         summaries: Mapping[SummaryKey, Summary | Failed], horizon: int,
         level: float = DEFAULT_LEVEL,
         keyed: Mapping[str, SummaryKey] | None = None) -> list[WatchRow]:
    """Rows in ``frames``' order: one batched runtime call per model for the warm tickers,
    "computing" for tickers without a summary, "error" with the reason for the rest (a
    ``Failed`` summary's reason among them).

    ``keyed``: ``keys(frames, models)`` when the caller has it already. A horizon that is not
    1..MAX_HORIZON is a DataError for the whole list; one past a model's steps, its rows'.
    """
    horizon = predict.check_horizon(horizon, MAX_HORIZON)
    level = offered(level)
    keyed = keys(frames, models) if keyed is None else keyed
    found: dict[str, WatchRow] = {}
    warm: dict[int, tuple[Artifact, list]] = {}
    limits: dict[int, int] = {}  # each model's longest horizon, read once
    for ticker, frame in frames.items():
        model = models.get(ticker)
        if isinstance(model, Artifact) and id(model) not in limits:
            limits[id(model)] = min(MAX_HORIZON, model.config.output_steps)
        reason = _problem(ticker, frame, model, horizon, limits)
        if reason is not None:
            found[ticker] = WatchRow(ticker, "error", reason)
            continue
        summary = summaries.get(keyed.get(ticker))
        if isinstance(summary, Failed):
            found[ticker] = WatchRow(ticker, "error", summary.reason)
            continue
        closes = frame["close"].to_numpy(np.float64)
        if summary is None:
            found[ticker] = WatchRow(ticker, "computing", None, _prices(
                frame, closes, rounding.prices(closes[-SPARKLINE:])))
        else:
            warm.setdefault(id(model), (model, []))[1].append((ticker, frame, closes, summary))
    for model, group in warm.values():
        found.update(_batch(model, group, horizon, level))
    return [found[ticker] for ticker in frames]


def _problem(ticker: str, frame, model, horizon: int, limits: dict) -> str | None:
    # Why a ticker gets no forecast, in the sentence a single forecast would give, else None.
    for failed in (frame, model):
        if isinstance(failed, Exception):
            return (str(failed) if isinstance(failed, StockPredictorError)
                    else f"the prices of {ticker} could not be read")
    if model is None:
        return f"no model serves {ticker}"
    if not len(frame):
        return f"no prices are stored for {ticker}"
    try:
        predict.check_horizon(horizon, limits[id(model)])
        predict.origin_row(frame, model)
    except StockPredictorError as exc:
        return str(exc)
    return None


def windows(model: Artifact, closes: list[np.ndarray]) -> np.ndarray:
    """The newest input window of each series of closes, (n, window, 1) float32: the values
    ``model.windowing.inputs`` gives each, scaled in one call (scaling is elementwise)."""
    windowing = model.windowing
    needed = windowing.rows_needed
    series = np.concatenate([windowing.series(c[-needed:]) for c in closes])
    scaled = windowing.scaler_.transform(series)
    return scaled.reshape(len(closes), windowing.window, 1).astype(np.float32)


def _batch(model: Artifact, group: list, horizon: int, level: float) -> dict[str, WatchRow]:
    # The newest window of every ticker in one runtime call, decoded as the table decodes.
    table = _stub(model)
    closes = [item[2] for item in group]
    # Kept as the table's blocks keep them: float32.
    raw = np.asarray(model.model(windows(model, closes)), np.float32)[:, :horizon]
    served = table.served_from(raw, np.array([c[-1] for c in closes]))
    bands = [predict.bands_of(served[i], item[3].widths) for i, item in enumerate(group)]
    none = (np.full(horizon, np.nan),) * 2
    ends = np.array([[served[i, -1], b.get(level, none)[0][-1], b.get(level, none)[1][-1]]
                     for i, b in enumerate(bands)]).reshape(-1, 3)
    # Every price of every row rounded in one call: decimals are chosen per value.
    tails = [c[-SPARKLINE:] for c in closes]
    rounded = rounding.prices(np.concatenate([ends.ravel(), *tails]))
    cuts = np.cumsum([3 * len(group), *map(len, tails)])
    found = {}
    for i, (ticker, frame, series, summary) in enumerate(group):
        forecast, low, high = rounded[3 * i:3 * i + 3]
        fields = _prices(frame, series, rounded[cuts[i]:cuts[i + 1]])
        last, chosen = fields["last_close"], level in bands[i]
        fields.update({"model": model.name, "forecast_close": forecast,
                       "change_pct": _pct(forecast, last),
                       "low_pct": _pct(low, last) if chosen else None,
                       "high_pct": _pct(high, last) if chosen else None,
                       "level": level if chosen else None,
                       **judged(_record(table, frame, summary, horizon), horizon)})
        found[ticker] = WatchRow(ticker, "ok", None, fields, forecast=served[i], bands=bands[i])
    return found


def _pct(value: float, last: float) -> float:
    return round((value / last - 1.0) * 100.0, 2)


def _prices(frame: pd.DataFrame, closes: np.ndarray, sparkline: list[float]) -> dict:
    # The row's parts read from the prices alone: shown while the forecast is computing too.
    data = freshness(frame)
    previous = float(closes[-2]) if len(closes) > 1 else None
    return {"name": frame.attrs.get("name"), "as_of": data["last_date"],
            "last_close": sparkline[-1], "last_date": data["last_date"],
            "day_change_pct": None if previous is None else round(
                100.0 * (float(closes[-1]) - previous) / previous, 2),
            "sparkline": sparkline, "source": data["source"], "stale": data["stale"],
            "age_days": data["age_days"], "freshness": data["notice"]}


def _record(table: tables.ForecastTable, frame: pd.DataFrame, summary: Summary,
            horizon: int) -> dict:
    # The record at ``horizon`` that report.build would give, less its past forecasts.
    end, origins = len(frame) - 1, report.scored_origins(frame)
    scored, steps = track_record.scored_rows(table, end, horizon, origins)
    if not len(scored):  # score answers "no origin" without reading the table
        return track_record.score(table, frame.index, end, horizon, origins, DEFAULT_LEVEL,
                                  str(frame.attrs.get("ticker", "")))
    if steps == summary.steps:  # the same origins and steps: the stored figures are build's
        record = {**summary.record, "horizon": horizon}
    else:  # a short series at a longer horizon: fewer than MIN_FORECASTS origins, not judged
        record = {"available": True, "origins": len(scored), "steps": steps,
                  "horizon": horizon, "mae_vs_naive": [None] * steps,
                  "p_value_vs_naive": [None] * steps,
                  "policy_weights": [float(w) for w in table.policy.weights[:steps]]}
    record["verdict"] = track_record.verdict(record, whole=origins is None)
    return record


def judged(record: dict, horizon: int) -> dict:
    """A row's judgement from a record at ``horizon``: beats_naive, verdict, p_value,
    mae_ratio and origins; the figures are left out under MIN_FORECASTS origins."""
    if not record.get("available"):
        return {"beats_naive": None, "verdict": record.get("reason"), "p_value": None,
                "mae_ratio": None, "origins": None}
    n, h = record["origins"], horizon
    ratio = record["mae_vs_naive"][h - 1]
    p = (record.get("p_value_vs_naive") or [None] * h)[h - 1]
    weights = record.get("policy_weights")
    if n < track_record.MIN_FORECASTS:
        ratio = p = None
    if weights is not None and weights[h - 1] == 0.0:
        beats = "no change served"
    elif n < track_record.MIN_FORECASTS:
        beats = "too few"
    elif ratio is None or p is None:
        beats = None
    elif p < track_record.SIGNIFICANCE:
        beats = "better" if ratio < 1 else "worse"
    else:
        beats = "no difference"
    return {"beats_naive": beats, "verdict": record["verdict"], "p_value": p,
            "mae_ratio": ratio, "origins": n}

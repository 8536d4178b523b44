"""What the pages and the API share: prices from the cache or an upload, forecasts, model info.

A forecast, its band and its track record are slices of the model's forecast table over the
prices (stockPredictor.tables), whose blocks this process keeps in a byte-bounded LRU cache: any
ticker, horizon and as_of costs a slice once the table's blocks exist.
"""

from __future__ import annotations

import io
import logging
import time

import pandas as pd
from flask import current_app, url_for
from sqlalchemy.exc import SQLAlchemyError
from stockPredictor import csv_formats, info, read_csv, rounding
from stockPredictor.artifacts import Artifact
from stockPredictor.bands import DEFAULT_LEVEL
from stockPredictor.errors import (DataError, SourceUnavailableError, StockPredictorError,
                                   UnknownUploadError)
from stockPredictor.evaluate import long_run_drift_forecasts
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.policy import Policy
from stockPredictor.predict import bands_at, forecast, rows_until
from stockPredictor.preload import Registry
from stockPredictor.price_cache import PriceCache
from stockPredictor.store import ledger, uploads
from stockPredictor.store.db import reason
from stockPredictor.tables import table_for
from stockPredictor.track_record import YEAR_OF_ORIGINS, by_step, past_forecasts, track_record

log = logging.getLogger(__name__)

# Rows of history drawn before the forecast on the prediction page.
CHART_HISTORY = 250
# Upload ids are 32-bit integers in every database the store runs on; a larger one is unknown.
MAX_UPLOAD_ID = 2**31 - 1


def registry() -> Registry:
    """The models this process loaded at start-up."""
    return current_app.extensions["registry"]


def load_prices(ticker: str) -> pd.DataFrame:
    """Daily prices of ``ticker`` through the process's price cache."""
    cache: PriceCache = current_app.extensions["price_cache"]
    return cache.load(ticker)


def read_upload(upload, ticker: str | None = None) -> pd.DataFrame:
    """Prices from an uploaded CSV file, parsed by the package's readers, and kept in the store.

    ``attrs["upload_id"]`` is the stored file's id (None when the database is down), which gives
    the forecast its permanent link.
    """
    if upload is None or not getattr(upload, "filename", ""):
        raise DataError("no file was uploaded; expected a CSV of daily prices in the field 'file'")
    # Read once: MAX_CONTENT_LENGTH bounds the body, and one byte past the readers' own limit is
    # enough for them to refuse a longer file.
    content = bytes(upload.read(csv_formats.MAX_CSV_BYTES + 1))
    frame = _parse_upload(content, upload.filename, ticker)
    frame.attrs["upload_id"] = _keep_upload(content, frame.attrs.get("file_name"), ticker)
    return frame


def load_upload(upload_id: int) -> tuple[pd.DataFrame, dict]:
    """The prices of the stored upload ``upload_id`` and the options it was sent with."""
    engine = current_app.extensions["database"].engine
    if engine is None:
        raise SourceUnavailableError("the database is down, so stored uploads cannot be shown "
                                     "now; try again later")
    if not 0 < upload_id <= MAX_UPLOAD_ID:
        raise UnknownUploadError(f"upload {upload_id} does not exist")
    try:
        stored = uploads.load(engine, upload_id)
    except SQLAlchemyError as error:
        log.warning("upload %d not read: %s", upload_id, reason(error))
        raise SourceUnavailableError("the database is unavailable, so stored uploads cannot be "
                                     "shown now; try again later") from None
    options = dict(stored.options or {})
    frame = _parse_upload(bytes(stored.content), stored.file_name, options.get("ticker"))
    frame.attrs["upload_id"] = upload_id
    return frame, options


def _parse_upload(content: bytes, file_name: str | None, ticker: str | None) -> pd.DataFrame:
    # A file object, never a path: nothing on disk is named after what a request sent.
    source = io.BytesIO(content)
    source.name = file_name  # the page's title and data card name the file, as for an upload
    return read_csv(source, ticker=ticker)


def _keep_upload(content: bytes, file_name: str | None, ticker: str | None) -> int | None:
    # Kept for the permanent link; a database that is down or refuses costs the link, never
    # the forecast.
    engine = current_app.extensions["database"].engine
    if engine is None:
        return None
    try:
        return uploads.save(engine, content, file_name, {"ticker": ticker or None})
    except (DataError, SQLAlchemyError) as error:
        log.warning("upload %s not kept: %s", file_name, reason(error))
        return None


def upload_url(frame: pd.DataFrame, horizon: int, as_of=None, model: str | None = None,
               level: float | None = DEFAULT_LEVEL) -> str | None:
    """The permanent address of an upload's forecast page, or None for other prices."""
    upload_id = frame.attrs.get("upload_id")
    if upload_id is None:
        return None
    query = {key: value for key, value in (("as_of", as_of), ("model", model)) if value}
    if level != DEFAULT_LEVEL and level is not None:  # the default stays out of the address
        query["level"] = level
    return url_for("pages.upload_prediction", upload_id=upload_id, horizon=horizon, **query)


def model_info(artifact: Artifact) -> dict:
    """A model's summary with its test-split MAE relative to the naive forecast and its policy."""
    relative = artifact.metadata.get("test_metrics", {}).get("mae_vs_naive")
    return {**artifact.summary(), "test_mae_vs_naive": relative or None,
            "policy": policy_summary(artifact)}


def policy_summary(artifact: Artifact) -> dict | None:
    """The model's point policy in brief, or None when it serves the raw network."""
    entry = artifact.metadata.get("policy")
    if not isinstance(entry, dict):
        return None
    weights = Policy.of(artifact).weights  # checked: malformed weights are an ArtifactError
    return {"method": entry.get("method"), "fitted_on": entry.get("fitted_on", "validation"),
            "start": entry.get("start"), "end": entry.get("end"),
            "served_steps": sum(w > 0 for w in weights)}


def table_cache() -> ByteBoundedLRU:
    """This process's cache of forecast-table blocks."""
    return current_app.extensions["tables"]


def run_forecast(frame: pd.DataFrame, horizon: int, as_of=None, model: str | None = None,
                 level: float = DEFAULT_LEVEL) -> dict:
    """Forecast ``frame`` with the named model (default: the best for its ticker) as a dict.

    ``level`` is the band's coverage; the track record always scores the 80% band.
    """
    models = registry()
    artifact = models.get(model) if model else models.model_for(str(frame.attrs.get("ticker", "")))
    result = forecast(frame, artifact, horizon, as_of, level=level, cache=table_cache())
    known = frame["close"].reindex(result.dates)
    actual = None
    if known.notna().any():
        actual = [{"date": d.strftime("%Y-%m-%d"), "close": None if pd.isna(c) else c}
                  for d, c in zip(known.index, rounding.prices(known))]
    record = track_record(frame, artifact, horizon, result.as_of, scored_origins(frame),
                          cache=table_cache())
    _record(result, artifact, frame)
    data = info.freshness(frame)
    answer = result.to_dict()
    return {**answer, "horizon": horizon, "actual": actual,
            "model_info": model_info(artifact), "track_record": record, "data": data,
            "notices": data["notices"] + answer["notices"],
            "url": upload_url(frame, horizon, as_of, model, level)}


def _record(result, artifact: Artifact, frame: pd.DataFrame) -> None:
    # Queued for the ledger's background writer: a request never waits on the database.
    writer = current_app.extensions.get("ledger")
    if writer is not None:
        writer.submit(result, artifact, frame, kind=kind_of(frame, result),
                      upload_id=frame.attrs.get("upload_id"))


def kind_of(frame: pd.DataFrame, result) -> str:
    """"live" for a forecast from the latest fresh Yahoo close, whose outcome nobody knew yet;
    "replay" for a past as_of, the bundled sample, a stale copy or an upload."""
    # The ledger's rule (made on the latest price), for Yahoo's prices only: the sample's and
    # an upload's outcomes may be known, and a stale copy's latest price is not the market's.
    fresh = frame.attrs.get("source") == "yahoo" and not frame.attrs.get("stale")
    return ledger.kind_of(frame, result) if fresh else "replay"


def scored_origins(frame: pd.DataFrame) -> int | None:
    """How many past forecasts a track record scores: an upload all its days, a ticker a year."""
    return None if frame.attrs.get("source") == "csv" else YEAR_OF_ORIGINS


def chart_data(frame: pd.DataFrame, result: dict) -> dict:
    """What the forecast page draws beyond the answer: history, the band at every level, the
    naive and long-run-drift forecasts, and the track record by step and over time."""
    artifact = registry().get(result["model"])
    horizon, as_of = result["horizon"], result["as_of"]
    bands = bands_at(frame, artifact, horizon, as_of, cache=table_cache())
    closes = frame["close"].to_numpy()
    row = rows_until(frame, as_of) - 1
    drift = long_run_drift_forecasts(closes, [row], horizon)[0]
    dates = [r["date"] for r in result["forecast"]]
    origins = scored_origins(frame)
    return {"ticker": result["ticker"], "as_of": as_of, "horizon": horizon,
            "history": chart_history(frame, as_of), "forecast": result["forecast"],
            "actual": result["actual"], "level": result.get("level"),
            "bands": {f"{level:g}": [{"date": d, "low": lo, "high": hi} for d, lo, hi in
                                     zip(dates, rounding.prices(low), rounding.prices(high))]
                      for level, (low, high) in bands.items()},
            "baselines": {
                "naive": [{"date": d, "close": rounding.price(closes[row])} for d in dates],
                "long_run_drift": [{"date": d, "close": c}
                                   for d, c in zip(dates, rounding.prices(drift))]},
            "by_step": by_step(frame, artifact, as_of, origins, cache=table_cache()),
            "past": past_forecasts(frame, artifact, horizon, as_of, origins, cache=table_cache())}


def preload_tables(tickers) -> dict[str, float]:
    """Build the tables of ``tickers`` with their default models now; seconds each, by ticker.

    Run in gunicorn's master (``--preload``), the blocks are shared by every worker it forks.
    One forecast each also loads what a first request would (the exchange's holidays).
    """
    seconds = {}
    for ticker in tickers:
        started = time.perf_counter()
        try:
            model, frame = registry().model_for(ticker), load_prices(ticker)
            table_for(frame, model, table_cache()).build()
            forecast(frame, model, cache=table_cache())
        except StockPredictorError as exc:  # no model or no prices for it: built on first use
            current_app.logger.warning("no forecast table preloaded for %s: %s", ticker, exc)
            continue
        seconds[ticker] = time.perf_counter() - started
    return seconds


def chart_history(frame: pd.DataFrame, as_of: str) -> list[dict]:
    """The closes drawn before a forecast made on ``as_of``."""
    closes = frame["close"].loc[:as_of].iloc[-CHART_HISTORY:]
    return [{"date": d.strftime("%Y-%m-%d"), "close": c}
            for d, c in zip(closes.index, rounding.prices(closes))]

"""What the pages and the API share: prices from the cache or an upload, forecasts, model info."""

from __future__ import annotations

import pandas as pd
from flask import current_app
from stockPredictor import info, read_csv
from stockPredictor.artifacts import Artifact
from stockPredictor.errors import DataError
from stockPredictor.predict import forecast
from stockPredictor.preload import Registry
from stockPredictor.price_cache import BoundedCache, PriceCache
from stockPredictor.track_record import YEAR_OF_ORIGINS, track_record

# Rows of history drawn before the forecast on the prediction page.
CHART_HISTORY = 250


def registry() -> Registry:
    """The models this process loaded at start-up."""
    return current_app.extensions["registry"]


def load_prices(ticker: str) -> pd.DataFrame:
    """Daily prices of ``ticker`` through the process's price cache."""
    cache: PriceCache = current_app.extensions["price_cache"]
    return cache.load(ticker)


def read_upload(upload, ticker: str | None = None) -> pd.DataFrame:
    """Prices from an uploaded CSV file, parsed by the package's readers."""
    if upload is None or not getattr(upload, "filename", ""):
        raise DataError("no file was uploaded; expected a CSV of daily prices in the field 'file'")
    return read_csv(upload, ticker=ticker)


def model_info(artifact: Artifact) -> dict:
    """A model's summary with its test-split MAE relative to the naive forecast."""
    relative = artifact.metadata.get("test_metrics", {}).get("mae_vs_naive")
    return {**artifact.summary(), "test_mae_vs_naive": relative or None}


def run_forecast(frame: pd.DataFrame, horizon: int, as_of=None, model: str | None = None) -> dict:
    """Forecast ``frame`` with the named model (default: the best for its ticker) as a dict.

    With its band and its track record, a forecast runs a few hundred windows through the
    model, so results are kept per model, horizon, as_of and price data in a bounded cache.
    """
    models = registry()
    ticker = str(frame.attrs.get("ticker", ""))
    artifact = models.get(model) if model else models.model_for(ticker)
    results: BoundedCache = current_app.extensions["forecasts"]
    key = (artifact.name, horizon, str(as_of), ticker, _fingerprint(frame))
    cached = results.get(key)
    if cached is None:
        cached = _run(frame, artifact, horizon, as_of)
        results.put(key, cached)
    # Freshness is about this request's prices: a stale copy must say so even on a cache hit.
    return {**cached, "data": info.freshness(frame)}


def _fingerprint(frame: pd.DataFrame) -> tuple:
    # The prices themselves, not when they were fetched: the same data gives the same forecast.
    return (frame.attrs.get("source"), len(frame), frame.index[-1].value,
            int(pd.util.hash_pandas_object(frame, index=True).sum()))


def _run(frame: pd.DataFrame, artifact: Artifact, horizon: int, as_of) -> dict:
    result = forecast(frame, artifact, horizon, as_of)
    known = frame["close"].reindex(result.dates)
    actual = None
    if known.notna().any():
        actual = [{"date": d.strftime("%Y-%m-%d"), "close": None if pd.isna(c) else round(c, 4)}
                  for d, c in known.items()]
    # An uploaded file is judged on all of it; a ticker on its last year.
    origins = None if frame.attrs.get("source") == "csv" else YEAR_OF_ORIGINS
    return {**result.to_dict(), "horizon": horizon, "actual": actual,
            "model_info": model_info(artifact),
            "track_record": track_record(frame, artifact, horizon, result.as_of, origins)}


def chart_history(frame: pd.DataFrame, as_of: str) -> list[dict]:
    """The closes drawn before a forecast made on ``as_of``."""
    closes = frame["close"].loc[:as_of].iloc[-CHART_HISTORY:]
    return [{"date": d.strftime("%Y-%m-%d"), "close": round(float(c), 4)}
            for d, c in closes.items()]

"""The seed's way of serving a forecast, as a stand-in for the benchmarks (bench_web, bench_load).

The tutorial app this project grew from did all of this for every request: load the Keras model
(``keras.models.load_model(model.h5, compile=False)``) and the joblib scaler of its one IBM
model (applied to every ticker), then call ``model.predict`` once per forecast day, decoding
each prediction to the next close and feeding it back into the 60-return window (recursive).
Scaling and unscaling use the package's own ``Windowing`` of that model, so the answer is a
real forecast for any ticker of the bundled sample, any horizon from 1 to 30 and any as_of.

``seed_forecast()`` is the per-request work; ``app`` serves it as
``POST /api/v1/forecast {"ticker", "horizon", "as_of"}`` -> a JSON list of closes, and
``GET /healthz``. bench_load.py runs it with the Procfile's own gunicorn flags:

    gunicorn bench.seed_app:app --preload --bind 127.0.0.1:$PORT --workers 2 --timeout 30
"""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from flask import Flask, jsonify, request
from stockPredictor.data.sample import from_sample
from stockPredictor.errors import DataError, UnknownTickerError
from stockPredictor.forecast.predict import rows_until
from stockPredictor.model.artifacts import load
from stockPredictor.model.windowing import Windowing

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FOLDER = Path(__file__).resolve().parents[1] / "Flask_webapp" / "models" / "ibm"
MAX_HORIZON = 30
# Settings only (window, target): the weights and scaler are read again for every request.
CONFIG = load(FOLDER).config


def seed_forecast(ticker: str, horizon: int, as_of=None) -> list[float]:
    """Closes for the ``horizon`` days after ``as_of``, computed as the seed did per request."""
    # Imported here, never at module level: under gunicorn --preload the master imports this
    # module and then forks the workers, and TensorFlow is not fork-safe. A child inherits the
    # runtime's locks but none of its threads: tried here, one predict in the master before
    # the fork left both workers hung on their first request until gunicorn's 30 s timeout
    # killed them (importing keras alone in the master happened to work, but nothing promises
    # it). Importing keras on the first request keeps TensorFlow out of the master entirely, so
    # each worker starts its own runtime after the fork; that first request pays a few seconds,
    # which the benchmarks' warm-up absorbs. Later imports are a dict lookup.
    import keras

    model = keras.models.load_model(FOLDER / "model.h5", compile=False)
    windowing = Windowing.from_config(CONFIG, joblib.load(FOLDER / "scaler.pkl"))
    need = windowing.rows_needed
    frame = from_sample(ticker)
    closes = list(frame["close"].to_numpy(float)[:rows_until(frame, as_of)])
    if len(closes) < need:
        raise DataError(f"only {len(closes)} closes up to {as_of}; {need} are needed")
    forecast = []
    for _ in range(horizon):
        window = pd.DataFrame({"close": closes[-need:]})
        step = model.predict(windowing.inputs(window), verbose=0)[:, :1]  # step 1 only
        close = float(windowing.decode(step, closes[-1])[0, 0])
        closes.append(close)
        forecast.append(close)
    return forecast


app = Flask(__name__)


@app.get("/healthz")
def healthz():
    """The process is up."""
    return "ok"


@app.post("/api/v1/forecast")
def forecast():
    """The seed's forecast of ``horizon`` closes for a sample ticker, as a JSON list."""
    body = request.get_json(silent=True) or {}
    horizon = body.get("horizon", 4)
    if isinstance(horizon, bool) or not isinstance(horizon, int) \
            or not 1 <= horizon <= MAX_HORIZON:
        return jsonify(error="invalid_input", message="horizon: 1 to 30"), 422
    try:
        closes = seed_forecast(str(body.get("ticker", "")), horizon, body.get("as_of"))
    except UnknownTickerError as exc:
        return jsonify(error="unknown_ticker", message=str(exc)), 404
    except DataError as exc:
        return jsonify(error="invalid_input", message=str(exc)), 422
    return jsonify(np.round(closes, 4).tolist())

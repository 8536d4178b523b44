"""The forecast form: what it shows beside what was typed (the as-of dates that can be used, a
warning for a model trained on another ticker), and how it answers a refusal: the form again,
every value kept, the message beside its field, and that field focused."""

from __future__ import annotations

import re

import pandas as pd
from flask import render_template
from markupsafe import Markup, escape
from marshmallow import ValidationError
from stockPredictor.data.tickers import TICKER_PATTERN, check_ticker
from stockPredictor.errors import NotTrainedError, StockPredictorError
from stockPredictor.forecast import predict, words
from stockPredictor.model.config import MAX_HORIZON

from . import errors, services

# The form's fields in the order shown, with their input's id and a short label: the first one
# refused takes the focus, and the summary at the top links each message to its field.
FIELDS = {"ticker": ("f-ticker", "Ticker"), "horizon": ("f-horizon", "Horizon"),
          "level": ("f-level", "Band"), "as_of": ("f-as-of", "As of"),
          "model": ("f-model", "Model"), "file": ("f-file", "File")}
# The most of what was typed that goes back into a field (a model name is up to 64 characters):
# a page never echoes a whole hostile input.
MAX_ECHO = 80
ISO_DAY = re.compile(r"\b\d{4}-\d\d-\d\d\b")


def render(values: dict, field_errors: dict | None = None, *, upload: str | None = None,
           frame: pd.DataFrame | None = None, status: int = 200, code: str | None = None,
           stored: int | None = None, notice: str | None = None):
    """The form with ``values`` as typed, each message beside its field, and ``status``.

    ``upload``: the name of a file that was chosen (a browser cannot put it back), "" when it
    is not known; ``frame``: the prices the as-of dates are read from (default: the ticker's);
    ``code``: the refusal's error code (an unknown ticker offers the sample's tickers);
    ``stored``: the id of a stored upload the form forecasts again unless another file is chosen;
    ``notice``: one sentence about the whole form (an expired token), shown above it.
    """
    values = {key: str(value)[:MAX_ECHO] for key, value in values.items() if value is not None}
    # A message for a field the form does not have (a request's body) goes beside the ticker.
    shown = {}
    for key, message in (field_errors or {}).items():
        name = key if key in FIELDS else "ticker"
        shown[name] = "; ".join(filter(None, (shown.get(name), message)))
    shown = {name: _dated(shown[name]) for name in FIELDS if name in shown}
    # The summary names the field unless the message already starts with its name.
    summary = [(FIELDS[name][0], None if message.lower().startswith(FIELDS[name][1].lower())
                else FIELDS[name][1], message) for name, message in shown.items()]
    summaries = model_summaries()
    ticker, model = values.get("ticker", ""), values.get("model", "")
    # Dates and warnings only where what they are read from was not itself refused.
    dates = None if {"ticker", "model", "file"} & set(shown) else usable(ticker, model, frame)
    warning = None if "model" in shown else model_warning(ticker, model, summaries)
    return render_template("price_predict.html", values=values, errors=shown, summary=summary,
                           first_error=next(iter(shown), None), models=summaries,
                           dates=dates, warning=warning, upload=upload, code=code,
                           notice=notice,
                           stored=None if stored is None else {
                               "id": stored, "name": frame is not None and frame.attrs.get(
                                   "file_name")}), status


def _dated(message: str) -> Markup:
    # Escaped, with each date kept whole on one line (a phone would break it at a hyphen).
    return Markup(ISO_DAY.sub(lambda day: f'<span class="date">{day.group(0)}</span>',
                              str(escape(message))))


def refused(values: dict, exc: StockPredictorError, *, upload: str | None = None,
            frame: pd.DataFrame | None = None, stored: int | None = None):
    """The form again after the package refused a forecast, with the status the API answers."""
    status, code, message = errors.package_status(exc)
    if status >= 500 and status != 503:  # our fault, not the form's: the error page, logged
        return errors.error_response(status, code, message)
    field = getattr(exc, "field", None) or (
        "model" if isinstance(exc, NotTrainedError) else "file" if upload is not None
        else "ticker")
    return render(values, {field: errors.without_server_paths(message)}, upload=upload,
                  frame=frame, status=status, code=code, stored=stored)


def check(frame: pd.DataFrame, args: dict) -> None:
    """Refuse now what the forecast page would: the model, its horizon, the as_of (no table)."""
    model = services.model_for(frame, args["model"])
    predict.check_horizon(args["horizon"], min(MAX_HORIZON, model.config.output_steps))
    predict.origin_row(frame, model, args["as_of"])


def usable(ticker: str, model: str | None = None, frame: pd.DataFrame | None = None
           ) -> dict | None:
    """The as-of dates ``model`` (default: the ticker's) can forecast ``ticker`` (or ``frame``)
    from: ``{"earliest", "latest", "text"}``; None when they cannot be known now."""
    try:
        if frame is None:
            if not ticker:
                return None
            frame = services.load_prices(check_ticker(ticker))  # cached: no table is built
        span = predict.usable_dates(frame, services.model_for(frame, model or None))
    except (StockPredictorError, ValidationError):
        return None
    if span is None:
        return None
    earliest, latest = (day.strftime("%Y-%m-%d") for day in span)
    name = frame.attrs.get("ticker") or "these prices"
    return {"earliest": earliest, "latest": latest,
            "text": f"From {earliest} to {latest} for {name}."}


def model_summaries() -> list[dict]:
    """The loaded models' summaries: what the model menu offers and the warning reads."""
    models = services.registry()
    return [models.get(name).summary() for name in models.names()]


def model_warning(ticker: str, model: str | None, summaries: list[dict]) -> str | None:
    """A warning when ``model`` was trained on other tickers alone, and not on ``ticker``: the
    forecast page's sentence (stockPredictor.forecast.words)."""
    ticker = (ticker or "").strip().upper()
    chosen = next((m for m in summaries if m["name"] == model), None)
    if chosen is None or not TICKER_PATTERN.match(ticker):
        return None
    return words.trained_elsewhere(ticker, chosen)


def chosen(form: dict, files) -> tuple[str | None, int | None]:
    """What a posted form asks to forecast besides its fields: the name of the file chosen (as
    the form echoes it), else the stored upload its hidden field names (a refused stored
    upload's form comes back with its id). ``upload_id`` is taken out of ``form``."""
    upload = files.get("file")
    name = upload.filename[:MAX_ECHO] if upload is not None and upload.filename else None
    kept = form.pop("upload_id", "")
    if name is not None or not (kept.isdigit() and len(kept) <= 10):
        return name, None
    return None, int(kept) if 0 < int(kept) <= services.MAX_UPLOAD_ID else None

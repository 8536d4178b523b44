"""The app's addresses for forecasts: a ticker's page, an upload's permanent page, a ledger
entry's page. The one place that leaves a default (the band level, a blank field) out of them."""

from __future__ import annotations

from flask import url_for
from stockPredictor.forecast.bands import DEFAULT_LEVEL
from stockPredictor.forecast.report import Report


def query(horizon: int | None = None, as_of=None, model: str | None = None,
          level: float | None = None) -> dict:
    """A forecast's query string: what was asked, without the defaults and the blanks."""
    values = {"horizon": horizon, "as_of": as_of, "model": model}
    found = {key: value for key, value in values.items() if value not in (None, "")}
    if level is not None and level != DEFAULT_LEVEL:
        found["level"] = level
    return found


def prediction(ticker: str, **asked) -> str:
    """The page of a ticker's forecast."""
    return url_for("pages.prediction", ticker=ticker, **query(**asked))


def upload(upload_id: int, **asked) -> str:
    """The permanent page of an upload's forecast."""
    return url_for("pages.upload_prediction", upload_id=upload_id, **query(**asked))


def of_report(answer: Report, as_of=None, model: str | None = None) -> str | None:
    """The permanent address of an upload's forecast, or None for other prices.

    ``as_of`` and ``model`` as they were asked (a blank stays blank: the address of a forecast
    "from the latest price" follows the prices), the horizon and level as answered.
    """
    if answer.upload_id is None:
        return None
    return upload(answer.upload_id, horizon=answer.horizon, as_of=as_of, model=model,
                  level=answer.level)


def answer(report: Report, as_of=None, model: str | None = None) -> dict:
    """The report as the API answers it (and the JSON download): its document, with an
    upload's permanent address as "url" (None for a ticker's prices)."""
    return {**report.to_dict(), "url": of_report(report, as_of, model)}


def of_ledger(item: dict) -> str | None:
    """The page of a ledger forecast: its ticker or upload, horizon, as_of, model and band
    level; None for an upload since purged."""
    # as_of is always named, a live forecast's too: without it the address would show a newer
    # forecast once the next close arrives.
    asked = {"horizon": item["horizon"], "as_of": item["as_of"], "model": item["model"],
             "level": item.get("level")}
    if item.get("upload_id") is not None:
        return upload(item["upload_id"], **asked)
    if item.get("source") == "csv":
        return None
    return prediction(item["ticker"], **asked)


def ledger(answer: dict) -> dict:
    """A ledger listing with each forecast's page as "url" (the upload's id goes into it)."""
    for item in answer["forecasts"]:
        item["url"] = of_ledger(item)
        item.pop("upload_id", None)  # the url names it; the document has no field for it
    return answer

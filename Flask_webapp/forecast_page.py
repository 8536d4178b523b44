"""The forecast page and its downloads, rendered from the package's report.

The page draws the report's numbers and says them in the report's own plain sentences; its
downloads are the report's CSV and JSON at addresses of their own, so the page does not carry
them twice. Only a forecast with no address (an upload the database could not keep) carries its
downloads inside the page, as ``data:`` URLs.
"""

from __future__ import annotations

import base64
import json

import pandas as pd
from flask import Response, render_template, request, url_for
from markupsafe import Markup
from stockPredictor import rounding
from stockPredictor.data import info
from stockPredictor.forecast.bands import LEVELS
from stockPredictor.forecast import words
from stockPredictor.forecast.report import Report

from . import links

# Rows of history drawn before the forecast on the prediction page.
CHART_HISTORY = 250
# Rows of the past-forecasts table sent in the page: a ticker's year. An upload's record scores
# every day of the file (thousands); the rest are in the JSON download, not in hidden HTML.
PAST_ROWS_SHOWN = 250
DOWNLOAD_TYPES = {"csv": "text/csv", "json": "application/json"}
# Said at the top of an upload's forecast that the database could not keep.
UNKEPT = ("This file could not be stored, so its forecast has no permanent link: to see it "
          "again, upload the file again.")


def asked_options() -> dict:
    """What the person asked for (an as_of as typed, a model by name), not what served it:
    the page's links and "Another forecast" keep it."""
    asked = {**request.args.to_dict(), **request.form.to_dict()}
    return {key: asked[key] for key in ("as_of", "model") if asked.get(key)}


def page(report: Report, frame: pd.DataFrame):
    """The forecast page of ``report`` on the prices ``frame``."""
    asked = asked_options()
    document = links.answer(report, asked.get("as_of"), asked.get("model"))
    again = {"ticker": report.ticker, "horizon": report.horizon, "level": report.level, **asked}
    # The band level is part of the page's address, so a reload or a shared link keeps it. An
    # upload the database could not keep has no address: its level is chosen on the form.
    levels = {}
    if report.upload_id is not None:
        levels = {f"{level:g}": links.upload(report.upload_id, horizon=report.horizon,
                                             level=level, **asked) for level in LEVELS}
    elif report.data["source"] != "csv":
        levels = {f"{level:g}": links.prediction(report.ticker, horizon=report.horizon,
                                                 level=level, **asked) for level in LEVELS}
    # What reading a file fixed goes in the Data card; the rest (sample or stale prices, a
    # moved as_of) at the top, where it cannot be missed. Each sentence shows once.
    file_notices = [n for n in frame.attrs.get("notices", ()) if n != UNKEPT]
    banner = [n for n in report.notices if n not in file_notices]
    past = report.record.get("past") or []
    # The days a band leaves out (too short a history that far ahead), said under the chart
    # and in the table in the one wording the package uses.
    unbanded = [step for step, row in enumerate(document["forecast"], 1)
                if "low" in row and row["low"] is None]
    return render_template("show_prediction.html", result=document, chart=chart(report, frame),
                           downloads=downloads(report, document, asked), again=again,
                           banner=banner, levels=levels, file_notices=file_notices,
                           no_band=words.no_band(unbanded), no_band_why=words.NO_BAND_WHY,
                           past_rows=past_rows(past[-PAST_ROWS_SHOWN:]),
                           past_shown=min(len(past), PAST_ROWS_SHOWN))


def downloads(report: Report, document: dict, asked: dict) -> dict:
    """The CSV and JSON downloads: (address, file name) each."""
    name = file_name(report)
    if report.upload_id is None and report.data["source"] == "csv":
        # No address to fetch them from: the page carries them.
        return {"csv": (data_url("text/csv", report.to_csv()), f"{name}.csv"),
                "json": (data_url("application/json", json.dumps(document)), f"{name}.json")}
    where = (("pages.upload_download", {"upload_id": report.upload_id})
             if report.upload_id is not None else ("pages.download", {"ticker": report.ticker}))
    query = links.query(horizon=report.horizon, level=report.level, **asked)
    return {kind: (url_for(where[0], **where[1], kind=kind, **query), f"{name}.{kind}")
            for kind in DOWNLOAD_TYPES}


def file_name(report: Report) -> str:
    """The downloads' name without its extension: IBM-forecast-2013-03-01."""
    return f"{report.ticker}-forecast-{report.as_of}"


def download(report: Report, kind: str) -> Response:
    """The report as a CSV or JSON file to save."""
    asked = asked_options()
    text = report.to_csv() if kind == "csv" else json.dumps(
        links.answer(report, asked.get("as_of"), asked.get("model")))
    response = Response(text, mimetype=DOWNLOAD_TYPES[kind])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{file_name(report)}.{kind}"')
    return response


def past_rows(past: list[dict]) -> Markup:
    """The past-forecasts table's rows, written in one pass: dates and numbers only, so nothing
    in them needs escaping."""
    texts = rounding.price_texts([row[key] for row in past
                                  for key in ("forecast", "actual", "last_close")])
    cells = iter(texts)
    return Markup("".join(
        f'<tr><th scope="row"><span class="date">{row["date"]}</span></th><td>{next(cells)}'
        f'</td><td>{next(cells)}</td><td>{next(cells)}</td></tr>' for row in past))


def data_url(mimetype: str, text: str) -> str:
    """``text`` as a base64 ``data:`` URL."""
    # base64 rather than percent-encoding: a third of the size of an escaped JSON document, and
    # written in C rather than a character at a time.
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return f"data:{mimetype};charset=utf-8;base64,{encoded}"


def chart(report: Report, frame: pd.DataFrame) -> dict:
    """What the page's scripts draw: the report's numbers, and the closes before the forecast."""
    document, record = report.to_dict(), report.record
    by_step = None if not record["available"] else {
        key: record[key] for key in ("steps", "origins", "start", "end", "mae_vs_naive",
                                     "p_value_vs_naive", "policy_weights")}
    # The past forecasts by column: an upload's record holds thousands, and column lists are
    # half the bytes of as many objects.
    past = record.get("past") or []
    columns = {key: [row[key] for row in past]
               for key in ("date", "forecast", "actual", "last_close")}
    return {"ticker": report.ticker, "as_of": report.as_of, "horizon": report.horizon,
            "history": info.closes(frame, report.as_of, CHART_HISTORY),
            **{key: document[key] for key in ("forecast", "actual", "level", "bands",
                                              "baselines")},
            "by_step": by_step, "past": columns if past else None}

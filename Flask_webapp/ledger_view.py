"""The forecast ledger as the API and the pages read it: listings with links, live records.

Every read goes through stockPredictor.store.ledger; a database that is down is reported as
``LedgerUnavailable``, which the API answers with a 503 and the pages with a notice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, url_for
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from stockPredictor import rounding
from stockPredictor.bands import DEFAULT_LEVEL
from stockPredictor.lru import BoundedCache
from stockPredictor.store import ledger

log = logging.getLogger(__name__)

RECORD_TTL, RECORDS_KEPT = 60.0, 256  # seconds a live record is reused; records kept per worker
UNAVAILABLE = ("the forecast ledger is unavailable because the database is down; forecasts "
               "are still served")


class LedgerUnavailable(Exception):
    """The database could not be reached, so the ledger cannot be read."""


@contextmanager
def session() -> Iterator[Session]:
    """A session on the app's database, or LedgerUnavailable when it is down."""
    database = current_app.extensions.get("database")
    if database is None or database.engine is None:
        raise LedgerUnavailable(UNAVAILABLE)
    try:
        with Session(database.engine) as opened:
            yield opened
    except SQLAlchemyError as exc:  # the server went away since start-up
        log.warning("ledger unavailable: %s", type(exc).__name__)
        raise LedgerUnavailable(UNAVAILABLE) from exc


def listing(ticker=None, model=None, as_of=None, kind=None, limit=50, offset=0) -> dict:
    """``ledger.listing`` with each forecast's page as "url"."""
    with session() as opened:
        answer = ledger.listing(opened, ticker=ticker, model=model, as_of=as_of, kind=kind,
                                limit=limit, offset=offset)
    for item in answer["forecasts"]:
        item["url"] = forecast_url(item)
        del item["upload_id"]  # the url names it; the document has no field for it
        # Rounded as the forecast API rounds them: the same numbers in both answers.
        for row in item["forecast"]:
            row.update({key: None if row[key] is None else rounding.price(row[key])
                        for key in ("close", "low", "high", "actual", "error", "naive_error")})
    return answer


def forecast_url(item: dict) -> str | None:
    """The page of a ledger forecast: its ticker or upload, horizon, as_of, model and band
    level; None for an upload since purged."""
    # as_of is always named, a live forecast's too: without it the address would show a newer
    # forecast once the next close arrives.
    query = {"as_of": item["as_of"], "model": item["model"]}
    if item.get("level") is not None and item["level"] != DEFAULT_LEVEL:
        query["level"] = item["level"]
    if item.get("upload_id") is not None:
        return url_for("pages.upload_prediction", upload_id=item["upload_id"],
                       horizon=item["horizon"], **query)
    if item.get("source") == "csv":
        return None
    return url_for("pages.prediction", ticker=item["ticker"], horizon=item["horizon"], **query)


def live_records() -> list[dict]:
    """The live record of every ticker and model with live forecasts in the ledger."""
    with session() as opened:
        return [_live_record(opened, ticker, model)
                for ticker, model in ledger.recorded_models(opened, "live")]


def live_record(ticker: str, model: str) -> dict | None:
    """The live record of ``ticker`` by ``model`` when any of its forecasts is scored, else None.

    Never fails: the forecast page is served whether or not the database answers.
    """
    try:
        with session() as opened:
            record = _live_record(opened, ticker, model)
    except LedgerUnavailable:
        return None
    return record if record["scored"] else None


def _live_record(opened: Session, ticker: str, model: str) -> dict:
    # A record reads every scored row of its live forecasts, and changes only as closes arrive
    # (at most once per PRICE_TTL per ticker): each worker reuses one for RECORD_TTL seconds.
    # An empty one is not kept, so the first scores show at once.
    cache = current_app.extensions.setdefault("live_records", BoundedCache(RECORDS_KEPT))
    found = cache.get((ticker, model))
    if found is not None and time.monotonic() - found[0] < RECORD_TTL:
        return found[1]
    record = ledger.live_record(opened, ticker, model)
    if record["scored"]:
        cache.put((ticker, model), (time.monotonic(), record))
    return record

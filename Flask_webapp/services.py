"""What the pages and the API share: this process's settings, models, prices and database, and
the forecast report, built by the package and recorded in the ledger.

The web layer validates, calls and renders: every number an answer holds comes from the
package's report (stockPredictor.forecast.report), which a CLI user gets too.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable

import pandas as pd
from flask import current_app, request
from werkzeug.exceptions import UnsupportedMediaType
from stockPredictor.data.csv import MAX_UPLOAD_BYTES, read_csv
from stockPredictor.data.sources import PriceCache
from stockPredictor.errors import (DatabaseUnavailableError, DataError, StockPredictorError,
                                   UnknownUploadError, excerpt)
from stockPredictor.forecast import report, tables
from stockPredictor.forecast.bands import DEFAULT_LEVEL
from stockPredictor.forecast.report import Report
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.model.artifacts import Artifact
from stockPredictor.model.registry import Registry
from stockPredictor.settings import Settings
from stockPredictor.store import Database, ledger, uploads
from stockPredictor.store.live import LiveRecords
from stockPredictor.store.trained import TrainedModels

log = logging.getLogger(__name__)

# Upload ids are 32-bit integers in every database the store runs on; a larger one is unknown.
MAX_UPLOAD_ID = 2**31 - 1
UPLOADS = "stored uploads"


def settings() -> Settings:
    """The settings this app was built with."""
    return current_app.extensions["settings"]


def registry() -> Registry:
    """The models this process loaded at start-up."""
    return current_app.extensions["registry"]


def trained_models() -> TrainedModels | None:
    """This process's poll of the trained models in the database (None without a database)."""
    return current_app.extensions.get("trained")


def database() -> Database:
    """The app's database (its engine is None when the URL cannot be used)."""
    return current_app.extensions["database"]


def job_queue():
    """The training jobs' queue (stockPredictor.jobs.queue.JobQueue): Redis or SQLite."""
    return current_app.extensions["jobs"]


def table_cache() -> ByteBoundedLRU:
    """This process's cache of forecast-table blocks."""
    return current_app.extensions["tables"]


def live_records() -> LiveRecords:
    """This worker's live records, each read from the ledger at most once a minute."""
    return current_app.extensions["live_records"]


def load_prices(ticker: str) -> pd.DataFrame:
    """Daily prices of ``ticker`` through the process's price cache."""
    cache: PriceCache = current_app.extensions["price_cache"]
    return cache.load(ticker)


def price_cache() -> PriceCache:
    """This process's price cache (a watchlist reads its stored frames through it)."""
    return current_app.extensions["price_cache"]


def client() -> str | None:
    """The requesting client as the store counts it (upload budgets, one job at a time): a
    keyed hash of its address or IPv6 /64, never the address; None when it is unknown."""
    return uploads.client_key(request.remote_addr, settings().key)


def read_upload(upload, ticker: str | None = None,
                check: Callable[[pd.DataFrame], None] | None = None,
                as_of=None) -> pd.DataFrame:
    """Prices from an uploaded CSV file, parsed by the package's reader, and kept in the store.

    A file longer than the reader's MAX_DAILY_ROWS keeps the days around ``as_of`` when its
    newest lack them (data.csv.cut), and says so in ``attrs["notices"]``; the store keeps the
    whole file, so each later read keeps the days around the as_of it is read for.

    ``attrs["upload_id"]`` is the stored file's id (None when the database is down), which gives
    the forecast its permanent link. The file is kept only once it has been read, and ``check``
    (which raises to refuse the forecast asked of it) has passed: a refused file is not stored.
    """
    if upload is None or not getattr(upload, "filename", ""):
        raise DataError("no file was uploaded; expected a CSV of daily prices in the field 'file'")
    # Read once: the app refuses a longer body before it is read, and one byte past the limit is
    # enough for the reader to refuse a longer file.
    content = bytes(upload.read(MAX_UPLOAD_BYTES + 1))
    frame = _parse_upload(content, upload.filename, ticker, as_of)
    if check is not None:
        check(frame)
    frame.attrs["upload_id"] = _keep_upload(content, frame.attrs.get("file_name"), ticker)
    return frame


def load_upload(upload_id: int, viewed: bool = False,
                as_of=None) -> tuple[pd.DataFrame, dict]:
    """The prices of the stored upload ``upload_id`` and the options it was sent with: the
    days around ``as_of`` (the link's) when the file is cut, as ``read_upload`` keeps them.

    ``viewed``: a person opened its page, which keeps it from the purge (the clock moves at
    most once a day); downloads and the form's reuse write nothing. A removed upload is an
    ExpiredUploadError that says why; an id never issued, an UnknownUploadError.
    """
    engine = database().require(UPLOADS)
    if not 0 < upload_id <= MAX_UPLOAD_ID:
        raise UnknownUploadError(f"upload {upload_id} does not exist")
    stored = uploads.load(engine, upload_id, touch=viewed,
                          days=settings().upload_retention_days)
    options = dict(stored.options)
    frame = _parse_upload(bytes(stored.content), stored.file_name, options.get("ticker"),
                          as_of)
    frame.attrs["upload_id"] = upload_id
    return frame, options


def _parse_upload(content: bytes, file_name: str | None, ticker: str | None,
                  as_of=None) -> pd.DataFrame:
    # A file object, never a path: nothing on disk is named after what a request sent.
    source = io.BytesIO(content)
    source.name = file_name  # the page's title and data card name the file, as for an upload
    return read_csv(source, ticker=ticker, as_of=as_of)


def _keep_upload(content: bytes, file_name: str | None, ticker: str | None) -> int | None:
    # Kept for the permanent link, within the budgets (the least recently used go first); a
    # database that is down or a file that cannot fit costs the link, never the forecast.
    # The sender is a keyed hash of its address (ProxyFix makes it the client's): never stored.
    try:
        return uploads.save(database().require(UPLOADS), content, file_name,
                            {"ticker": ticker or None},
                            client=client(),
                            budgets=uploads.Budgets.of(settings()))
    except (DataError, DatabaseUnavailableError) as error:
        log.warning("upload %s not kept: %s", file_name, error)
        return None


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def request_body(send: str = "application/json") -> dict:
    """An API call's fields: its JSON (bounded by security.Request), a form's, or none for an
    empty body; any other type is a 415 whose sentence ends "send ``send``"."""
    # Parsed here rather than by webargs: a body of another type gets a 415 instead of being
    # read as an empty form.
    if request.is_json:
        return request.get_json()
    if request.mimetype in FORM_TYPES:
        return request.form.to_dict()
    if not request.mimetype and not request.content_length:
        return {}
    given = excerpt(request.mimetype) if request.mimetype else "none given"
    raise UnsupportedMediaType(f"Content-Type: {given} is not accepted; send {send}")


def model_for(frame: pd.DataFrame, name: str | None = None) -> Artifact:
    """The model called ``name``, else the best for the frame's ticker."""
    models = registry()
    return models.get(name) if name else models.model_for(str(frame.attrs.get("ticker", "")))


def forecast(frame: pd.DataFrame, horizon: int, as_of=None, model: str | None = None,
             level: float = DEFAULT_LEVEL) -> Report:
    """The report of a forecast of ``frame``; a live one is queued for the ledger off the hot
    path, once per ticker, model and day by each worker."""
    answer = report.build(frame, model_for(frame, model), horizon, as_of, level,
                          cache=table_cache(), shared=current_app.extensions["shared"])
    writer = current_app.extensions.get("ledger")
    # A replay is recomputed on demand, never stored; a live forecast served again today is
    # recorded already (its entry holds every step and level), so nothing is queued for it.
    if writer is not None and answer.kind == "live":
        _record_live(writer, frame, answer)
    return answer


def _record_live(writer, frame: pd.DataFrame, answer: Report) -> None:
    queued: ledger.Queued = current_app.extensions["ledger_keys"]
    key = ledger.key_of(answer)
    if not queued.first(key):
        return
    try:  # the whole path: a slice of the table this request just read
        whole = ledger.whole(answer, frame, table_cache())
    except StockPredictorError as error:  # the ledger never fails a forecast
        log.warning("ledger entry of %s not built: %s", answer.ticker, error)
        queued.forget(key)
        return
    if writer.submit(whole, "live") is False:  # dropped: the next request queues it again
        queued.forget(key)


def preload_tables(tickers) -> dict[str, float]:
    """Build the tables of ``tickers`` with their default models now; seconds each, by ticker.

    Run in gunicorn's master (``--preload``), the blocks are shared by every worker it forks.
    One report each also loads what a first request would (the exchange's holidays).
    """
    seconds = {}
    for ticker in tickers:
        started = time.perf_counter()
        try:
            frame = load_prices(ticker)
            model = model_for(frame)
            tables.table_for(frame, model, table_cache()).build()
            report.build(frame, model, cache=table_cache())
        except StockPredictorError as exc:  # no model or no prices for it: built on first use
            current_app.logger.warning("no forecast table preloaded for %s: %s", ticker, exc)
            continue
        seconds[ticker] = time.perf_counter() - started
    return seconds

"""Training jobs as the pages and the API share them: starting one (the training token, its
settings, the prices it will read, the bounded queue), a job as JSON, cancelling it, deleting its
model, and the listing of trained and committed models.

The web never trains: a job is a row in the database and a task on the queue, which a worker
process runs (stockPredictor.jobs.worker); this module only writes, reads and describes them.
"""

from __future__ import annotations

import hmac
import logging
import time

from flask import url_for
from markupsafe import Markup
from stockPredictor.data.tickers import check_ticker
from stockPredictor.errors import (DatabaseUnavailableError, DataError, JobSettingError,
                                   StockPredictorError, UnknownJobError)
from stockPredictor.forecast import report
from stockPredictor.jobs.spec import JobSpec
from stockPredictor.store import jobs as store_jobs
from stockPredictor.store import model_versions

from . import errors, links, services

log = logging.getLogger(__name__)

JOBS = "training jobs"  # what a refusal calls the database's part that holds them
DONE = ("succeeded", "failed", "cancelled")
# A worker that has not beaten for this long is taken as absent: pages say how to start one.
WORKER_GONE_S = 30.0
NO_WORKER = Markup(
    "No training worker has been seen in the last 30 s, so jobs wait in the queue until one "
    "starts. Locally, serve with <code>make run-training</code> (the app with a worker beside "
    "it); on Heroku, README's \u201cTraining on Heroku\u201d says how to run the worker.")
TOKEN_NEEDED = ("this server asks for a training token to start a job: give it in the form's "
                "field training_token, or the API's header X-Training-Token")
TOKEN_WRONG = "the training token is not the one this server asks for"


def check_training_token(given: str | None) -> None:
    """Refuse (403) a job without the deployment's TRAINING_TOKEN; anyone may train without one."""
    expected = services.settings().training_token
    if not expected:
        return
    if not given:
        raise errors.TrainingTokenError(TOKEN_NEEDED)
    # Constant time: how long a refusal takes says nothing about how much of the token matched.
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise errors.TrainingTokenError(TOKEN_WRONG)


def start(fields: dict, upload=None) -> store_jobs.JobRecord:
    """Queue a job with the settings ``fields`` (a form's text or JSON values) on a ticker's
    prices, a stored upload (``upload_id``) or the CSV file ``upload``, which is stored first.

    Everything that can be refused is refused before a file is stored or a row is written:
    the settings (JobSettingError, naming the field), the ticker or upload (unknown: 404).
    """
    if upload is not None and getattr(upload, "filename", ""):
        ticker = fields.get("ticker") or None
        # The other settings first, with a stand-in id: a refused job stores no file.
        JobSpec.from_mapping({**fields, "ticker": None, "upload_id": 1})
        if ticker:
            try:
                ticker = check_ticker(ticker)
            except DataError as exc:
                raise JobSettingError(str(exc), field="ticker") from exc
        # Room for the job before its file is stored: create() asks again, atomically.
        store_jobs.check_room(services.database().require(JOBS), services.client(),
                              services.settings().job_queue_size)
        frame = services.read_upload(upload, ticker)
        if frame.attrs.get("upload_id") is None:
            raise DatabaseUnavailableError("the file could not be stored, so no worker could "
                                           "read it; try again in a few minutes")
        spec = JobSpec.from_mapping({**fields, "ticker": None,
                                     "upload_id": frame.attrs["upload_id"]})
    else:
        spec = JobSpec.from_mapping(fields)
        if spec.upload_id is not None:
            services.load_upload(spec.upload_id)  # unknown: 404; removed: 410
        else:
            services.load_prices(spec.ticker)  # unknown: 404; kept in the price store for it
    engine = services.database().require(JOBS)
    record = store_jobs.create(engine, spec, services.client(),
                               services.settings().job_queue_size)
    try:
        task_id = services.job_queue().submit(record.token)
    except Exception as exc:  # Redis down or refusing: the row must not wait forever
        log.error("job %s not queued: %s", record.token[:6], type(exc).__name__)
        store_jobs.finish(engine, record.token, "failed",
                          reason="the job queue did not answer, so the job was never queued")
        raise DatabaseUnavailableError("the job queue does not answer now; try again in a "
                                       "minute") from None
    store_jobs.attach_task(engine, record.token, task_id)
    return record


def get(token: str) -> store_jobs.JobRecord:
    """The job ``token`` names; UnknownJobError (404) when none."""
    record = store_jobs.get(services.database().require(JOBS), token)
    if record.reason in (store_jobs.STOPPED, store_jobs.NOT_TAKEN):
        # Failed here, not by a worker: its progress entry is this reader's to remove.
        try:
            services.job_queue().clear_progress(token)
        except Exception as exc:  # the entry is tiny; the next view tries again
            log.warning("progress of job %s not cleared: %s", token[:6], type(exc).__name__)
    return record


def cancel(token: str) -> store_jobs.JobRecord:
    """Cancel the job: a queued one at once (its task revoked), a running one within seconds."""
    record = store_jobs.cancel(services.database().require(JOBS), token)
    if record.status == "cancelled" and record.task_id:
        try:
            services.job_queue().revoke(record.task_id)
        except Exception as exc:  # the worker skips a cancelled job anyway (store.jobs.start)
            log.warning("task of job %s not revoked: %s", token[:6], type(exc).__name__)
    return record


def delete_model(token: str) -> str:
    """Delete the model job ``token`` trained; its name. 404 when the job has none (any more)."""
    engine = services.database().require(JOBS)
    store_jobs.get(engine, token)
    name = model_versions.delete_for_job(engine, token)
    if name is None:
        raise UnknownJobError("this job has no model to delete: it did not finish with one, or "
                              "its model was deleted already")
    remove = getattr(services.registry(), "remove", None)
    if remove is not None:  # this process at once; the others at their next poll
        try:
            remove(name)
        except (KeyError, StockPredictorError):
            pass
    return name


def worker() -> dict:
    """``{"seen", "seen_s_ago"}``: whether a training worker beat within WORKER_GONE_S."""
    try:
        ago = services.job_queue().worker_seen()
    except Exception as exc:  # the queue's store down: no worker can be seen either
        log.warning("worker heartbeat not read: %s", type(exc).__name__)
        ago = None
    return {"seen": ago is not None and ago <= WORKER_GONE_S,
            "seen_s_ago": None if ago is None else round(ago, 1)}


def model_alive(record: store_jobs.JobRecord) -> bool:
    """Whether the model the job trained is still kept (not deleted)."""
    if not record.model_name:
        return False
    try:
        return record.model_name in model_versions.fingerprints(
            services.database().require(JOBS))
    except StockPredictorError:
        return True  # unknown: the link stays; the forecast page says if the model is gone


def forecast_url(record: store_jobs.JobRecord) -> str | None:
    """The forecast page with the job's model: its ticker's, or its upload's."""
    if not record.model_name:
        return None
    if record.upload_id is not None:
        return links.upload(record.upload_id, model=record.model_name)
    return links.prediction(record.ticker, model=record.model_name)


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat()


def as_json(record: store_jobs.JobRecord, alive: bool | None = None) -> dict:
    """The job as the API answers it (and the job page reads each second)."""
    progress = None
    if record.status == "running":
        try:
            progress = services.job_queue().progress(record.token)
        except Exception as exc:  # progress is a help; the status comes from the database
            log.warning("progress of job %s not read: %s", record.token[:6], type(exc).__name__)
    now = time.time()
    elapsed = eta = None
    if record.started_at is not None:
        end = record.finished_at.timestamp() if record.finished_at else now
        elapsed = round(max(0.0, end - record.started_at.timestamp()), 1)
    if progress and progress.get("eta_s") is not None and progress.get("updated"):
        # Counted down from the worker's last word; a clock ahead of ours never adds to it.
        eta = round(max(0.0, progress["eta_s"] - max(0.0, now - progress["updated"])), 1)
    if alive is None:
        alive = record.status != "succeeded" or model_alive(record)
    model = record.model_name if alive else None
    token = record.token
    return {
        "token": token, "status": record.status, "reason": record.reason,
        "position": record.position, "cancel_requested": bool(record.cancel_requested),
        "settings": record.spec, "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at), "finished_at": _iso(record.finished_at),
        "elapsed_s": elapsed, "eta_s": eta, "model": model, "progress": progress,
        "result": record.result, "worker": worker(),
        "links": {"page": url_for("training.job", token=token),
                  "self": url_for("api-jobs.job", token=token),
                  "cancel": url_for("api-jobs.cancel", token=token),
                  "model": url_for("api-jobs.delete_model", token=token),
                  "forecast": forecast_url(record) if model else None}}


def trained_models() -> tuple[list[dict], str | None]:
    """The models jobs trained, newest first, as listed (never a job's token); and why the
    list is empty when the database could not be read."""
    try:
        versions = model_versions.listing(services.database().require(JOBS))
    except StockPredictorError as exc:
        return [], str(exc)
    found = []
    for version in versions:
        summary = dict(version.summary or {})
        if version.ticker:
            url = links.prediction(version.ticker, model=version.name)
        elif summary.get("upload_id"):
            url = links.upload(summary["upload_id"], model=version.name)
        else:
            url = None
        found.append({"name": version.name, "ticker": version.ticker, "scope": version.scope,
                      "is_default": bool(version.is_default),
                      "created_at": _iso(version.created_at), "summary": summary, "url": url})
    return found, None


def committed_models() -> list[dict]:
    """The models this process loaded from its models folder (not from jobs), described."""
    registry = services.registry()
    trained = set(getattr(registry, "trained", ()) or ())
    found = []
    for name in registry.names():
        if name in trained:
            continue
        described = report.describe(registry.get(name))
        tickers = described.get("tickers") or []
        described["url"] = links.prediction(tickers[0], model=name) if tickers else None
        found.append(described)
    return found


def record_words(record: dict | None) -> str:
    """A trained model's record (its listing's summary) in one or two sentences for /models."""
    record = record or {}
    parts = []
    validation = record.get("validation")
    if isinstance(validation, dict) and validation.get("mean_model") is not None:
        text = f"Validation: {validation['mean_model']:.3f} of no change's error"
        if validation.get("mean_general") is not None:
            text += f" (the general model {validation['mean_general']:.3f})"
        parts.append(text + ".")
    test = record.get("test")
    steps = test.get("steps") if isinstance(test, dict) else None
    if steps:
        verdicts = [step.get("verdict") for step in steps]
        better, worse = verdicts.count("better"), verdicts.count("worse")
        parts.append(f"Held-out test: better than no change at {better} of {len(steps)} steps, "
                     f"worse at {worse}, no measurable difference or too few at the rest.")
    return " ".join(parts) or "No record."

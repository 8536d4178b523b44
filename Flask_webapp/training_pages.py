"""The training pages: the /train form, a job's live page, its cancel and delete forms, and
/models. Every POST carries the form's CSRF token (origins.py); the job's token in the address
is the only key to watching, cancelling and deleting."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, ValidationError
from stockPredictor.errors import (ClientBusyError, DatabaseUnavailableError, DataError,
                                   JobSettingError, QueueFullError, StockPredictorError,
                                   UnknownTickerError, UnknownUploadError)
from stockPredictor.forecast.words import ranges
from stockPredictor.jobs.spec import ARCHITECTURES, LIMITS

from . import errors, jobs_view, rate_limits, services
from .forms import MAX_ECHO
from .schemas.jobs import DEFAULTS, DESCRIPTIONS, JobRequest

bp = Blueprint("training", __name__)
SETTINGS = ("window", "units", "layers", "epochs", "learning_rate", "days")
FIELDS = ("ticker", "arch", *SETTINGS)
# Each field's input id and label, in the order shown: the first refused takes the focus.
LABELS = {"ticker": "Ticker", "file": "File", "arch": "Architecture", "window": "Window",
          "units": "Units", "layers": "Layers", "epochs": "Epochs",
          "learning_rate": "Learning rate", "days": "Days of prices",
          "training_token": "Training token"}
# Refusals about the whole request rather than one field: said above the form.
WHOLE_FORM = (ClientBusyError, QueueFullError, DatabaseUnavailableError)


@bp.app_template_filter("duration")
def duration(seconds) -> str:
    """Seconds in words: '0.4 s', '45 s', '2 min 05 s', 'n/a'."""
    if seconds is None:
        return "n/a"
    if 0 < float(seconds) < 9.95:  # a phase of a fraction of a second is not "0 s"
        return f"{float(seconds):.1f} s"
    seconds = max(0, round(float(seconds)))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


@bp.app_template_filter("record_words")
def record_words(record) -> str:
    """A trained model's record in words (jobs_view.record_words)."""
    return jobs_view.record_words(record)


@bp.app_template_filter("steps")
def steps(values) -> str:
    """[1, 2, 3, 7] as '1–3 and 7'; 'none' when empty."""
    return ranges(sorted(int(v) for v in values or ()))


def render_form(values: dict, field_errors: dict | None = None, *, status: int = 200,
                notice: str | None = None, upload: str | None = None, headers=None):
    """The /train form with ``values`` as typed and each message beside its field."""
    values = {key: str(value)[:MAX_ECHO] for key, value in values.items() if value is not None}
    shown = {name: field_errors[name] for name in LABELS if name in (field_errors or {})}
    extra = [msg for name, msg in (field_errors or {}).items() if name not in LABELS]
    if extra:  # a field the form does not show (the body): beside the ticker
        shown["ticker"] = "; ".join(filter(None, (shown.get("ticker"), *extra)))
    limits = {name: {"min": f"{low:g}", "max": f"{high:g}"} for name, (low, high)
              in LIMITS.items()}
    return render_template(
        "train.html", values=values, errors=shown, labels=LABELS, limits=limits,
        defaults=DEFAULTS, descriptions=DESCRIPTIONS, archs=ARCHITECTURES,
        first_error=next(iter(shown), None), notice=notice, upload=upload,
        token_required=bool(services.settings().training_token),
        worker=jobs_view.worker(), no_worker=jobs_view.NO_WORKER), status, headers or {}


@bp.route("/train")
def train_form():
    """The training form; ?ticker= fills the ticker in (the forecast page links so)."""
    values = {key: request.args.get(key, "").strip() for key in FIELDS if key in request.args}
    return render_form({**{key: DEFAULTS[key] for key in ("arch", *SETTINGS)}, **values})


@bp.route("/train", methods=["POST"])
@rate_limits.jobs
def train():
    """Start a job from the form; 303 to its page, or the form again with what was refused."""
    form = request.form.to_dict()
    values = {key: form.get(key, "").strip() for key in FIELDS}
    upload = request.files.get("file")
    name = upload.filename[:MAX_ECHO] if upload is not None and upload.filename else None
    checked = {key: value for key, value in values.items() if value != ""}
    if name is not None:  # the file's stand-in: a refused form stores no file
        checked.pop("ticker", None)
        checked["upload_id"] = 1
    try:
        jobs_view.check_training_token(form.get("training_token", ""))
        # Every field's message at once, beside each; JobSpec checks again in start().
        JobRequest(unknown=EXCLUDE).load(checked)
        record = jobs_view.start({key: value for key, value in values.items() if value != ""},
                                 upload)
    except ValidationError as exc:
        return render_form(values, {field: errors.describe(messages) for field, messages
                                    in exc.normalized_messages().items()},
                           status=422, upload=name)
    except StockPredictorError as exc:
        return _refused(values, exc, name)
    return redirect(url_for("training.job", token=record.token), 303)


def _refused(values: dict, exc: StockPredictorError, name: str | None):
    status, code, message = errors.package_status(exc)
    if status >= 500 and status != 503:
        return errors.error_response(status, code, message)
    message = errors.without_server_paths(message)
    retry = [("Retry-After", str(errors.RETRY_AFTER[code]))] if code in errors.RETRY_AFTER \
        else None
    if isinstance(exc, WHOLE_FORM):
        return render_form(values, status=status, notice=message, upload=name, headers=retry)
    if isinstance(exc, errors.TrainingTokenError):
        field = "training_token"
    elif isinstance(exc, JobSettingError):
        field = exc.field if exc.field in LABELS else "ticker"
    elif isinstance(exc, (UnknownTickerError,)) or (name is None and isinstance(exc, DataError)):
        field = "ticker"
    elif isinstance(exc, (UnknownUploadError, DataError)):
        field = "file"
    else:
        field = "ticker"
    return render_form(values, {field: message}, status=status, upload=name, headers=retry)


@bp.route("/jobs/<token>")
def job(token: str):
    """A job's live page; ?fragment=result: its result block alone (the page swaps it in)."""
    record = jobs_view.get(token)
    alive = record.status == "succeeded" and jobs_view.model_alive(record)
    context = {"job": record, "data": jobs_view.as_json(record, alive=alive), "alive": alive,
               "no_worker": jobs_view.NO_WORKER, "done": record.status in jobs_view.DONE}
    if request.args.get("fragment") == "result":
        # Only an ended job has a result; the page asks for it once the JSON says so.
        return (render_template("_job_result.html", **context), 200) if context["done"] \
            else ("", 204)
    return render_template("job.html", **context)


@bp.route("/jobs/<token>/cancel", methods=["POST"])
def cancel(token: str):
    """Cancel the job (the page's Cancel button); back to its page."""
    jobs_view.cancel(token)
    return redirect(url_for("training.job", token=token), 303)


@bp.route("/jobs/<token>/delete", methods=["POST"])
def delete(token: str):
    """Delete the job's model (the page's "Delete this model" form); back to its page."""
    jobs_view.delete_model(token)
    return redirect(url_for("training.job", token=token), 303)


@bp.route("/models")
def models():
    """The models: those jobs trained (from the database) and the committed ones."""
    trained, unavailable = jobs_view.trained_models()
    return render_template("models.html", trained=trained, unavailable=unavailable,
                           committed=jobs_view.committed_models(),
                           taken_over=dict(services.registry().defaults))

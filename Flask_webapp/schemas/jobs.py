"""Training jobs' schemas: what POST /api/v1/jobs may hold (bounds from the package's LIMITS,
defaults from JobSpec) and what a job, its progress, its result and the model listing hold."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import marshmallow as ma
from marshmallow import fields, validate
from stockPredictor.jobs.spec import ARCHITECTURES, LIMITS, JobSpec

from .requests import WholeNumber, _json_kind, _ticker

DEFAULTS = {field.name: field.default for field in dataclasses.fields(JobSpec)}
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}$"
MAX_UPLOAD_ID = 2**31 - 1
DESCRIPTIONS = {
    "window": "trading days the network reads before each forecast",
    "units": "units in each recurrent layer",
    "layers": "recurrent layers",
    "epochs": "passes over the training windows (training stops early when validation stops "
              "improving)",
    "learning_rate": "the optimiser's step size",
    "days": "the newest trading days trained on (training, validation and held-out test)",
}
JOB_FIELDS = "ticker or upload_id, arch, window, units, layers, epochs, learning_rate and days"


def rule(name: str) -> str:
    """The sentence a setting's bounds are refused with: 'must be a whole number from 5 to 120'."""
    low, high = LIMITS[name]
    if name == "learning_rate":
        return f"must be a number from {low:g} to {high:g}"
    return f"must be a whole number from {low} to {high}"


def _bounded(name: str) -> fields.Field:
    low, high = LIMITS[name]
    metadata = {"description": f"{DESCRIPTIONS[name]}; {low:g} to {high:g}",
                "example": DEFAULTS[name]}
    messages = {"invalid": rule(name), "too_large": rule(name)}
    if name == "learning_rate":
        return fields.Float(load_default=DEFAULTS[name], allow_nan=False,
                            validate=validate.Range(low, high, error=rule(name)),
                            error_messages={**messages, "special": rule(name)}, metadata=metadata)
    return WholeNumber(load_default=DEFAULTS[name], strict=False,
                       validate=validate.Range(low, high, error=rule(name)),
                       error_messages=messages, metadata=metadata)


class JobRequest(ma.Schema):
    """A training job: a ticker or a stored upload, and the network's settings (each bounded)."""

    class Meta:
        unknown = ma.RAISE  # a misspelt setting is refused, naming it, never silently ignored

    error_messages = {"unknown": f"is not a job setting: expected {JOB_FIELDS}"}

    ticker = _ticker("the ticker whose prices the model is trained on; give it or upload_id",
                     load_default=None, allow_none=True)
    upload_id = WholeNumber(load_default=None, allow_none=True,
                            validate=validate.Range(1, MAX_UPLOAD_ID,
                                                    error="must be a stored upload's id"),
                            error_messages={"invalid": "must be a stored upload's id"},
                            metadata={"example": 1, "description": "a stored upload (the "
                                      "number in a forecast's /prediction/upload/<id> address); "
                                      "give it or ticker"})
    arch = fields.String(load_default=DEFAULTS["arch"], validate=validate.OneOf(
        ARCHITECTURES, error=f"must be one of {', '.join(ARCHITECTURES)}"), metadata={
        "example": DEFAULTS["arch"], "description": "the network: " + ", ".join(ARCHITECTURES)})
    window = _bounded("window")
    units = _bounded("units")
    layers = _bounded("layers")
    epochs = _bounded("epochs")
    learning_rate = _bounded("learning_rate")
    days = _bounded("days")

    @ma.pre_load
    def _an_object(self, data, **kwargs):
        if not isinstance(data, Mapping):
            raise ma.ValidationError(f"must be a JSON object with the fields {JOB_FIELDS}, not "
                                     f"{_json_kind(data)}", "body")
        return {key: value for key, value in data.items() if value is not None}

    @ma.validates_schema
    def _one_source(self, data, **kwargs):
        if (data.get("ticker") is None) == (data.get("upload_id") is None):
            raise ma.ValidationError("give exactly one of ticker or upload_id: the prices the "
                                     "model is trained on", "ticker")


class TokenPath(ma.Schema):
    """A job's secret token in the URL path."""

    token = fields.String(required=True, validate=validate.Regexp(
        TOKEN_PATTERN, error="must be a job's token: 43 letters, digits, - or _"), metadata={
        "example": "kU3n0b8m1cXyQ2VJ4pD7sT6wZrE9aHfLgNqYtB5uR0o",
        "description": "the job's secret token, from the answer to POST /api/v1/jobs"})


class _Open(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # a newer worker may say more; the documented fields stay


class JobSettings(_Open):
    """The settings a job trains with (JobSpec)."""

    ticker = fields.String(allow_none=True)
    upload_id = fields.Integer(allow_none=True)
    arch = fields.String()
    window = fields.Integer()
    units = fields.Integer()
    layers = fields.Integer()
    epochs = fields.Integer()
    learning_rate = fields.Float()
    days = fields.Integer()


class JobProgress(_Open):
    """A running job's progress, as the worker put it after its last epoch."""

    phase = fields.String(metadata={"description": "loading, training, judging or saving"})
    epoch = fields.Integer(metadata={"description": "epochs done"})
    epochs = fields.Integer(metadata={"description": "epochs asked for"})
    loss = fields.List(fields.Float(), metadata={"description": "training loss per epoch"})
    val_loss = fields.List(fields.Float(allow_none=True), metadata={
        "description": "validation loss per epoch"})
    seconds = fields.List(fields.Float(), metadata={"description": "seconds per epoch"})
    started = fields.Float(allow_none=True, metadata={"description": "unix time it started"})
    elapsed_s = fields.Float(allow_none=True)
    eta_s = fields.Float(allow_none=True, metadata={"description": "estimated seconds left"})
    updated = fields.Float(allow_none=True, metadata={"description": "unix time of this"})


class JobResult(_Open):
    """How the trained model did: validation against no change, the general model and what
    serves the ticker today; its held-out test record with p-values; its policy; the default."""

    model = fields.String(allow_none=True)
    is_default = fields.Boolean()
    default_reason = fields.String(allow_none=True)
    validation = fields.Dict(allow_none=True, metadata={
        "description": "per step h: the model's, the general model's and the incumbent's error "
                       "over no change's (below 1: better), with their means"})
    test = fields.Dict(allow_none=True, metadata={
        "description": "the held-out test record per step: ratio to no change, p-value, n, "
                       "verdict; and a sentence"})
    policy_steps = fields.List(fields.Integer(), allow_none=True, metadata={
        "description": "steps where the model's own move is served (the rest serve no change)"})
    policy_words = fields.String(allow_none=True)
    seconds = fields.Dict(allow_none=True)
    epochs_run = fields.Integer(allow_none=True)
    best_epoch = fields.Integer(allow_none=True)
    loss = fields.List(fields.Float(), allow_none=True)
    val_loss = fields.List(fields.Float(allow_none=True), allow_none=True)


class WorkerState(ma.Schema):
    """Whether a training worker was seen lately."""

    seen = fields.Boolean(required=True, metadata={
        "description": "a worker beat within the last 30 s; false: jobs wait until one starts"})
    seen_s_ago = fields.Float(required=True, allow_none=True, metadata={
        "description": "seconds since a worker's last beat; null: never"})


class JobLinks(ma.Schema):
    """Where to watch, cancel and use the job (each holds the secret token)."""

    page = fields.String(required=True)
    self = fields.String(required=True)
    cancel = fields.String(required=True)
    model = fields.String(required=True, metadata={"description": "DELETE it to delete the "
                                                                  "job's model"})
    forecast = fields.String(required=True, allow_none=True, metadata={
        "description": "the forecast page with the trained model; null until it is saved"})


class Job(ma.Schema):
    """A training job: its status, place in the queue, progress and, once done, its result."""

    token = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(required=True, allow_none=True, metadata={
        "description": "why it failed or was cancelled: one sentence"})
    position = fields.Integer(required=True, allow_none=True, metadata={
        "description": "queued jobs ahead of it; null unless queued"})
    cancel_requested = fields.Boolean(required=True)
    settings = fields.Nested(JobSettings, required=True)
    created_at = fields.String(required=True)
    started_at = fields.String(required=True, allow_none=True)
    finished_at = fields.String(required=True, allow_none=True)
    elapsed_s = fields.Float(required=True, allow_none=True, metadata={
        "description": "seconds it has run (or ran); null while queued"})
    eta_s = fields.Float(required=True, allow_none=True, metadata={
        "description": "estimated seconds left while it trains; null when unknown"})
    model = fields.String(required=True, allow_none=True, metadata={
        "description": "the trained model's name once saved (and not deleted)"})
    progress = fields.Nested(JobProgress, required=True, allow_none=True)
    result = fields.Nested(JobResult, required=True, allow_none=True)
    worker = fields.Nested(WorkerState, required=True)
    links = fields.Nested(JobLinks, required=True)


class TrainedModel(ma.Schema):
    """A model trained by a job and kept in the database (the job's token is never listed)."""

    name = fields.String(required=True)
    ticker = fields.String(required=True, allow_none=True)
    scope = fields.String(required=True)
    is_default = fields.Boolean(required=True, metadata={
        "description": "it serves its ticker's forecasts unless another model is asked for"})
    created_at = fields.String(required=True)
    summary = fields.Dict(required=True, metadata={
        "description": "what it was trained on and how (arch, window, units, layers, epochs, "
                       "tickers, trained_from, trained_to, data_source) and its record"})
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "its forecast page"})


class Deleted(ma.Schema):
    """The model a job's token deleted."""

    deleted = fields.String(required=True, metadata={"example": "ibm-lstm-3f9a1c"})

"""The training jobs' JSON API under /api/v1/jobs: start one, follow it, cancel it, delete its
model. Registered on the same flask-smorest Api as api.py, so one OpenAPI document holds both.

A job's token is its secret: whoever holds it may watch, cancel and delete; nothing lists
tokens. Starting a job counts against RATE_LIMIT_JOBS, the bounded queue, one active job per
client and, where the deployment sets one, TRAINING_TOKEN (the header X-Training-Token).
"""

from __future__ import annotations

import flask_smorest
from flask import jsonify, request

from . import api_examples
from . import job_examples as ex
from . import jobs_view, rate_limits, schemas, services

blp = flask_smorest.Blueprint("api-jobs", __name__, url_prefix="/api/v1",
                              description="Training jobs: a model for a ticker or a file.")
ERRORS = {
    400: "the body is not valid JSON",
    403: "the training token is missing or wrong (where the server asks for one), or a browser "
         "sent it from a page on another site",
    404: "no job has this token (never issued, or removed), or the ticker, upload or model is "
         "unknown",
    410: "the upload was removed since (for space or age)",
    413: "the body is over a size limit (the message says which)",
    415: "the body is neither JSON nor a form",
    422: "a setting is not valid (the message names the field and its bounds)",
    429: "this client already has a job queued or running, or started too many jobs lately "
         "(RATE_LIMIT_JOBS); Retry-After says in how many seconds to retry",
    503: "the training queue is full (JOB_QUEUE_SIZE jobs queued or running; Retry-After says "
         "when to retry), or the database or the queue does not answer",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before asking again",
                               "schema": {"type": "integer"}}}
SUBMIT_DESCRIPTION = "\n\n".join([
    api_examples.curl("/api/v1/jobs", "-H 'Content-Type: application/json'",
                      "-d '{\"ticker\": \"IBM\"}'"), ex.JOB_DESCRIPTION_TEXT])


def _errors(*statuses: int):
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, schema=schemas.Error, description=ERRORS[status],
                                    example=ex.JOB_ERRORS[status],
                                    headers=RETRY_AFTER if status in (429, 503) else None)(view)
        return view
    return decorate


@blp.route("/jobs", methods=["POST"])
@rate_limits.jobs
@blp.doc(description=SUBMIT_DESCRIPTION, requestBody={"required": True, "content": {
    "application/json": {"schema": schemas.JobRequest, "examples": ex.JOB_REQUESTS}}},
    parameters=[{"in": "header", "name": "X-Training-Token", "required": False,
                 "schema": {"type": "string", "example": "s3cret"},
                 "description": "the deployment's TRAINING_TOKEN, where it sets one"}])
@blp.response(202, schemas.Job, example=ex.JOB_QUEUED)
@_errors(400, 403, 404, 410, 413, 415, 422, 429, 503)
def submit():
    """Start a training job: it is queued at once (202) and a worker trains it."""
    jobs_view.check_training_token(request.headers.get("X-Training-Token"))
    record = jobs_view.start(schemas.JobRequest().load(services.request_body()))
    answer = jobs_view.as_json(jobs_view.get(record.token), alive=True)
    return jsonify(answer), 202, {"Location": answer["links"]["self"]}


@blp.route("/jobs/<token>")
@blp.doc(description=api_examples.curl(ex.JOB_PATH))
@blp.arguments(schemas.TokenPath, location="path", as_kwargs=True)
@blp.response(200, schemas.Job, examples=ex.JOB_ANSWERS)
@_errors(403, 404, 422, 429, 503)
def job(token: str):
    """A job: status, queue position, progress (epoch, losses, time left) and, once done, how
    its model did."""
    answer = jsonify(jobs_view.as_json(jobs_view.get(token)))
    answer.headers["Cache-Control"] = "no-store"  # the page polls it each second
    return answer


@blp.route("/jobs/<token>/cancel", methods=["POST"])
@blp.doc(description=api_examples.curl(f"{ex.JOB_PATH}/cancel", "-X POST"))
@blp.arguments(schemas.TokenPath, location="path", as_kwargs=True)
@blp.response(200, schemas.Job, example=ex.JOB_CANCELLED)
@_errors(403, 404, 422, 429, 503)
def cancel(token: str):
    """Cancel a job: a queued one at once; a running one stops within seconds, keeping nothing.
    A job that has ended is answered as it is."""
    return jsonify(jobs_view.as_json(jobs_view.cancel(token)))


@blp.route("/jobs/<token>/model", methods=["DELETE"])
@blp.doc(description=api_examples.curl(f"{ex.JOB_PATH}/model", "-X DELETE"))
@blp.arguments(schemas.TokenPath, location="path", as_kwargs=True)
@blp.response(200, schemas.Deleted, example=ex.DELETED)
@_errors(403, 404, 422, 429, 503)
def delete_model(token: str):
    """Delete the model a job trained (the job's token is the only key to it)."""
    return jsonify(deleted=jobs_view.delete_model(token))

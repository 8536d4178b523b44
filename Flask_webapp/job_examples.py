"""Example requests and answers of the training jobs' API, for the OpenAPI document.

A job of IBM with the default settings, as the app answers at each stage: queued, training
(epoch 6), succeeded, cancelled. Tokens and times are an example's. tests/webapp/
test_api_docs.py checks each against its schema; tests/webapp/test_jobs_api.py checks that the
app answers in this shape.
"""

from __future__ import annotations

from stockPredictor.jobs.spec import JobSpec

TOKEN = "XAhL3ocKKzrOVbHIXPA7oD-lPeRhXuQ1lQMGn4BmdCI"
JOB_PATH = f"/api/v1/jobs/{TOKEN}"
SETTINGS = JobSpec(ticker="IBM").to_dict()  # the defaults, as a job left to them has
LINKS = {"page": f"/jobs/{TOKEN}", "self": JOB_PATH, "cancel": f"{JOB_PATH}/cancel",
         "model": f"{JOB_PATH}/model", "forecast": None}
NO_WORKER = {"seen": False, "seen_s_ago": None}
WORKER = {"seen": True, "seen_s_ago": 1.2}
JOB_REQUEST = {"ticker": "IBM"}
JOB_REQUESTS = {
    "defaults": {"summary": "IBM with the default settings (about a minute on one core)",
                 "value": JOB_REQUEST},
    "settings": {"summary": "every setting named", "value": {
        "ticker": "MSFT", "arch": "attention", "window": 60, "units": 32, "layers": 2,
        "epochs": 20, "learning_rate": 0.001, "days": 3000}},
    "upload": {"summary": "a stored upload (the id in its forecast's address)",
               "value": {"upload_id": 1, "epochs": 10}}}
_JOB = {"token": TOKEN, "reason": None, "cancel_requested": False, "settings": SETTINGS,
        "created_at": "2026-11-23T10:00:00+00:00", "result": None}
JOB_QUEUED = {**_JOB, "status": "queued", "position": 0, "started_at": None,
              "finished_at": None, "elapsed_s": None, "eta_s": None, "model": None,
              "progress": None, "worker": NO_WORKER, "links": LINKS}
LOSS = [0.00182, 0.00121, 0.00098, 0.00091, 0.00088, 0.00086]
VAL_LOSS = [0.00104, 0.00079, 0.00074, 0.00072, 0.00073, 0.00071]
JOB_RUNNING = {
    **_JOB, "status": "running", "position": None, "started_at": "2026-11-23T10:00:02+00:00",
    "finished_at": None, "elapsed_s": 26.4, "eta_s": 36.1, "model": None,
    "progress": {"phase": "training", "epoch": 6, "epochs": SETTINGS["epochs"], "loss": LOSS,
                 "val_loss": VAL_LOSS, "seconds": [4.1, 3.9, 3.8, 3.9, 3.8, 3.9],
                 "started": 1795428002.0, "elapsed_s": 25.9, "eta_s": 36.6,
                 "updated": 1795428027.9},
    "worker": WORKER, "links": LINKS}
MODEL = "ibm-lstm-3f9a1c"
_STEPS = (1, 2, 5, 10, 20, 30)
RESULT = {
    "model": MODEL, "is_default": False,
    "default_reason": "It is kept but is not IBM's default: over 30 steps its validation error "
                      "was 1.0021 of no change's on average, not below 0.9994 for ibm, which "
                      "still serves IBM. Choose it by name to forecast with it.",
    "validation": {"start": "2009-04-08", "end": "2011-03-17", "origins": 489,
                   "steps": [{"h": h, "model": 1.002, "general": 0.998, "incumbent": 0.9994}
                             for h in _STEPS],
                   "mean_model": 1.0021, "mean_general": 0.998, "mean_incumbent": 0.9994,
                   "incumbent": "ibm"},
    "test": {"start": "2011-03-18", "end": "2013-03-01",
             "steps": [{"h": h, "ratio": 1.004, "p": 0.41, "n": 480,
                        "verdict": "no measurable difference"} for h in _STEPS],
             "words": "On its held-out test days (2011-03-18 to 2013-03-01) the served "
                      "forecast showed no measurable difference from no change at any step."},
    "policy_steps": [],
    "policy_words": "Its point policy serves no change (the last close) at every step: on "
                    "validation data its moves did not beat no change clearly enough.",
    "seconds": {"queued": 2.0, "loading": 0.4, "training": 58.2, "judging": 3.1,
                "saving": 0.2, "total": 63.9},
    "epochs_run": 14, "best_epoch": 11, "loss": LOSS, "val_loss": VAL_LOSS}
JOB_SUCCEEDED = {
    **_JOB, "status": "succeeded", "position": None,
    "started_at": "2026-11-23T10:00:02+00:00", "finished_at": "2026-11-23T10:01:06+00:00",
    "elapsed_s": 63.9, "eta_s": None, "model": MODEL, "progress": None, "result": RESULT,
    "worker": WORKER, "links": {**LINKS, "forecast": f"/prediction/IBM?model={MODEL}"}}
JOB_CANCELLED = {**JOB_QUEUED, "status": "cancelled", "position": None,
                 "finished_at": "2026-11-23T10:00:05+00:00",
                 "reason": "cancelled while it waited in the queue"}
JOB_ANSWERS = {
    "queued": {"summary": "waiting for a worker", "value": JOB_QUEUED},
    "running": {"summary": "training: epoch 6", "value": JOB_RUNNING},
    "succeeded": {"summary": "done: how the model did", "value": JOB_SUCCEEDED},
    "cancelled": {"summary": "cancelled", "value": JOB_CANCELLED}}
DELETED = {"deleted": MODEL}
TRAINED = {"name": MODEL, "ticker": "IBM", "scope": "ticker", "is_default": False,
           "created_at": "2026-11-23T10:01:06+00:00",
           "summary": {**{key: SETTINGS[key] for key in (
                           "arch", "window", "units", "layers", "epochs", "learning_rate",
                           "days")}, "epochs_run": 14,
                       "tickers": ["IBM"], "trained_from": "2003-03-12",
                       "trained_to": "2011-03-17", "data_to": "2013-03-01",
                       "data_source": "sample",
                       "record": {"validation": {key: value for key, value
                                                 in RESULT["validation"].items()
                                                 if key != "steps"},
                                  "test": {key: RESULT["test"][key]
                                           for key in ("start", "end", "steps")}},
                       "policy_steps": []},
           "url": f"/prediction/IBM?model={MODEL}"}
_TOO_MANY = ("you already have a training job queued or running: one job per client at a "
             "time, so wait for it to end or cancel it")
JOB_ERRORS = {
    400: {"error": "bad_request", "message": "the body is not valid JSON (expecting value at "
          "line 1, column 1); send a JSON object such as {\"ticker\": \"IBM\", \"epochs\": 10}"},
    403: {"error": "training_token", "message": "this server asks for a training token to "
          "start a job: give it in the form's field training_token, or the API's header "
          "X-Training-Token"},
    404: {"error": "unknown_job", "message": f"no training job has the token '{TOKEN}': it "
          "was never issued or has been removed"},
    410: {"error": "expired_upload", "message": "upload 1 was removed after 90 days unviewed"},
    413: {"error": "payload_too_large", "message": "the JSON body is larger than the limit of "
          "64 kB"},
    415: {"error": "unsupported_media_type", "message": "Content-Type: 'text/plain' is not "
          "accepted; send application/json"},
    422: {"error": "invalid_input", "message": "window: must be a whole number from 5 to 120"},
    429: {"error": "client_busy", "message": _TOO_MANY},
    503: {"error": "queue_full", "message": "the training queue is full: 20 jobs are queued or "
          "running (JOB_QUEUE_SIZE=20), so try again in a few minutes"},
}
JOB_DESCRIPTION_TEXT = (
    "The job is queued at once (202) and a separate worker process trains it; follow it at "
    "`links.self` (each second is fine) or open `links.page` in a browser. Its token is its "
    "secret: it watches, cancels and deletes. Settings left out take the defaults shown; "
    "each is bounded (the schema says how). Refused: a second job while one of yours is "
    "queued or running (429), a full queue (503, Retry-After), a missing or wrong "
    "X-Training-Token where the server asks for one (403).")

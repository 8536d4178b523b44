"""The training jobs' API: starting a job (bounds, one per client, a full queue, the training
token, cross-site refusal), following, cancelling, deleting its model, and the model listing.

No worker runs here: a job started stays queued in the real JobQueue (SQLite in the test's
instance folder), and tests move it on through the store as a worker would.
"""

from __future__ import annotations

import shutil
import time

import pytest
from stockPredictor.jobs.spec import LIMITS, JobSpec
from stockPredictor.settings import BUNDLED_MODELS
from stockPredictor.store import jobs as store_jobs
from stockPredictor.store import model_versions

# A finished job's result, shaped as the spec's worker writes it (spec21.md "Worker").
RESULT = {
    "model": "ibm-lstm-abc123", "is_default": False,
    "default_reason": "It is kept but is not IBM's default: its validation error was 1.010 of "
                      "no change's, not below 0.999 for ibm.",
    "validation": {"start": "2009-04-08", "end": "2011-03-17", "origins": 480,
                   "steps": [{"h": h, "model": 1.01, "general": 0.998, "incumbent": 0.999}
                             for h in range(1, 31)],
                   "mean_model": 1.01, "mean_general": 0.998, "mean_incumbent": 0.999,
                   "incumbent": "ibm"},
    "test": {"start": "2011-03-18", "end": "2013-03-01",
             "steps": [{"h": h, "ratio": 1.02, "p": 0.0312, "n": 470, "verdict": "worse"}
                       for h in range(1, 31)],
             "words": "On its held-out test days it was worse than no change at every step."},
    "policy_steps": [1, 2, 3, 7],
    "policy_words": "Its point policy serves the network's move at 1-3 and 7 days ahead.",
    "seconds": {"queued": 1.0, "loading": 0.5, "training": 42.0, "judging": 2.0,
                "saving": 0.3, "total": 45.8},
    "epochs_run": 4, "best_epoch": 3, "loss": [0.5, 0.3, 0.2, 0.25],
    "val_loss": [0.6, 0.4, 0.35, 0.37]}
SUMMARY = {"arch": "lstm", "window": 30, "units": 16, "layers": 1, "epochs": 4,
           "learning_rate": 0.003, "days": 2500, "epochs_run": 4, "tickers": ["IBM"],
           "trained_from": "2003-03-12", "trained_to": "2011-03-17", "data_to": "2013-03-01",
           "data_source": "sample",
           "record": {"validation": {key: RESULT["validation"][key] for key in (
               "start", "end", "origins", "mean_model", "mean_general", "mean_incumbent",
               "incumbent")}, "test": {key: RESULT["test"][key] for key in (
                   "start", "end", "steps")}},
           "policy_steps": [1, 2, 3, 7]}


def engine_of(app):
    """The app's database engine."""
    return app.extensions["database"].engine


def submit(client, body=None, address="10.0.0.1", **headers):
    """POST /api/v1/jobs from ``address``."""
    return client.post("/api/v1/jobs", json={"ticker": "IBM"} if body is None else body,
                       headers=headers, environ_base={"REMOTE_ADDR": address})


def succeed(app, tmp_path, token: str, name: str = "ibm-lstm-abc123") -> None:
    """Move job ``token`` on as a worker would: started, a model saved, succeeded."""
    engine = engine_of(app)
    assert store_jobs.start(engine, token) is not None
    folder = tmp_path / "trained-copy"
    shutil.copytree(BUNDLED_MODELS / "ibm", folder)
    model_versions.save(engine, folder, name=name, job_token=token, ticker="IBM",
                        scope="ticker", is_default=False, summary=SUMMARY, keep=10)
    store_jobs.finish(engine, token, "succeeded", model_name=name, result={**RESULT,
                                                                           "model": name})


@pytest.fixture
def jobs_app(make_app):
    """The app with the job limit off (tests that count it set it themselves)."""
    return make_app(RATE_LIMITS=0)


def test_a_job_is_queued_with_its_links(jobs_app):
    answer = submit(jobs_app.test_client())
    assert answer.status_code == 202
    job = answer.get_json()
    assert job["status"] == "queued" and job["position"] == 0
    assert job["settings"]["ticker"] == "IBM" and job["settings"]["arch"] == "lstm"
    assert answer.headers["Location"] == job["links"]["self"] == f"/api/v1/jobs/{job['token']}"
    assert job["links"]["page"] == f"/jobs/{job['token']}"
    assert job["worker"] == {"seen": False, "seen_s_ago": None}
    # The queue holds the task: a worker started now would find it.
    assert jobs_app.extensions["jobs"].pending() == 1
    again = jobs_app.test_client().get(job["links"]["self"])
    assert again.status_code == 200 and again.get_json()["status"] == "queued"
    assert again.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("body, field", [
    ({"ticker": "IBM", "window": 4}, "window"),
    ({"ticker": "IBM", "window": 121}, "window"),
    ({"ticker": "IBM", "units": 65}, "units"),
    ({"ticker": "IBM", "layers": 3}, "layers"),
    ({"ticker": "IBM", "epochs": 0}, "epochs"),
    ({"ticker": "IBM", "epochs": 2.5}, "epochs"),
    ({"ticker": "IBM", "epochs": True}, "epochs"),
    ({"ticker": "IBM", "learning_rate": 0.5}, "learning_rate"),
    ({"ticker": "IBM", "learning_rate": "fast"}, "learning_rate"),
    ({"ticker": "IBM", "days": 100}, "days"),
    ({"ticker": "IBM", "arch": "gru"}, "arch"),
    ({"ticker": "IBM!"}, "ticker"),
    ({"ticker": "IBM", "upload_id": 1}, "ticker"),
    ({}, "ticker"),
    ({"ticker": "IBM", "epoch": 3}, "epoch"),
    (["IBM"], "body"),
], ids=["window-low", "window-high", "units", "layers", "epochs-0", "epochs-fraction",
        "epochs-bool", "learning-rate", "learning-rate-text", "days", "arch", "ticker",
        "both", "neither", "unknown-field", "not-an-object"])
def test_bad_settings_get_a_422_naming_the_field(jobs_app, body, field):
    answer = submit(jobs_app.test_client(), body)
    assert answer.status_code == 422
    message = answer.get_json()["message"]
    assert message.startswith(f"{field}: "), message
    assert store_jobs.active_count(engine_of(jobs_app)) == 0


def test_an_unknown_ticker_or_upload_is_404_and_queues_nothing(jobs_app):
    client = jobs_app.test_client()
    assert submit(client, {"ticker": "XYZ"}).status_code == 404
    answer = submit(client, {"upload_id": 12345})
    assert answer.status_code == 404 and answer.get_json()["error"] == "unknown_upload"
    assert store_jobs.active_count(engine_of(jobs_app)) == 0


def test_a_second_job_from_one_client_is_429(jobs_app):
    client = jobs_app.test_client()
    assert submit(client).status_code == 202
    second = submit(client, {"ticker": "MSFT"})
    assert second.status_code == 429
    assert second.get_json()["error"] == "client_busy"
    assert int(second.headers["Retry-After"]) > 0
    # Another client is served.
    assert submit(client, address="10.0.0.2").status_code == 202


def test_a_full_queue_is_503_with_retry_after(make_app):
    client = make_app(RATE_LIMITS=0, JOB_QUEUE_SIZE=2).test_client()
    assert submit(client, address="10.0.1.1").status_code == 202
    assert submit(client, address="10.0.1.2").status_code == 202
    full = submit(client, address="10.0.1.3")
    assert full.status_code == 503
    assert full.get_json()["error"] == "queue_full"
    assert int(full.headers["Retry-After"]) > 0


def test_the_job_rate_limit_counts_starts(make_app):
    client = make_app(RATE_LIMIT_JOBS="1 per hour").test_client()
    assert submit(client, address="10.0.2.1").status_code == 202
    token = submit(client, address="10.0.2.1", **{})  # busy, but the limit answers first
    assert token.status_code == 429 and token.get_json()["error"] == "too_many_requests"


def test_the_training_token_is_required_when_set(make_app):
    client = make_app(RATE_LIMITS=0, TRAINING_TOKEN="s3cret-token").test_client()
    missing = submit(client)
    assert missing.status_code == 403
    assert missing.get_json()["error"] == "training_token"
    assert "X-Training-Token" in missing.get_json()["message"]
    wrong = submit(client, **{"X-Training-Token": "s3cret-tokem"})
    assert wrong.status_code == 403
    assert "s3cret" not in wrong.get_json()["message"]
    assert submit(client, **{"X-Training-Token": "s3cret-token"}).status_code == 202


def test_a_job_from_another_site_is_refused(jobs_app):
    client = jobs_app.test_client()
    answer = submit(client, Origin="https://evil.example")
    assert answer.status_code == 403 and answer.get_json()["error"] == "cross_site"
    assert store_jobs.active_count(engine_of(jobs_app)) == 0


def test_cancelling_a_queued_job_frees_the_client(jobs_app):
    client = jobs_app.test_client()
    job = submit(client).get_json()
    answer = client.post(job["links"]["cancel"])
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "cancelled"
    assert client.get(job["links"]["self"]).get_json()["status"] == "cancelled"
    assert submit(client).status_code == 202  # one job per client: the cancelled one ended


def test_a_running_job_shows_its_progress(jobs_app):
    client = jobs_app.test_client()
    token = submit(client).get_json()["token"]
    store_jobs.start(engine_of(jobs_app), token)
    progress = {"phase": "training", "epoch": 2, "epochs": 15, "loss": [0.5, 0.3],
                "val_loss": [0.6, 0.4], "seconds": [3.0, 3.0], "started": 1.0,
                "elapsed_s": 6.0, "eta_s": 39.0, "updated": time.time()}
    jobs_app.extensions["jobs"].put_progress(token, progress)
    job = client.get(f"/api/v1/jobs/{token}").get_json()
    assert job["status"] == "running" and job["position"] is None
    assert job["progress"]["loss"] == [0.5, 0.3] and job["progress"]["epoch"] == 2
    assert job["elapsed_s"] is not None and 0 <= job["eta_s"] <= 39.0
    cancelled = client.post(f"/api/v1/jobs/{token}/cancel").get_json()
    assert cancelled["status"] == "running" and cancelled["cancel_requested"] is True


def test_deleting_a_model_needs_its_jobs_token(jobs_app, tmp_path):
    client = jobs_app.test_client()
    unknown = client.delete(f"/api/v1/jobs/{'A' * 43}/model")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_job"
    assert client.delete("/api/v1/jobs/short/model").status_code == 422
    token = submit(client).get_json()["token"]
    assert client.delete(f"/api/v1/jobs/{token}/model").status_code == 404  # no model yet
    succeed(jobs_app, tmp_path, token)
    job = client.get(f"/api/v1/jobs/{token}").get_json()
    assert job["model"] == "ibm-lstm-abc123"
    assert job["links"]["forecast"] == "/prediction/IBM?model=ibm-lstm-abc123"
    answer = client.delete(f"/api/v1/jobs/{token}/model")
    assert answer.status_code == 200 and answer.get_json() == {"deleted": "ibm-lstm-abc123"}
    assert model_versions.listing(engine_of(jobs_app)) == []
    assert client.get(f"/api/v1/jobs/{token}").get_json()["model"] is None
    assert client.delete(f"/api/v1/jobs/{token}/model").status_code == 404


def test_the_model_listing_holds_trained_models_without_tokens(jobs_app, tmp_path):
    client = jobs_app.test_client()
    token = submit(client).get_json()["token"]
    succeed(jobs_app, tmp_path, token)
    answer = client.get("/api/v1/models")
    assert answer.status_code == 200
    body = answer.get_json()
    assert {m["name"] for m in body["models"]} >= {"general", "ibm"}
    [trained] = body["trained"]
    assert trained["name"] == "ibm-lstm-abc123" and trained["ticker"] == "IBM"
    assert trained["is_default"] is False and trained["summary"]["window"] == 30
    assert trained["url"] == "/prediction/IBM?model=ibm-lstm-abc123"
    assert token not in answer.get_data(as_text=True)


def test_job_spec_defaults_are_what_an_empty_job_gets(jobs_app):
    # The defaults and bounds the OpenAPI document shows are what a job gets and is held to.
    client = jobs_app.test_client()
    job = submit(client, {"ticker": "MSFT"}).get_json()
    assert job["settings"] == JobSpec(ticker="MSFT").to_dict()
    document = client.get("/api/v1/openapi.json").get_json()
    body = document["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    shown = schema["properties"]
    for name in ("window", "units", "layers", "epochs", "learning_rate", "days", "arch"):
        assert shown[name]["default"] == job["settings"][name], name
    for name, (low, high) in LIMITS.items():
        assert (shown[name]["minimum"], shown[name]["maximum"]) == (low, high), name


def test_the_documented_errors_are_what_the_app_answers(jobs_app):
    from Flask_webapp.job_examples import JOB_ERRORS

    client = jobs_app.test_client()
    bad_json = client.post("/api/v1/jobs", data="", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.get_json() == JOB_ERRORS[400]
    plain = client.post("/api/v1/jobs", data="x", content_type="text/plain")
    assert plain.status_code == 415 and plain.get_json() == JOB_ERRORS[415]
    window = submit(client, {"ticker": "IBM", "window": 3})
    assert window.status_code == 422 and window.get_json() == JOB_ERRORS[422]

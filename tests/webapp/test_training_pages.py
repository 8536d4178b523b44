"""The training pages: the /train form, a job's page in each status, cancel and delete, /models,
and the forecast page's way in. No worker runs: tests move jobs on through the store."""

from __future__ import annotations

import html
import io
import re
import shutil
import time

import pytest
from flask.testing import FlaskClient
from stockPredictor.jobs.spec import LIMITS
from stockPredictor.store import jobs as store_jobs
from stockPredictor.store import model_versions

from Flask_webapp.api_examples import UPLOAD_CSV
from Flask_webapp import services
from tests.webapp.test_jobs_api import BUNDLED_MODELS, RESULT, SUMMARY, engine_of, succeed

JOB_ADDRESS = re.compile(r"^/jobs/([A-Za-z0-9_-]{43})$")


@pytest.fixture
def jobs_app(make_app):
    """The app with the job limit off (each test is one client starting a few jobs)."""
    return make_app(RATE_LIMITS=0)


def start(client, **fields) -> str:
    """Send the /train form; the new job's token."""
    answer = client.post("/train", data={"ticker": "IBM", **fields})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    return JOB_ADDRESS.match(answer.headers["Location"])[1]


def field_error(page: str, name: str) -> str | None:
    """The message beside field ``name`` on the form, or None."""
    found = re.search(rf'id="{name}-error" class="field-error">([^<]*)<', page)
    return html.unescape(found[1]) if found else None


def test_the_form_offers_each_setting_within_its_bounds(jobs_app):
    page = jobs_app.test_client().get("/train?ticker=MSFT").get_data(as_text=True)
    assert re.search(r'id="t-ticker" name="ticker" value="MSFT"', page)
    for name, (low, high) in LIMITS.items():
        field = re.search(rf'<input id="t-{name.replace("_", "-")}" name="{name}"[^>]*>', page)
        assert field, name
        assert f'min="{low:g}"' in field[0] and f'max="{high:g}"' in field[0], field[0]
    assert '<option value="attention">' in page
    assert 'name="training_token"' not in page  # no token asked for where none is set


def test_the_form_says_training_is_off_without_a_worker(jobs_app):
    client = jobs_app.test_client()
    page = client.get("/train").get_data(as_text=True)
    assert 'id="no-worker"' in page and "make run-training" in page
    jobs_app.extensions["jobs"].beat()  # a worker's heartbeat, as `stock-predictor worker` beats
    assert 'id="no-worker"' not in client.get("/train").get_data(as_text=True)


def test_bad_settings_come_back_beside_their_fields_with_the_values_kept(jobs_app):
    answer = jobs_app.test_client().post("/train", data={
        "ticker": "IBM", "window": "3", "epochs": "500", "learning_rate": "1", "units": "8"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "5 to 120" in field_error(page, "window")
    assert "1 to 50" in field_error(page, "epochs")
    assert "0.0001 to 0.05" in field_error(page, "learning_rate")
    assert field_error(page, "units") is None
    assert re.search(r'name="window"[^>]*value="3"', page)
    assert re.search(r'name="units"[^>]*value="8"', page)
    assert store_jobs.active_count(engine_of(jobs_app)) == 0


def test_a_second_job_comes_back_with_a_notice(jobs_app):
    client = jobs_app.test_client()
    start(client)
    again = client.post("/train", data={"ticker": "MSFT"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    assert "one job per client" in again.get_data(as_text=True)


def test_the_form_needs_the_training_token_when_set(make_app):
    client = make_app(RATE_LIMITS=0, TRAINING_TOKEN="open-sesame").test_client()
    assert 'name="training_token"' in client.get("/train").get_data(as_text=True)
    refused = client.post("/train", data={"ticker": "IBM", "window": "40"})
    assert refused.status_code == 403
    assert "training token" in field_error(refused.get_data(as_text=True), "training_token")
    assert re.search(r'name="window"[^>]*value="40"', refused.get_data(as_text=True))
    wrong = client.post("/train", data={"ticker": "IBM", "training_token": "open-sesamE"})
    assert wrong.status_code == 403
    start(client, training_token="open-sesame")


def test_a_form_from_another_site_is_refused(jobs_app):
    plain = FlaskClient(jobs_app, use_cookies=True)  # sends no CSRF token, as another site
    assert plain.post("/train", data={"ticker": "IBM"}).status_code == 400
    foreign = jobs_app.test_client().post("/train", data={"ticker": "IBM"},
                                          headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert store_jobs.active_count(engine_of(jobs_app)) == 0


def test_a_csv_file_is_stored_and_the_job_trains_on_it(jobs_app):
    client = jobs_app.test_client()
    answer = client.post("/train", data={"ticker": "", "epochs": "2", "file": (
        io.BytesIO(UPLOAD_CSV.encode()), "IBM.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 303
    token = JOB_ADDRESS.match(answer.headers["Location"])[1]
    job = store_jobs.get(engine_of(jobs_app), token)
    assert job.ticker is None and job.upload_id is not None and job.spec["epochs"] == 2
    assert "upload " + str(job.upload_id) in client.get(f"/jobs/{token}").get_data(as_text=True)


def test_a_queued_job_says_it_waits_for_a_worker(jobs_app):
    client = jobs_app.test_client()
    token = start(client)
    page = client.get(f"/jobs/{token}").get_data(as_text=True)
    assert "Next in the queue" in page and 'id="job-status"' in page
    notice = re.search(r'<div id="no-worker"[^>]*>', page)[0]
    assert "hidden" not in notice and "make run-training" in page
    assert f'action="/jobs/{token}/cancel"' in page
    assert client.get(f"/jobs/{token}?fragment=result").status_code == 204


def test_a_running_job_shows_its_epoch_and_losses(jobs_app):
    client = jobs_app.test_client()
    token = start(client)
    store_jobs.start(engine_of(jobs_app), token)
    jobs_app.extensions["jobs"].beat()
    jobs_app.extensions["jobs"].put_progress(token, {
        "phase": "training", "epoch": 3, "epochs": 15, "loss": [0.5, 0.31, 0.2],
        "val_loss": [0.6, 0.41, 0.33], "seconds": [2.0, 2.0, 2.0], "started": time.time() - 6,
        "elapsed_s": 6.0, "eta_s": 24.0, "updated": time.time()})
    page = client.get(f"/jobs/{token}").get_data(as_text=True)
    assert "Training: epoch 3 of 15." in page
    assert re.search(r'id="job-epoch">3 of 15<', page)
    assert 'data-loss="[0.5, 0.31, 0.2]"' in html.unescape(page).replace("'", '"')
    assert "validation 0.33" in page
    assert re.search(r'<div id="no-worker"[^>]*hidden', page)


def test_a_succeeded_job_says_how_its_model_did(jobs_app, tmp_path):
    client = jobs_app.test_client()
    token = start(client)
    succeed(jobs_app, tmp_path, token)
    page = client.get(f"/jobs/{token}").get_data(as_text=True)
    fragment = client.get(f"/jobs/{token}?fragment=result").get_data(as_text=True)
    assert 'id="job-outcome"' in fragment and "<html" not in fragment
    for text in ("did not beat no change", "1.010 of no change", RESULT["default_reason"],
                 RESULT["test"]["words"], "p = 0.03<", RESULT["policy_words"],
                 'href="/prediction/IBM?model=ibm-lstm-abc123"', "Delete this model"):
        assert text in html.unescape(page), text
    assert re.search(r'<section id="job-live"[^>]*hidden', page)


@pytest.mark.parametrize("status, reason", [
    ("failed", "The prices of IBM hold too few days for a window of 120."),
    ("cancelled", "cancelled during epoch 3 of 15")])
def test_a_failed_or_cancelled_job_says_why_and_keeps_nothing(jobs_app, status, reason):
    client = jobs_app.test_client()
    token = start(client)
    store_jobs.start(engine_of(jobs_app), token)
    store_jobs.finish(engine_of(jobs_app), token, status, reason=reason)
    page = client.get(f"/jobs/{token}").get_data(as_text=True)
    assert reason in html.unescape(page) and "Nothing was kept" in page
    assert 'href="/train?ticker=IBM"' in page


def test_cancel_and_delete_from_the_page(jobs_app, tmp_path):
    client = jobs_app.test_client()
    token = start(client)
    answer = client.post(f"/jobs/{token}/cancel", data={})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/jobs/{token}"
    assert store_jobs.get(engine_of(jobs_app), token).status == "cancelled"
    token = start(client)
    succeed(jobs_app, tmp_path, token)
    assert client.post(f"/jobs/{token}/delete", data={}).status_code == 303
    assert model_versions.listing(engine_of(jobs_app)) == []
    page = client.get(f"/jobs/{token}").get_data(as_text=True)
    assert 'id="model-deleted"' in page and "Delete this model" not in page
    assert client.post(f"/jobs/{'B' * 43}/delete", data={}).status_code == 404


def test_models_lists_trained_and_committed_models_without_tokens(jobs_app, tmp_path):
    client = jobs_app.test_client()
    assert "No model has been trained here yet" in client.get("/models").get_data(as_text=True)
    token = start(client)
    succeed(jobs_app, tmp_path, token)
    page = client.get("/models").get_data(as_text=True)
    trained = page.split('id="trained-models"')[1].split('id="committed-models"')[0]
    assert "ibm-lstm-abc123" in trained and "Validation: 1.010 of no change" in trained
    assert "better than no change at 0 of 30 steps, worse at 30" in trained
    assert 'href="/prediction/IBM?model=ibm-lstm-abc123"' in trained
    committed = page.split('id="committed-models"')[1]
    assert ">general<" in committed and ">ibm<" in committed
    assert token not in page


def test_the_forecast_page_links_to_training_its_ticker(jobs_app):
    page = jobs_app.test_client().get("/prediction/IBM").get_data(as_text=True)
    assert re.search(r'<a id="train-link"[^>]*href="/train\?ticker=IBM"[^>]*>Train a model for '
                     r'IBM</a>', page)
    nav = page.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert 'href="/train"' in nav and 'href="/models"' in nav


def test_models_says_when_a_trained_model_took_over_a_committed_one(jobs_app, tmp_path):
    engine = engine_of(jobs_app)
    folder = tmp_path / "ibm-lstm-def456"
    shutil.copytree(BUNDLED_MODELS / "ibm", folder)
    model_versions.save(engine, folder, name="ibm-lstm-def456", job_token=None, ticker="IBM",
                        scope="ticker", is_default=True, summary=SUMMARY, keep=10)
    with jobs_app.app_context():
        services.trained_models().refresh(services.registry(), force=True)
    committed = jobs_app.test_client().get("/models").get_data(as_text=True).split(
        'id="committed-models"')[1]
    assert "No: ibm-lstm-def456 serves IBM now" in committed

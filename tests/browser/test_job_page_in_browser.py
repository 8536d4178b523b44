"""A training job's page in Chromium at phone and desktop widths: while the page is open, each
epoch the worker reports appears and the loss lines grow, and the result replaces the progress
when the job ends, all without a reload. No worker runs: the test reports as one would."""

from __future__ import annotations

import shutil
import time

from playwright.sync_api import expect

from stockPredictor.jobs.spec import JobSpec
from stockPredictor.settings import BUNDLED_MODELS
from stockPredictor.store import jobs as store_jobs
from stockPredictor.store import model_versions
from tests.browser.axe import serious_violations
from tests.webapp.test_jobs_api import RESULT, SUMMARY

LOSS = [0.52, 0.31, 0.24, 0.22]
VAL_LOSS = [0.61, 0.42, 0.36, 0.37]


def _progress(epoch: int, epochs: int = 6) -> dict:
    now = time.time()
    return {"phase": "training", "epoch": epoch, "epochs": epochs, "loss": LOSS[:epoch],
            "val_loss": VAL_LOSS[:epoch], "seconds": [3.0] * epoch, "started": now - 3 * epoch,
            "elapsed_s": 3.0 * epoch, "eta_s": 3.0 * (epochs - epoch), "updated": now}


def _points(page) -> list[int]:
    # The number of points in each loss line the script drew.
    return page.evaluate("""Array.from(document.querySelectorAll('#loss-chart polyline'))
        .map(line => line.getAttribute('points').trim().split(' ').length)""")


def test_the_train_form_fits(page, screenshot):
    # First in this file: before a test here beats as a worker, the form says training is off.
    page.goto("/train?ticker=IBM")
    expect(page.get_by_label("Ticker")).to_have_value("IBM")
    expect(page.get_by_label("Epochs")).to_have_attribute("max", "50")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("train-form")
    assert serious_violations(page) == []


def test_the_job_page_draws_each_epoch_and_then_the_result(page, screenshot, served_app,
                                                           tmp_path):
    engine, queue = served_app.extensions["database"].engine, served_app.extensions["jobs"]
    name = f"ibm-lstm-browser{page.width}"
    record = store_jobs.create(engine, JobSpec(ticker="IBM", epochs=6), f"browser-{page.width}",
                               queue_size=100)
    token = record.token
    store_jobs.start(engine, token)
    queue.beat()
    queue.put_progress(token, _progress(1))
    page.goto(f"/jobs/{token}")
    expect(page.locator("#job-line")).to_have_text("Training: epoch 1 of 6.")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    for epoch in (2, 3, 4):
        queue.beat()
        queue.put_progress(token, _progress(epoch))
        expect(page.locator("#job-epoch")).to_have_text(f"{epoch} of 6", timeout=10_000)
    expect(page.locator("#job-line")).to_have_text("Training: epoch 4 of 6.")
    expect(page.locator("#loss-chart polyline")).to_have_count(2)
    assert _points(page) == [4, 4]
    expect(page.locator("#loss-last")).to_contain_text("validation 0.3700")
    expect(page.locator("#no-worker")).to_be_hidden()
    box = page.locator("#loss-chart").bounding_box()
    assert box["width"] <= page.width and box["height"] > 100
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("job-running")
    assert serious_violations(page) == []

    folder = tmp_path / "model"
    shutil.copytree(BUNDLED_MODELS / "ibm", folder)
    model_versions.save(engine, folder, name=name, job_token=token, ticker="IBM", scope="ticker",
                        is_default=False, summary=SUMMARY, keep=50)
    store_jobs.finish(engine, token, "succeeded", model_name=name,
                      result={**RESULT, "model": name, "loss": LOSS, "val_loss": VAL_LOSS})
    expect(page.locator("#job-outcome")).to_be_visible(timeout=10_000)
    expect(page.locator("#job-live")).to_be_hidden()
    expect(page.locator("#outcome-headline")).to_contain_text("did not beat no change")
    expect(page.locator("#forecast-with-model")).to_have_attribute(
        "href", f"/prediction/IBM?model={name}")
    expect(page.locator("#job-outcome svg.loss-chart polyline")).to_have_count(2)
    expect(page.get_by_role("button", name="Delete this model")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("job-done")
    assert serious_violations(page) == []
    page.goto("/models")
    expect(page.locator("#trained-models")).to_contain_text(name)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("models")
    assert serious_violations(page) == []

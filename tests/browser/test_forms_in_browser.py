"""The forecast form in a browser, at phone and desktop widths: a refusal brings the form back with
what was typed and the focus on the field at fault; the date field follows the ticker; an upload
lands on its permanent page, which a reload shows again without asking to resubmit."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from stockPredictor.data.sample import from_sample
from stockPredictor.settings import BUNDLED_MODELS

UPLOAD_LABEL = "Or upload a CSV of your own prices (optional)"


def _earliest(ticker: str, model: str) -> str:
    # A window of daily returns reads window + 1 closes: the first ends on that trading day.
    window = json.loads((BUNDLED_MODELS / model / "model.json").read_text())["model"]["window"]
    return f"{from_sample(ticker).index[window]:%Y-%m-%d}"


def _active_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_an_as_of_too_early_comes_back_with_the_values_and_the_focus(page, screenshot):
    page.allowed.append("status of 422")
    earliest, last = _earliest("FB", "general"), "2013-03-01"
    page.goto("/predict")
    page.get_by_label("Ticker").fill("FB")
    page.get_by_label("Horizon (trading days)").fill("7")  # the ticker's change is sent
    date = page.get_by_label("As of (optional)")
    # The script bounded the date field as soon as the ticker was typed.
    expect(date).to_have_attribute("min", earliest)
    expect(date).to_have_attribute("max", last)
    expect(page.locator("#f-as-of-range")).to_have_text(f"From {earliest} to {last} for FB.")
    page.get_by_label("Band").select_option("0.95")
    date.fill("2012-06-01")
    page.get_by_label("Model").select_option("general")
    page.get_by_role("button", name="Forecast", exact=True).click()
    error = page.locator("#as_of-error")
    expect(error).to_contain_text(f"the earliest date a forecast can be made from is {earliest}")
    expect(page).to_have_url(re.compile(r"/predict$"))
    expect(page.get_by_label("Ticker")).to_have_value("FB")
    expect(page.get_by_label("Horizon (trading days)")).to_have_value("7")
    expect(page.get_by_label("Band")).to_have_value("0.95")
    expect(date).to_have_value("2012-06-01")
    expect(page.get_by_label("Model")).to_have_value("general")
    assert _active_id(page) == "f-as-of"
    # The message sits beside the field, under it, and the summary links to the field.
    field, message = date.bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (field["y"] + field["height"]) <= 120
    expect(page.locator('#error-summary a[href="#f-as-of"]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("form-refused-as-of")


def test_the_forecast_pages_refusal_is_the_form_with_the_focus(page):
    page.allowed.append("status of 422")
    page.goto("/prediction/FB?horizon=5&as_of=2012-06-01")
    expect(page.locator("#as_of-error")).to_contain_text("2012-06-01 is too early")
    expect(page.get_by_label("Ticker")).to_have_value("FB")
    expect(page.get_by_label("Horizon (trading days)")).to_have_value("5")
    assert _active_id(page) == "f-as-of"


def test_an_unknown_ticker_offline_comes_back_with_the_focus_on_the_ticker(page, screenshot):
    page.allowed.append("status of 404")
    page.goto("/predict")
    page.get_by_label("Ticker").fill("NVDA")
    page.get_by_label("Horizon (trading days)").fill("6")
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.locator("#ticker-error")).to_contain_text("NVDA")
    expect(page.get_by_label("Ticker")).to_have_value("NVDA")
    expect(page.get_by_label("Horizon (trading days)")).to_have_value("6")
    assert _active_id(page) == "f-ticker"
    # The summary's link takes the focus back to the field.
    page.get_by_label("Horizon (trading days)").focus()
    page.locator('#error-summary a[href="#f-ticker"]').click()
    assert _active_id(page) == "f-ticker"
    screenshot("form-refused-ticker")


def test_an_upload_lands_on_its_page_and_a_reload_asks_nothing(page, ibm_csv):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/predict")
    page.get_by_label(UPLOAD_LABEL).set_input_files(str(ibm_csv))
    page.get_by_label("Horizon (trading days)").fill("3")
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page).to_have_url(re.compile(r"/prediction/upload/\d+\?horizon=3$"))
    expect(page.locator("#forecast-table tbody tr")).to_have_count(3)
    # Its scripts loaded first: a reload mid-load would cancel them (a failed request).
    page.wait_for_load_state("load")
    answer = page.reload()
    assert answer.request.method == "GET" and answer.status == 200 and dialogs == []
    expect(page.locator("h1")).to_contain_text("MYCO")
    expect(page.locator("#forecast-table tbody tr")).to_have_count(3)
    page.wait_for_load_state("load")


def test_a_refused_upload_asks_for_the_file_again(page, tmp_path):
    page.allowed.append("status of 422")
    path = tmp_path / "notes.csv"
    path.write_text("a,b\n1,2\n")
    page.goto("/predict")
    page.get_by_label("Horizon (trading days)").fill("9")
    page.get_by_label(UPLOAD_LABEL).set_input_files(str(path))
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.locator("#file-error")).to_be_visible()
    expect(page.locator("#f-file-again")).to_contain_text("Choose the file (notes.csv) again")
    expect(page.get_by_label("Horizon (trading days)")).to_have_value("9")
    assert _active_id(page) == "f-file"


def test_picking_the_ibm_model_for_msft_warns(page, screenshot):
    page.goto("/predict")
    page.get_by_label("Ticker").fill("MSFT")
    model = page.get_by_label("Model")
    model.select_option("ibm")
    warning = page.locator("#f-model-warning")
    expect(warning).to_have_text("This model was trained on IBM alone, not on MSFT: its track "
                                 "record on MSFT is what to judge it by.")
    # The ibm model reads a shorter window, so MSFT's earliest date moves with it.
    expect(page.get_by_label("As of (optional)")).to_have_attribute(
        "min", _earliest("MSFT", "ibm"))
    screenshot("form-model-warning")
    model.select_option("general")
    expect(warning).to_have_text("")
    page.get_by_label("Ticker").fill("IBM")
    model.select_option("ibm")
    expect(page.get_by_label("As of (optional)")).to_have_attribute(
        "min", _earliest("IBM", "ibm"))
    expect(warning).to_have_text("")

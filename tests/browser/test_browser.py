"""A person in a real browser: search, forecast, upload, mistakes; no console errors anywhere."""

from __future__ import annotations

import re

from playwright.sync_api import expect

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def drawn(page, selector: str) -> None:
    """The chart under ``selector`` drew onto a canvas of non-zero size."""
    canvas = page.locator(f"{selector} canvas").first
    expect(canvas).to_be_visible(timeout=10_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box
    assert box["x"] + box["width"] <= page.width + 1  # fits the screen


def test_searching_ibm_shows_the_card_and_the_chart(page, screenshot):
    page.goto("/")
    page.get_by_label("Ticker").fill("IBM")
    page.get_by_role("button", name="Search").click()
    card = page.locator("#stock-info")
    expect(card).to_contain_text("International Business Machines")
    expect(card).to_contain_text("Last close")
    expect(card).to_contain_text("bundled sample")
    drawn(page, "#price-chart")
    expect(page.locator("#chart-controls")).to_be_visible()
    page.locator('[data-range="ALL"]').click()
    expect(page.locator('[data-range="ALL"]')).to_have_attribute("aria-pressed", "true")
    page.locator('[data-style="line"]').click()
    expect(page.locator('[data-style="line"]')).to_have_attribute("aria-pressed", "true")
    drawn(page, "#price-chart")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("index")


def test_a_four_day_forecast_has_four_dated_rows_and_a_chart(page, screenshot):
    page.goto("/predict")
    page.get_by_label("Ticker").fill("IBM")
    page.get_by_label("Horizon (trading days)").fill("4")
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page).to_have_url(re.compile(r"/prediction/IBM\?horizon=4$"))
    rows = page.locator("#forecast-table tbody tr")
    expect(rows).to_have_count(4)
    dates = [rows.nth(i).locator("th").inner_text().strip() for i in range(4)]
    assert all(DATE.match(d) for d in dates) and dates == sorted(dates)
    drawn(page, "#prediction-chart")
    expect(page.locator("body")).to_contain_text("not investment advice")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("forecast")


def test_a_past_forecast_is_drawn_beside_what_happened(page):
    page.goto("/prediction/MSFT?horizon=10&as_of=2012-06-01")
    expect(page.locator("#forecast-table thead")).to_contain_text("Actual")
    expect(page.locator("#forecast-table tbody tr")).to_have_count(10)
    drawn(page, "#prediction-chart")


def test_uploading_a_csv_gives_a_forecast(page, ibm_csv, screenshot):
    page.goto("/predict")
    page.get_by_label("Or upload a CSV of your own prices (optional)").set_input_files(
        str(ibm_csv))
    page.get_by_label("Horizon (trading days)").fill("5")
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.locator("h1")).to_contain_text("MYCO")
    expect(page.locator("#forecast-table tbody tr")).to_have_count(5)
    expect(page.locator("#data-info")).to_contain_text("Uploaded file")
    drawn(page, "#prediction-chart")
    screenshot("upload")


def test_the_form_is_usable_with_the_keyboard(page):
    page.goto("/predict")
    page.get_by_label("Ticker").focus()
    page.keyboard.type("AAPL")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/prediction/AAPL\?horizon=3$"))
    expect(page.locator("#forecast-table tbody tr")).to_have_count(3)

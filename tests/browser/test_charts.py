"""The charts a person reads: tooltips, the as-of marker, short horizons, comparisons, band levels
and the track record as pictures, at desktop and phone widths (conftest's `page`: 1280 and
375 px), with no console errors."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect
from stockPredictor.data.sample import from_sample

PAST = "/prediction/MSFT?horizon=20&as_of=2012-06-01"
ONE_DAY = "/prediction/IBM?horizon=1"
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
PRICE = re.compile(r"-?\d{1,3}(?:,\d{3})*\.\d+")


def significant_digits(text: str) -> int:
    """Significant digits written in a price such as '0.08390' or '14,566.65'."""
    digits = text.replace(",", "").replace("-", "").replace(".", "").lstrip("0")
    return len(digits)


def chart_data(page) -> dict:
    return json.loads(page.locator("#prediction-data").text_content())


def canvas_box(page, selector: str) -> dict:
    canvas = page.locator(f"{selector} canvas").first
    expect(canvas).to_be_visible(timeout=10_000)
    box = page.locator(selector).bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box
    assert box["x"] + box["width"] <= page.width + 1
    return box


def hover_until(page, selector: str, fractions, wanted: str) -> str:
    """Move over the chart at each fraction of its plot width until the tooltip says ``wanted``."""
    canvas_box(page, selector)
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    tooltip = page.locator(f"{selector} .chart-tooltip")
    plot_width = box["width"] - 70  # the price scale on the right
    text = ""
    for fraction in fractions:
        x = box["x"] + plot_width * fraction
        page.mouse.move(x - 5, box["y"] + box["height"] / 2)
        page.mouse.move(x, box["y"] + box["height"] / 2)
        if tooltip.is_visible():
            text = tooltip.inner_text()
            if wanted in text:
                return text
    raise AssertionError(f"no tooltip with {wanted!r}; last: {text!r}")


def no_page_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width


def test_hovering_the_forecast_shows_date_and_prices(page, screenshot):
    page.goto(PAST)
    text = hover_until(page, "#prediction-chart", [0.92, 0.88, 0.84, 0.95, 0.8], "Forecast")
    assert ISO_DATE.search(text), text
    prices = PRICE.findall(text)
    assert prices and all(significant_digits(p) >= 4 for p in prices), text
    assert "Actual" in text and "band" in text, text
    date = ISO_DATE.search(text).group()
    assert "2012-06-01" < date <= "2012-06-29"
    no_page_scroll(page)
    screenshot("chart-msft-20-past")


def test_the_as_of_date_is_marked(page):
    page.goto(PAST)
    canvas_box(page, "#prediction-chart")
    expect(page.locator("#prediction-chart")).to_have_attribute("data-as-of-marker", "2012-06-01")
    expect(page.locator("#prediction-legend")).to_contain_text("As of 2012-06-01")


def test_a_one_day_forecast_is_in_the_default_view(page, screenshot):
    page.goto(ONE_DAY)
    chart = page.locator("#prediction-chart")
    canvas_box(page, "#prediction-chart")
    expect(chart).to_have_attribute("data-visible-to", ISO_DATE)
    data = chart_data(page)
    first, last = chart.get_attribute("data-visible-from"), chart.get_attribute("data-visible-to")
    forecast_day = data["forecast"][0]["date"]
    assert first <= data["as_of"] < forecast_day <= last
    # Not a sliver at the right edge: a few weeks of history, not the whole year.
    history = [row["date"] for row in data["history"]]
    assert history.index(first) >= len(history) - 41, first
    text = hover_until(page, "#prediction-chart", [0.9, 0.86, 0.82, 0.94, 0.78, 0.97], "Forecast")
    assert forecast_day in text
    screenshot("chart-ibm-1")


def test_naive_and_drift_toggles_draw_and_name_their_lines(page):
    page.goto(PAST)
    canvas_box(page, "#prediction-chart")
    legend = page.locator("#prediction-legend")
    for name, entry in [("No change", "No change: the last close"),
                        ("Past trend", "Past trend: the average daily change so far")]:
        button = page.get_by_role("button", name=name, exact=True)
        expect(button).to_have_attribute("aria-pressed", "false")
        expect(legend).not_to_contain_text(entry)
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(legend).to_contain_text(entry)
    # Keyboard: focus and Space turns one off again.
    naive = page.get_by_role("button", name="No change", exact=True)
    naive.focus()
    page.keyboard.press("Space")
    expect(naive).to_have_attribute("aria-pressed", "false")
    expect(legend).not_to_contain_text("No change: the last close")
    text = hover_until(page, "#prediction-chart", [0.92, 0.88, 0.84, 0.95], "Past trend")
    assert "No change" not in text
    no_page_scroll(page)


def test_the_band_level_is_chosen_for_the_whole_page(page):
    page.goto(PAST)
    canvas_box(page, "#prediction-chart")
    eighty, ninety_five = (page.get_by_role("link", name=n, exact=True) for n in ("80%", "95%"))
    expect(eighty).to_have_attribute("aria-current", "true")
    expect(page.locator("#prediction-legend")).to_contain_text("80% band")
    ninety_five.click()
    # A new address, so a reload or a shared link keeps the level; the table, its caption,
    # the track record and the downloads follow it, not the chart alone.
    expect(page).to_have_url(re.compile(r"level=0\.95"))
    canvas_box(page, "#prediction-chart")
    expect(page.get_by_role("link", name="95%", exact=True)).to_have_attribute("aria-current",
                                                                               "true")
    expect(page.locator("#prediction-legend")).to_contain_text("95% band")
    expect(page.locator("#forecast-table caption")).to_contain_text("95% band")
    expect(page.locator("#track-record")).to_contain_text("Inside the 95% band")
    text = hover_until(page, "#prediction-chart", [0.92, 0.88, 0.84, 0.95], "95% band")
    assert "–" in text
    page.reload()
    expect(page.get_by_role("link", name="95%", exact=True)).to_have_attribute("aria-current",
                                                                               "true")


def test_a_band_level_without_history_is_not_a_link(page):
    # 80 days of prices: too few past errors to calibrate any band.
    page.goto("/predict")
    days = from_sample("IBM").iloc[-80:]
    lines = ["Date,Close"] + [f"{d:%Y-%m-%d},{c:.4f}" for d, c in zip(days.index, days["close"])]
    page.set_input_files("#f-file", files=[{"name": "SHORT.csv", "mimeType": "text/csv",
                                            "buffer": "\n".join(lines).encode()}])
    page.get_by_role("button", name="Forecast").click()
    expect(page.locator("h1")).to_contain_text("SHORT")
    for name in ("50%", "80%", "95%"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
        expect(page.locator(".band-levels [aria-disabled=true]", has_text=name)).to_have_count(1)


def test_the_track_record_is_drawn(page, screenshot):
    page.goto(PAST)
    steps = page.locator("#record-steps-chart svg")
    expect(steps).to_be_visible(timeout=10_000)
    assert steps.get_attribute("aria-label").startswith("Error relative to")
    expect(page.locator("#record-steps-chart .record-steps-chosen")).to_have_count(1)
    past = page.locator("#record-past-chart")
    expect(past.locator("canvas").first).to_be_visible(timeout=10_000)
    assert "Mean absolute error" in past.get_attribute("aria-label")
    expect(page.locator("#record-past-legend")).to_contain_text("Actual close")
    for picture in (steps, past):
        box = picture.bounding_box()
        assert box and box["width"] > 150 and box["height"] > 150, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= page.width, box
    # The numbers stay in the page as text.
    expect(page.locator("#record-steps table tbody tr")).to_have_count(30)
    assert page.locator("#record-past table tbody tr").count() > 200
    text = hover_until(page, "#record-past-chart", [0.5, 0.6, 0.4, 0.7], "Actual")
    assert ISO_DATE.search(text) and "Forecast" in text and "Error" in text
    no_page_scroll(page)
    page.locator("#prediction-chart").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    screenshot("chart-msft-20-record")


def test_the_search_chart_has_iso_dates_and_a_tooltip(page):
    page.goto("/?ticker=IBM")
    text = hover_until(page, "#price-chart", [0.8, 0.6, 0.9, 0.5], "Close")
    assert ISO_DATE.search(text), text
    prices = PRICE.findall(text)
    assert prices and all(significant_digits(p) >= 4 for p in prices), text
    assert "Volume" in text


def test_format_price_keeps_four_significant_digits(page):
    page.goto(ONE_DAY)
    canvas_box(page, "#prediction-chart")
    shown = page.evaluate("[0.0839, 14566.65, 0.00002, 175.2712, -3.25, 1234567.891, 0]"
                          ".map(v => window.StockCharts.formatPrice(v))")
    assert shown == ["0.08390", "14,566.65", "0.00002000", "175.27", "-3.250", "1,234,567.89",
                     "0.00"]


def test_a_penny_price_keeps_four_significant_digits_on_the_chart(page, tmp_path):
    frame = from_sample("IBM").iloc[-400:]
    scale = 0.0839 / frame["close"].iloc[-1]
    path = tmp_path / "penny.csv"
    path.write_text("Date,Close\n" + "\n".join(
        f"{d:%Y-%m-%d},{c * scale:.8g}" for d, c in zip(frame.index, frame["close"])) + "\n")
    page.goto("/predict")
    page.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_label("Horizon (trading days)").fill("3")
    page.get_by_role("button", name="Forecast", exact=True).click()
    text = hover_until(page, "#prediction-chart", [0.92, 0.88, 0.84, 0.95, 0.8], "Forecast")
    prices = PRICE.findall(text)
    assert prices and all(p.startswith("0.0") and significant_digits(p) >= 4 for p in prices), text

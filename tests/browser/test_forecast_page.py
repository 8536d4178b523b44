"""The forecast page at a glance, at desktop and phone widths (conftest's `page`: 1280 and 375 px):
the answer in plain words beside the chart, the days that are "no change" and why, the past
forecasts beside "no change", a past date's outcome, another ticker's model, the band level
driving the table and the downloads, a compact table on a phone, and charts that answer a tap."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from playwright.sync_api import expect
from stockPredictor.data.sample import from_sample

from tests.browser.test_charts import canvas_box


def summary(page):
    return page.locator("#forecast-summary")


def answer(page) -> dict:
    """The page's forecast as its JSON download: the API's answer, read beside the page."""
    href = page.get_by_role("link", name="JSON").get_attribute("href")
    return page.request.get(href).json()


def test_the_answer_is_said_in_plain_words_beside_the_chart(page, screenshot):
    # The general model serves part of its move at 10 days: the headline names the close.
    page.goto("/prediction/MSFT?horizon=10")
    headline = page.locator("#summary-headline")
    expect(headline).to_contain_text("MSFT: ")
    said = re.search(r"MSFT: ([\d,.]+) expected on (\S+), 10 trading days ahead \(([+-][\d.]+)% "
                     r"from the close of ([\d,.]+) on (\S+)\)\. The 80% band on (\S+) runs "
                     r"from ([\d,.]+) to ([\d,.]+)\.", headline.inner_text())
    assert said, headline.inner_text()
    doc = answer(page)
    end, last = doc["forecast"][-1], doc["last_close"]
    assert abs(end["close"] - last) > 1e-6  # not the last close: the model's move is served
    number = [float(said.group(i).replace(",", "")) for i in (1, 3, 4, 7, 8)]
    assert number[0] == pytest.approx(end["close"], abs=0.006)
    assert number[1] == pytest.approx((end["close"] / last - 1) * 100, abs=0.051)
    assert number[2] == pytest.approx(last, abs=0.006)
    assert number[3:] == pytest.approx([end["low"], end["high"]], abs=0.006)
    assert [said.group(i) for i in (2, 5, 6)] == [end["date"], doc["as_of"], end["date"]]
    # How it did against no change at 10 days, as its track record measured it.
    ratio = doc["track_record"]["mae_vs_naive"][9]
    expect(page.locator("#summary-trust")).to_contain_text(
        f"its forecasts 10 days ahead missed the close by {abs(1 - ratio) * 100:.1f}% "
        f"{'less' if ratio < 1 else 'more'} than “no change” did")
    canvas_box(page, "#prediction-chart")
    # Read before anything else: on a desktop beside the chart, on a phone just above it, and
    # on either without scrolling past a screenful.
    head, chart = headline.bounding_box(), page.locator("#prediction-chart").bounding_box()
    assert head["y"] + head["height"] < page.viewport_size["height"]
    if page.width >= 1000:
        assert head["x"] + head["width"] <= chart["x"] and head["y"] < chart["y"] + chart["height"]
    else:
        assert head["y"] < chart["y"]
    text = summary(page).inner_text()
    for jargon in ("naive", "serves", "validation data", "p =", "Drift", "tries"):
        assert jargon not in text, jargon
    screenshot("forecast-summary")


def test_a_forecast_that_is_flat_for_some_days_says_which_and_why(page):
    # IBM's own model serves no change on every day: the headline and the trust say so and why.
    page.goto("/prediction/IBM?horizon=30")
    expect(page.locator("#summary-headline")).to_contain_text(
        "IBM: no change expected over the next 30 trading days")
    expect(page.locator("#summary-trust")).to_contain_text(
        "did not beat “no change” convincingly on years it was not trained on, so the forecast "
        "is the last close")
    # The day-by-day sentence is for a forecast that mixes flat days with moving ones.
    expect(page.locator("#summary-days")).to_have_count(0)
    # True of the numbers: every forecast is the last close.
    data = json.loads(page.locator("#prediction-data").text_content())
    last = data["history"][-1]["close"]
    assert all(abs(row["close"] - last) < 1e-9 for row in data["forecast"])
    # The general model moves from day 1: no day is flat, so none is said to be.
    page.goto("/prediction/MSFT?horizon=30")
    expect(page.locator("#summary-headline")).not_to_contain_text("no change expected")
    expect(page.locator("#summary-days")).to_have_count(0)
    data = json.loads(page.locator("#prediction-data").text_content())
    last = data["history"][-1]["close"]
    assert all(abs(row["close"] - last) > 1e-6 for row in data["forecast"])


def test_the_past_forecasts_are_drawn_beside_no_change_and_say_when_they_are_the_same(page):
    page.goto("/prediction/IBM?horizon=10")  # IBM's own model: no change at every step
    figure = page.locator("#record-past")
    figure.scroll_into_view_if_needed()
    expect(page.locator("#record-past-legend")).to_contain_text(
        "No change: the close 10 trading days earlier")
    expect(page.locator("#record-past-caption")).to_contain_text(
        "its line is the same as the no-change line")
    canvas_box(page, "#record-past-chart")
    page.goto("/prediction/MSFT?horizon=30")
    caption = page.locator("#record-past-caption")
    expect(caption).not_to_contain_text("the same as the no-change line")
    expect(caption).to_contain_text("nearer the actual close than the no-change line")


def test_a_past_date_gets_a_summary_of_what_happened(page):
    page.goto("/prediction/IBM?horizon=10&as_of=2012-06-01")
    outcome = page.locator("#forecast-outcome")
    expect(outcome).to_be_visible()
    text = outcome.inner_text()
    # Checked against the sample's own closes, not the page's other numbers.
    closes = from_sample("IBM")["close"]
    after = closes.loc["2012-06-02":].iloc[:10]
    last = closes.loc[:"2012-06-01"].iloc[-1]
    mean_abs = (after - last).abs().mean()  # the IBM model serves no change at 10 days
    assert f"off by {mean_abs:.2f} on average" in text, text
    assert f"({(abs(after - last) / after).mean() * 100:.1f}% of the price)" in text, text
    table = page.locator("#forecast-table tbody tr")
    inside = sum(1 for i in range(table.count())
                 if _inside(table.nth(i).locator("td").nth(1).inner_text(),
                            table.nth(i).locator("td").nth(2).inner_text()))
    assert f"{inside} of 10 closes fell inside the 80% band" in text, text


def _inside(band: str, actual: str) -> bool:
    low, high = (float(v.replace(",", "")) for v in band.split("–"))
    return low <= float(actual.replace(",", "")) <= high


def test_a_model_trained_on_another_ticker_is_flagged(page):
    page.goto("/prediction/MSFT?horizon=5&model=ibm")
    warning = page.locator("#model-warning")
    expect(warning).to_contain_text("trained on IBM alone, not on MSFT")
    page.goto("/prediction/IBM?horizon=5&model=ibm")
    expect(page.locator("#model-warning")).to_have_count(0)


def test_the_band_level_drives_the_table_and_the_downloads(page):
    page.goto("/prediction/IBM?horizon=4&as_of=2012-06-01")
    expect(page.locator("#forecast-table thead")).to_contain_text("80% band")
    page.locator(".band-levels").get_by_role("link", name="95%").click()
    expect(page).to_have_url(re.compile(r"level=0\.95"))
    expect(page.locator("#forecast-table thead")).to_contain_text("95% band")
    expect(page.locator("#forecast-table caption")).to_contain_text("95 times in 100")
    cells = [page.locator("#forecast-table tbody tr").nth(i).locator("td").nth(1).inner_text()
             for i in range(4)]
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    download = info.value
    assert download.suggested_filename == "IBM-forecast-2012-06-01.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path()).read())))
    assert [f"{float(r['low']):,.2f} – {float(r['high']):,.2f}" for r in rows] == cells
    with page.expect_download() as info:
        page.get_by_role("link", name="JSON").click()
    document = json.loads(open(info.value.path()).read())
    assert document["level"] == 0.95 and document["track_record"]["level"] == 0.95


def test_a_thirty_day_forecast_is_a_compact_table_on_any_screen(page, screenshot):
    page.goto("/prediction/MSFT?horizon=30")
    table = page.locator("#forecast-table")
    assert table.evaluate("t => getComputedStyle(t).display") == "table"
    rows = page.locator("#forecast-table tbody tr")
    expect(rows).to_have_count(30)
    # One line a row: each row as tall as one line of text and its padding, never a card.
    heights = rows.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) < 48, heights
    # Every column is on screen without the page scrolling sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    header = page.locator("#forecast-table thead th").last.bounding_box()
    assert header["x"] + header["width"] <= page.width
    screenshot("forecast-30-days")


def test_a_tap_on_a_chart_shows_its_tooltip(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 812}, has_touch=True,
                                  is_mobile=True, base_url=base_url)
    try:
        page = context.new_page()
        page.goto("/prediction/MSFT?horizon=10")
        chart = page.locator("#prediction-chart")
        expect(chart.locator("canvas").first).to_be_visible(timeout=10_000)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        page.touchscreen.tap(box["x"] + (box["width"] - 70) * 0.9, box["y"] + box["height"] / 2)
        tooltip = chart.locator(".chart-tooltip")
        expect(tooltip).to_be_visible()
        assert re.search(r"\d{4}-\d{2}-\d{2}", tooltip.inner_text())
    finally:
        context.close()


def test_the_yardsticks_say_when_they_lie_on_the_forecast(page):
    page.goto("/prediction/IBM?horizon=10")  # IBM's own model: no change at every step
    canvas_box(page, "#prediction-chart")
    page.get_by_role("button", name="No change", exact=True).click()
    expect(page.locator("#chart-status")).to_contain_text(
        "No change is the same as the forecast on every day shown")
    # The general model moves from day 1: no day lies on no change, so nothing is said.
    page.goto("/prediction/MSFT?horizon=30")
    data = json.loads(page.locator("#prediction-data").text_content())
    last = data["history"][-1]["close"]
    assert all(abs(row["close"] - last) > 1e-6 for row in data["forecast"])
    canvas_box(page, "#prediction-chart")
    page.get_by_role("button", name="No change", exact=True).click()
    expect(page.get_by_role("button", name="No change", exact=True)).to_have_attribute(
        "aria-pressed", "true")
    expect(page.locator("#chart-status")).not_to_contain_text("the same as the forecast")


def test_charts_have_no_link_inside_and_the_footer_credits_the_library(page):
    for url in ("/prediction/IBM?horizon=5", "/?ticker=IBM"):
        page.goto(url)
        chart = "#prediction-chart" if "prediction" in url else "#price-chart"
        canvas_box(page, chart)
        expect(page.locator(f"{chart} a")).to_have_count(0)
        expect(page.locator("footer a[href='https://www.tradingview.com/']")).to_have_count(1)


def test_the_terms_link_to_a_glossary_that_explains_them(page):
    page.goto("/prediction/IBM?horizon=5")
    page.locator("#forecast-summary").get_by_role("link", name="What the terms mean").click()
    expect(page).to_have_url(re.compile(r"/glossary$"))
    for term in ("no-change", "band", "p-value", "past-trend", "validation", "lstm", "live"):
        expect(page.locator(f"#{term}")).to_be_visible()
    expect(page.locator("#no-change")).to_contain_text("naive")

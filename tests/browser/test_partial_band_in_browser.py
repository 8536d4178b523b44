"""A forecast whose band reaches only some days: the chart draws it over those days alone and
the legend, the tooltip and the table say "no band" at the others, at 1280 and 375 px."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from playwright.sync_api import expect

from stockPredictor.forecast.bands import MIN_CALIBRATION

HORIZON = 20
ROWS = 130  # short enough that the far steps lack MIN_CALIBRATION past errors; see banded_steps
DATA = '<script type="application/json" id="prediction-data">'


def synthetic_csv() -> bytes:
    """ROWS business days of a seeded random walk around 50."""
    days = pd.bdate_range("2015-01-02", periods=ROWS)
    rng = np.random.default_rng(23)
    closes = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, ROWS)))
    return ("Date,Close\n" + "\n".join(f"{d:%Y-%m-%d},{c:.4f}" for d, c in zip(days, closes))
            + "\n").encode()


def banded_steps(rows_needed: int) -> int:
    """The last step with a band when forecasting from the last of ROWS prices.

    The first forecast a model can make is at row rows_needed - 1, where its first input window
    ends. A step-h forecast made at row o is checked at row o + h, so from the last row,
    ROWS - 1, the errors known at step h are those of rows rows_needed - 1 .. ROWS - 1 - h:
    ROWS - h - rows_needed + 1 of them, and a band needs MIN_CALIBRATION.
    """
    return ROWS - rows_needed + 1 - MIN_CALIBRATION


def chart_data(page) -> dict:
    return json.loads(page.locator("#prediction-data").text_content())


def upload(page, tmp_path) -> None:
    path = tmp_path / "YOUNG.csv"
    path.write_bytes(synthetic_csv())
    page.goto("/predict")
    page.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_label("Horizon (trading days)").fill(str(HORIZON))
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.locator("h1")).to_contain_text("YOUNG")


def drawn_shapes(page) -> list[tuple[int, int]]:
    """The first and last forecast step of each shape the band's renderer last drew."""
    chart = page.locator("#prediction-chart")
    expect(chart.locator("canvas").first).to_be_visible(timeout=10_000)
    expect(chart).to_have_attribute("data-band-steps", re.compile(r"\d"))
    return [tuple(int(s) for s in shape.split("-"))
            for shape in chart.get_attribute("data-band-steps").split()]


def tooltips(page) -> dict[str, str]:
    """The chart's tooltip text by date, from a sweep across the right part of the plot."""
    chart = page.locator("#prediction-chart")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    tooltip = chart.locator(".chart-tooltip")
    plot_width = box["width"] - 70  # the price scale on the right
    seen = {}
    for fraction in np.arange(0.99, 0.55, -0.01):
        page.mouse.move(box["x"] + plot_width * fraction, box["y"] + box["height"] / 2)
        if tooltip.is_visible():
            text = tooltip.inner_text()
            date = re.search(r"\d{4}-\d{2}-\d{2}", text)
            if date:
                seen[date.group()] = text
    return seen


def json_document(page) -> dict:
    """The page's JSON download: what the API serves for this upload."""
    href = page.get_by_role("link", name="JSON", exact=True).get_attribute("href")
    response = page.request.get(href)
    assert response.ok, response.status
    return response.json()


def test_a_band_is_drawn_only_over_the_days_that_have_one(page, tmp_path, screenshot):
    upload(page, tmp_path)
    document = json_document(page)
    # A log-return model reads its window's prices and the close before them.
    assert document["model_info"]["target"] == "log_return"
    k = banded_steps(document["model_info"]["window"] + 1)
    assert 1 <= k < HORIZON
    # Served: steps 1..k have a band at every level, the rest null, never NaN.
    assert document["level"] == 0.8
    for level, rows in document["bands"].items():
        lows = [row["low"] for row in rows]
        assert all(low is not None for low in lows[:k]), (level, lows)
        assert all(row["low"] is None and row["high"] is None for row in rows[k:]), level
    dates = [row["date"] for row in document["forecast"]]

    # The chart: one band over steps 1..k, nothing after.
    assert drawn_shapes(page) == [(1, k)]
    legend = page.locator("#prediction-legend [data-kind=band]")
    expect(legend).to_have_text(f"80% band: days 1–{k} (no band on the others)")
    # The table: prices at the banded days, "no band" and its reason at the others.
    cells = page.locator("#forecast-table tbody td.band-cell")
    expect(cells).to_have_count(HORIZON)
    for step in range(HORIZON):
        cell = cells.nth(step)
        if step < k:
            expect(cell).to_have_text(re.compile(r"^\d[\d,.]* – \d[\d,.]*$"))
        else:
            expect(cell).to_have_text("no band")
            assert f"fewer than {MIN_CALIBRATION} past forecasts" in \
                cell.locator(".no-band").get_attribute("title")
    said = f"Days {k + 1}–{HORIZON} have no band: fewer than {MIN_CALIBRATION} past forecasts"
    expect(page.locator("#forecast-table caption")).to_contain_text(said)
    expect(page.locator("#band-gaps")).to_contain_text(said)
    # The tooltip: the band's prices on a banded day, "no band" on the others.
    seen = tooltips(page)
    banded = [d for d in dates[:k] if d in seen]
    bare = [d for d in dates[k:] if d in seen]
    assert banded and bare, sorted(seen)
    assert all(re.search(r"80% band\s*\S+ – \S+", seen[d]) for d in banded), seen
    assert all(re.search(r"80% band\s*no band", seen[d]) for d in bare), seen
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    page.mouse.move(0, 0)
    page.locator("#prediction-chart").scroll_into_view_if_needed()
    screenshot("forecast-partial-band")


def test_each_run_of_banded_days_is_drawn_and_a_gap_is_not_bridged(page, tmp_path):
    # The server's bands are a leading run; a step decides alone, so the page must also draw a
    # band that stops and starts again. The page's own data, with step ``gap`` taken out too.
    gap = 4
    upload(page, tmp_path)
    url = page.url
    k = sum(row["low"] is not None for row in chart_data(page)["bands"]["0.8"])

    def without_gap(route):
        response = route.fetch()
        html = response.text()
        start = html.index(DATA) + len(DATA)
        end = html.index("</script>", start)
        data = json.loads(html[start:end])
        for rows in [*data["bands"].values(), data["forecast"]]:
            rows[gap - 1]["low"] = rows[gap - 1]["high"] = None
        route.fulfill(response=response, body=html[:start] + json.dumps(data) + html[end:])

    page.route(lambda address: address == url, without_gap)
    page.goto(url)
    assert drawn_shapes(page) == [(1, gap - 1), (gap + 1, k)]
    expect(page.locator("#prediction-legend [data-kind=band]")).to_have_text(
        f"80% band: days 1–{gap - 1} and {gap + 1}–{k} (no band on the others)")

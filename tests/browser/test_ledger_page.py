"""The forecast ledger page in Chromium: the live record and the list fit a desktop and a phone."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from playwright.sync_api import expect

from stockPredictor.data.sample import from_sample
from stockPredictor.forecast import report
from stockPredictor.store import ledger


@pytest.fixture(scope="module")
def recorded(served_app):
    """Twelve live forecasts of IBM, scored."""
    engine = served_app.extensions["database"].engine
    frame = from_sample("IBM")
    artifact = served_app.extensions["registry"].model_for("IBM")
    # Recorded as the app records a forecast made on the then latest close of a fresh series.
    for end in range(len(frame) - 20, len(frame) - 8):
        early = frame.iloc[:end + 1].copy()
        early.attrs = dict(frame.attrs, source="yahoo")
        answer = report.build(early, artifact, horizon=5)
        assert answer.kind == "live"
        ledger.record(engine, answer)
    with engine.begin() as connection:
        closes = pd.Series(frame["close"].to_numpy(), index=frame.index)
        assert ledger.score(connection, "IBM", "yahoo", closes=closes) == 60


@pytest.mark.parametrize("paged", [False, True], ids=["one-page", "paged"])
def test_the_ledger_page_fits_the_screen(page, recorded, paged, screenshot):
    # Other browser tests record live forecasts of other tickers: IBM's are filtered.
    page.goto("/forecasts?ticker=IBM&limit=5" if paged else "/forecasts?ticker=IBM")
    page.wait_for_load_state("networkidle")
    record = page.locator("#live-record tbody tr").filter(has_text="IBM")
    expect(record).to_have_count(1)
    expect(record.first.locator('[data-label="Days scored"]')).to_have_text("60")
    # The p-value in words, its number one click away.
    expect(record.first).to_contain_text(re.compile(r"(could easily|unlikely to) be chance"))
    expect(record.first.locator("details")).to_contain_text(re.compile(r"p [=<] \d"))
    rows = page.locator("#ledger-list tbody tr")
    expect(rows).to_have_count(5 if paged else 12)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    # Every cell inside its card, not only inside the screen.
    for card in ("#live-record", "#ledger-list"):
        edge = page.locator(card).bounding_box()
        cells = page.locator(f"{card} td, {card} tbody th")
        for i in range(cells.count()):
            box = cells.nth(i).bounding_box()
            assert box and box["width"] > 0 and edge["x"] <= box["x"]
            assert box["x"] + box["width"] <= edge["x"] + edge["width"], (card, i)
    screenshot(f"ledger-{'paged' if paged else 'live'}")
    if paged:  # older, then newer again: the pager walks the ledger from a cursor
        first = rows.first.inner_text()
        page.get_by_role("link", name="Older").click()
        page.wait_for_load_state("networkidle")
        expect(rows).to_have_count(5)
        expect(rows.first).not_to_have_text(first)
        page.get_by_role("link", name="Newer").click()
        page.wait_for_load_state("networkidle")
        expect(rows.first).to_have_text(first)
        return
    # Each forecast links to its own page, which opens.
    page.get_by_role("link", name="5 days from").first.click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_contain_text("IBM")

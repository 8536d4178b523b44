"""A first visit in Chromium: the home page's examples, the search's own messages, an unknown
ticker offline, and the ledger of live forecasts, at a desktop's and a phone's width."""

from __future__ import annotations

import re

import pandas as pd
from playwright.sync_api import expect

from stockPredictor.data.sample import SAMPLE_TICKERS, from_sample
from stockPredictor.forecast import report
from stockPredictor.store import ledger

PRICE = r"\d{1,3}(,\d{3})*\.\d{2}"  # a price near 20 to 800, shown with cents
# As-of days no other browser test asks for: the ledger is shared by the whole session.
KNOWN_AS_OF = "2012-09-04"


def test_an_example_on_the_home_page_leads_to_its_card_and_forecast(page, screenshot):
    page.goto("/")
    expect(page.locator("#about")).to_contain_text("LSTM")
    links = page.locator("#sample-tickers a")
    expect(links).to_have_text(list(SAMPLE_TICKERS))
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("home")
    links.filter(has_text="IBM").click()
    card = page.locator("#stock-info")
    expect(card).to_contain_text("International Business Machines")
    # The day change in the price's decimals, its percent with one.
    change = card.locator("dt:text('Day change') + dd").inner_text().strip()
    assert re.fullmatch(r"[+-]\d+\.\d{2} \([+-]\d+\.\d%\)", change), change
    stats = card.locator("dl.stats").bounding_box()
    if page.width < 600:
        # The 52-week range takes its row: no empty slot beside it.
        box = card.locator("dt:text('52-week range')").locator("..").bounding_box()
        assert box["width"] > 0.9 * stats["width"], (box, stats)
    # The source's name reads on one or two lines, not five.
    source = card.locator("dt:text('Source') + dd")
    lines = source.evaluate("e => e.getBoundingClientRect().height / "
                            "parseFloat(getComputedStyle(e).lineHeight)")
    assert lines < 2.5, lines
    screenshot("home-card")
    card.get_by_role("link", name="Forecast IBM").click()
    expect(page.locator("h1")).to_contain_text("IBM")


def test_gibberish_in_the_search_gets_our_sentence(page):
    page.goto("/")
    box = page.get_by_label("Ticker")
    box.fill("no way!")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the browser kept it: nothing was sent
    message = box.evaluate("e => e.validationMessage")
    assert message.startswith("'no way!' is not a ticker: use 1 to 15 letters"), message
    box.fill("IBM")
    assert box.evaluate("e => e.validationMessage") == ""
    box.fill("")
    assert "Type a ticker" in box.evaluate("e => e.validationMessage")


def test_a_refusal_from_the_server_keeps_the_value_and_the_focus(page, screenshot):
    page.allowed.append("status of 422")
    page.goto("/?ticker=no%20way!")
    box = page.get_by_label("Ticker")
    expect(box).to_have_value("no way!")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_be_focused()
    error = page.locator("#ticker-error")
    expect(error).to_contain_text("is not a ticker")
    assert "ticker-error" in box.get_attribute("aria-describedby").split()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("search-refused")
    box.fill("MSFT")  # corrected: valid again
    expect(box).not_to_have_attribute("aria-invalid", "true")


def test_an_unknown_ticker_offline_says_how_to_get_live_prices(page, screenshot):
    page.allowed.append("status of 404")
    page.goto("/")
    page.get_by_label("Ticker").fill("NVDA")
    page.get_by_role("button", name="Search").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("NVDA")
    expect(alert).to_contain_text("not in the bundled sample")
    expect(page.get_by_label("Ticker")).to_be_visible()  # can try again at once
    expect(alert).to_contain_text("Live prices are off")
    expect(alert).to_contain_text("PRICE_SOURCE=auto or yahoo")
    assert alert.inner_text().strip()[0].isupper()
    screenshot("unknown-offline")
    page.locator("#sample-tickers").get_by_role("link", name="MSFT").click()
    expect(page.locator("#stock-info")).to_contain_text("Microsoft")


def test_the_ledger_shows_live_forecasts_with_their_errors(page, served_app, screenshot):
    # A page a person opens offline is a replay of the sample: recomputed there, never listed.
    page.goto("/prediction/FB?horizon=3")
    expect(page.locator("h1")).to_contain_text("FB")
    served_app.extensions["ledger"].flush()  # the writer records off the hot path
    # Two live forecasts of AAPL, as the app records one made on the then latest fresh close:
    # one whose 5 closes are all known since, one with 2 known and 3 to come.
    frame = from_sample("AAPL")
    artifact = served_app.extensions["registry"].model_for("AAPL")
    engine = served_app.extensions["database"].engine
    made = {}
    for back in (10, 3):
        early = frame.iloc[:len(frame) - back + 1].copy()
        early.attrs = dict(frame.attrs, source="yahoo")
        answer = report.build(early, artifact, horizon=5)
        ledger.record(engine, answer, kind="live")
        made[back] = answer.as_of
    with engine.begin() as connection:
        ledger.score(connection, "AAPL", "yahoo",
                     closes=pd.Series(frame["close"].to_numpy(), index=frame.index))
    page.goto("/forecasts")
    expect(page.locator("#ledger-list")).not_to_contain_text("FB, 3 days")
    known = page.locator("#ledger-list tbody tr").filter(
        has=page.get_by_role("link", name=f"AAPL, 5 days from {made[10]}")).first
    # (each cell labelled, shortly, for a phone, where the table's head is hidden)
    expect(known.locator('[data-label="Scored"]')).to_have_text("5 of 5")
    expect(known.locator('[data-label="Error"]')).to_have_text(
        re.compile(rf"^{PRICE} \(\d+\.\d%\)$"))
    expect(known.locator('[data-label="No change"]')).to_have_text(
        re.compile(rf"^{PRICE} \(\d+\.\d%\)$"))
    expect(known.locator('[data-label="In band"]')).to_have_text(
        re.compile(r"^[0-5] of 5$"))
    partly = page.locator("#ledger-list tbody tr").filter(
        has=page.get_by_role("link", name=f"AAPL, 5 days from {made[3]}")).first
    expect(partly.locator('[data-label="Scored"]')).to_have_text(
        re.compile(r"^2 of 5\s+the rest scored as closes arrive$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    # On a phone each forecast stays one compact block: its figures side by side.
    cells = [known.locator(f'[data-label="{label}"]').bounding_box()
             for label in ("Scored", "Error", "No change", "In band")]
    assert len({round(box["y"]) for box in cells}) == 1, cells
    screenshot("ledger-served")

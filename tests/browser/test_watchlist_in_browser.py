"""A watchlist in Chromium at phone and desktop widths: made from the form, its computing rows
filled in without a reload once the cold job has run, sorted by each column's heading, its bad
tickers' reasons in their rows, and "Add to watchlist" from the home and forecast pages."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.axe import serious_violations
from tests.fakes_watch import record_watch_jobs, run_cold_job

COLUMNS = ("ticker", "close", "day", "trend", "change", "band", "verdict", "fresh", "model")
TEXT_COLUMNS = ("ticker", "model")


def _forget_summaries(app) -> None:
    # Both widths share the session's database: each starts with every ticker cold.
    with app.extensions["database"].engine.begin() as connection:
        connection.execute(text("DELETE FROM watch_summaries"))


def _column(page, key: str) -> list[str]:
    return page.evaluate(f"""Array.from(document.querySelectorAll('#watch-rows tr[data-ticker]'))
        .map(row => row.getAttribute('data-sort-{key}'))""")


def _in_order(values: list[str], numeric: bool, descending: bool) -> bool:
    have = [v for v in values if v != ""]
    if values[:len(have)] != have:  # rows without a value come last, either way
        return False
    keys = [float(v) for v in have] if numeric else have
    return keys == sorted(keys, reverse=descending)


def test_a_mixed_list_fills_in_without_a_reload_and_sorts_by_each_heading(
        page, screenshot, served_app, monkeypatch):
    jobs = record_watch_jobs(served_app, monkeypatch)
    _forget_summaries(served_app)
    page.goto("/watchlists/new")
    page.get_by_label("Name").fill(f"Browser {page.width}")
    page.get_by_label("Tickers").fill("IBM, MSFT ZZZZ AAPL GOOG")
    page.get_by_role("button", name="Make the list").click()
    expect(page.locator("#keep-link")).to_contain_text("Keep this link.")
    token = re.search(r"/watchlists/([A-Za-z0-9_-]{43})\?new=1", page.url)[1]
    expect(page.locator("#list-link")).to_have_value(re.compile(rf"/watchlists/{token}$"))
    rows = page.locator("#watch-rows tr[data-ticker]")
    expect(rows).to_have_count(5)
    expect(page.locator('#watch-rows tr[data-status="computing"]')).to_have_count(4)
    expect(page.locator("#watch-status")).to_have_text(
        "Computing 4 of 5 rows: they fill in here when ready.")
    bad = page.locator('#watch-rows tr[data-ticker="ZZZZ"]')
    expect(bad).to_have_attribute("data-status", "error")
    expect(bad).to_contain_text("Cannot forecast ZZZZ: Ticker 'ZZZZ' is not in the bundled sample")
    assert jobs.calls == [("watch_cold", token)]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("watchlist-computing")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    assert run_cold_job(served_app, token) == 4  # the worker's job, run here
    expect(page.locator('#watch-rows tr[data-status="ok"]')).to_have_count(4, timeout=15_000)
    expect(page.locator("#watch-status")).to_have_text("All rows are ready.")
    expect(bad).to_have_attribute("data-status", "error")
    expect(page.locator("#watch-rows svg.sparkline polyline")).to_have_count(4)
    assert page.evaluate("window.sameDocument") is True
    # The verdict in words; the p-value once its details are opened.
    ibm = page.locator('#watch-rows tr[data-ticker="IBM"]')
    summary = ibm.locator(".col-verdict summary")
    expect(summary).to_be_visible()
    summary.click()
    expect(ibm.locator(".col-verdict details p.muted")).to_contain_text(re.compile(r"p [=<] "))

    answer = page.request.get(f"/watchlists/{token}/rows.json").json()
    changes = {r["ticker"]: r["change_pct"] for r in answer["rows"] if r["status"] == "ok"}
    for key in COLUMNS:
        head = page.locator(f'#watch-table thead th[data-key="{key}"]')
        head.get_by_role("link").click()
        expect(head).to_have_attribute("aria-sort", "ascending")
        assert _in_order(_column(page, key), key not in TEXT_COLUMNS, False), (key, _column(
            page, key))
        head.get_by_role("link").click()
        expect(head).to_have_attribute("aria-sort", "descending")
        assert _in_order(_column(page, key), key not in TEXT_COLUMNS, True), key
        assert f"sort={key}&dir=desc" in page.url
        if key == "change":
            shown = page.evaluate("""Array.from(document.querySelectorAll(
                '#watch-rows tr[data-ticker]')).map(row => row.getAttribute('data-ticker'))""")
            # Ties (models that serve no change: 0.00%) by ticker, A to Z.
            assert shown == sorted(sorted(changes), key=changes.get, reverse=True) + ["ZZZZ"]
            screenshot("watchlist-sorted")
    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    if page.width < 600:
        # The ticker column stays in view while the table scrolls under it.
        region = page.locator(".watch-scroll")
        region.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        cell = page.locator('#watch-rows tr[data-ticker="IBM"] th')
        assert abs(cell.bounding_box()["x"] - region.bounding_box()["x"]) < 3
        screenshot("watchlist-scrolled")
        region.evaluate("e => { e.scrollLeft = 0; }")
    assert serious_violations(page) == []
    # The same order after a reload: the server sorts by ?sort= too.
    before = _column(page, "ticker")
    page.reload()
    assert _column(page, "ticker") == before
    expect(page.locator('#watch-table thead th[data-key="model"]')).to_have_attribute(
        "aria-sort", "descending")


def test_add_to_watchlist_from_the_home_and_forecast_pages(page, screenshot, served_app,
                                                           monkeypatch):
    record_watch_jobs(served_app, monkeypatch)
    page.goto("/?ticker=IBM")
    page.get_by_role("button", name="Add IBM to a new watchlist").click()
    expect(page.locator("#keep-link")).to_be_visible()
    expect(page.locator("#watch-rows tr[data-ticker]")).to_have_count(1)
    page.goto("/prediction/MSFT")
    page.get_by_role("button", name="Add MSFT to your watchlist").click()
    expect(page.locator(".flash")).to_have_text("MSFT is on this list.")
    expect(page.locator("#watch-rows tr[data-ticker]")).to_have_count(2)
    assert page.evaluate("""Array.from(document.querySelectorAll('#watch-rows tr[data-ticker]'))
        .map(row => row.getAttribute('data-ticker'))""") == ["IBM", "MSFT"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("watchlist-added")
    assert serious_violations(page) == []


def test_refresh_prices_polls_until_the_job_ran_then_swaps_in_every_row(
        page, served_app, monkeypatch):
    jobs = record_watch_jobs(served_app, monkeypatch)
    page.goto("/watchlists/new")
    page.get_by_label("Tickers").fill("IBM MSFT")
    page.get_by_role("button", name="Make the list").click()
    # The new list's page loaded whole (its script too) before the reload replaces it.
    expect(page.locator("#keep-link")).to_contain_text("Keep this link.")
    page.wait_for_load_state("load")
    token = re.search(r"/watchlists/([A-Za-z0-9_-]{43})\?new=1", page.url)[1]
    run_cold_job(served_app, token)
    page.reload()
    expect(page.locator('#watch-rows tr[data-status="ok"]')).to_have_count(2)
    page.get_by_role("button", name="Refresh prices").click()
    assert ("watch_refresh", token) in jobs.calls
    status = page.locator("#watch-status")
    expect(status).to_have_text("Fetching this list's prices: the rows update here when they "
                                "are stored.")
    queue, key = served_app.extensions["jobs"], "watch:" + token
    queue.put_progress(key, {"phase": "refresh", "done": 0, "total": 2})  # the job runs
    page.evaluate("document.querySelector('#watch-rows tr[data-ticker=\"IBM\"]').id = 'old'")
    page.wait_for_timeout(2_500)  # a poll or more while it runs: the rows stay
    expect(page.locator("#old")).to_have_count(1)
    expect(status).to_contain_text("Fetching this list's prices")
    queue.clear_progress(key)  # it ended: every row is swapped for the server's new one
    expect(status).to_have_text("All rows are ready.", timeout=15_000)
    expect(page.locator("#old")).to_have_count(0)
    expect(page.locator('#watch-rows tr[data-status="ok"]')).to_have_count(2)

"""The API docs in a real browser: reached from the header, readable, and entirely local."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

PATHS = ["/api/v1/healthz", "/api/v1/models", "/api/v1/stocks/{ticker}",
         "/api/v1/stocks/{ticker}/history", "/api/v1/forecast", "/api/v1/forecast/{ticker}"]
# Each Content-Security-Policy violation, kept on the page and written to the console (which the
# page fixture fails the test on).
REPORT_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const line = `${event.violatedDirective} blocked ${event.blockedURI || "inline"}`;
  window.cspViolations.push(line);
  console.error(`CSP violation: ${line}`);
});
"""


@pytest.mark.parametrize("page", [(1280, 900), (375, 812)], ids=["desktop", "phone"],
                         indirect=True)
def test_the_api_docs_open_from_the_header_with_examples_and_nothing_from_elsewhere(
        page, screenshot, base_url):
    page.add_init_script(REPORT_CSP)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API").click()
    expect(page).to_have_url(re.compile(r"/api/v1/docs$"))

    for path in PATHS:
        expect(page.locator(f'.opblock-summary-path[data-path="{path}"]')).to_be_visible(
            timeout=10_000)
    forecast = page.locator(".opblock-post").filter(
        has=page.locator('[data-path="/api/v1/forecast"]'))
    forecast.locator(".opblock-summary-control").click()
    # The example request (a curl command and the JSON body) and the example answer.
    expect(forecast.locator(".opblock-description")).to_contain_text("curl")
    # The example names the server the page came from (a free port here, never 5000).
    expect(forecast.locator(".opblock-description")).to_contain_text(
        f"'{base_url}/api/v1/forecast'")
    body = forecast.locator(".opblock-section-request-body .highlight-code")
    expect(body).to_contain_text('"ticker": "IBM"')
    answer = forecast.locator(".responses-table .response").first
    expect(answer.locator(".highlight-code")).to_contain_text('"date": "2013-03-04"')
    expect(forecast.locator(".responses-table")).to_contain_text('"error": "invalid_input"')

    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    screenshot("api-docs")
    # Chromium asks for the favicon late; closing the page first would abort it as a failure.
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.cspViolations") == []
    here = urlsplit(base_url).netloc
    elsewhere = [url for url in requests
                 if urlsplit(url).scheme != "data" and urlsplit(url).netloc != here]
    assert elsewhere == []
    assert any(url.endswith("/api/v1/openapi.json") for url in requests)

"""In Chromium: the forecast page's static files arrive compressed and cached far ahead."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

FORECAST = "/prediction/IBM?horizon=10"
YEAR = 365 * 24 * 3600
# The page's static files as Resource Timing sees them: bytes over the wire, encoded, decoded.
# The favicon is left out: the browser fetches it on its own schedule, before or after the page.
STATIC_TIMINGS = """() => performance.getEntriesByType("resource")
  .filter((entry) => new URL(entry.name).pathname.startsWith("/static/"))
  .filter((entry) => !new URL(entry.name).pathname.startsWith("/static/favicon."))
  .map((entry) => ({path: new URL(entry.name).pathname, transfer: entry.transferSize,
                    encoded: entry.encodedBodySize, decoded: entry.decodedBodySize}))"""


def test_static_files_arrive_compressed_and_immutable_then_come_from_the_cache(page, screenshot):
    responses = []
    page.on("response", lambda response: responses.append(response)
            if urlsplit(response.url).path.startswith("/static/") else None)
    page.goto(FORECAST)
    page.wait_for_load_state("networkidle")

    paths = {urlsplit(response.url).path for response in responses}
    assert any(p.endswith(".css") for p in paths) and any("lightweight-charts" in p for p in paths)
    for response in responses:
        path, headers = urlsplit(response.url).path, response.all_headers()
        assert response.status == 200, path
        assert re.search(r"\.[0-9a-f]{12}(?=[./])", path), f"{path} has no content hash"
        assert headers.get("content-encoding") in ("br", "gzip"), (path, headers)
        cache_control = headers["cache-control"]
        max_age = re.search(r"max-age=(\d+)", cache_control)
        assert "immutable" in cache_control and max_age and int(max_age.group(1)) >= YEAR, (
            path, cache_control)
    first = page.evaluate(STATIC_TIMINGS)
    assert {entry["path"] for entry in first} >= {
        p for p in paths if not p.startswith("/static/favicon.")}
    for entry in first:
        # Fetched from the server, and fewer bytes over the wire than the file holds.
        assert entry["transfer"] > 0 and 0 < entry["encoded"] < entry["decoded"], entry

    page.goto(FORECAST)  # a second visit in the same browser context
    page.wait_for_load_state("networkidle")
    second = page.evaluate(STATIC_TIMINGS)
    assert {entry["path"] for entry in second} == {entry["path"] for entry in first}
    # transferSize 0: answered from the browser's cache, without even a 304 from the server.
    assert [entry for entry in second if entry["transfer"] != 0] == []
    assert page.locator("h1").first.is_visible()
    screenshot("weight-forecast-second-visit")

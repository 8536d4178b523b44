"""A real server on 127.0.0.1 and Debian's Chromium driven by Playwright (never downloaded)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from Flask_webapp.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Kept after the run (ignored by git): what each main page looked like.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """The app the browser tests' server serves: the bundled sample, a database of its own."""
    folder = tmp_path_factory.mktemp("cache")
    # Limits off: one browser is one client sending the whole session's forecasts and uploads
    # within minutes; tests/webapp/test_limits.py tests the limits themselves.
    return create_app({"PRICE_SOURCE": "sample", "CACHE_DIR": str(folder),
                       "DATABASE_URL": f"sqlite:///{folder / 'browser.db'}", "RATE_LIMITS": 0,
                       "INSTANCE_PATH": str(folder)})  # the job queue's SQLite file too


@pytest.fixture(scope="session")
def base_url(served_app):
    """The app on the bundled sample, served by a threaded server on a free loopback port."""
    server = make_server("127.0.0.1", 0, served_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium; `.ci/run` installs it with apt-get."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(apt-get install chromium); never `playwright install`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=[(1280, 900), (375, 812)], ids=["desktop", "phone"])
def page(request, browser, base_url):
    """A fresh page at desktop or phone width; console errors and failed requests fail the test."""
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height},
                                  base_url=base_url)
    page = context.new_page()
    problems = []
    page.on("console", lambda message: problems.append(f"console {message.type}: "
                                                       f"{message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # The favicon's request is the one a navigation (a form's redirect) may abort on a busy
    # machine: Chromium fetches it late and drops it when the page goes; it is no fault.
    page.on("requestfailed", lambda req: None if "/favicon." in req.url and
            req.failure == "net::ERR_ABORTED" else problems.append(f"request failed: {req.url}"))
    page.width = width
    # A test expecting an error status allows the console line Chromium writes for it.
    page.allowed = []
    yield page
    context.close()
    unexpected = [p for p in problems if not any(a in p for a in page.allowed)]
    assert unexpected == [], unexpected


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot named after the page and the viewport width."""
    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{page.width}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take

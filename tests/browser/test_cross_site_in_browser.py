"""Another site's page posts an upload to the form and to the API from a real browser: refused.

The other site is a second server on loopback, addressed as ``localhost`` while the app is
``127.0.0.1``: two sites to Chromium, so it sends what it sends across sites (its Origin, its
Sec-Fetch-Site, no SameSite=Lax cookie) and no local-network rule stands in the way.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockPredictor.store.models import Upload

EVIL_PAGE = """<!doctype html><title>waiting</title><script>
function body() {
  const data = new FormData();
  data.append('horizon', '3');
  data.append('file', new Blob([CSV], {type: 'text/csv'}), 'MYCO.csv');
  return data;
}
const sent = ['/api/v1/forecast', '/predict'].map(function (path) {
  return fetch(APP + path, {method: 'POST', body: body(), mode: 'no-cors', credentials: 'include'});
});
Promise.all(sent).then(function () { document.title = 'sent'; },
                       function () { document.title = 'failed'; });
</script>"""


@pytest.fixture
def evil_site(ibm_csv, base_url):
    """A page on another site that posts an upload to the app as soon as it loads."""
    html = EVIL_PAGE.replace("CSV", json.dumps(ibm_csv.read_text()), 1).replace(
        "APP", json.dumps(base_url), 1).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


def _uploads(app) -> int:
    with Session(app.extensions["database"].engine) as session:
        return session.scalar(select(func.count()).select_from(Upload))


def test_another_sites_page_cannot_store_an_upload(page, served_app, base_url, evil_site,
                                                   caplog):
    caplog.set_level("INFO", logger="werkzeug")
    page.goto("/predict")  # the visitor has the app's session cookie
    before = _uploads(served_app)
    # Chromium reports a refused no-cors answer as a failed request, and its status on the console.
    # Chromium asks for the form page's icon after its load event: leaving for the other site at
    # once may cancel that request, which it reports as failed too.
    page.allowed = ["403", "Forbidden", *(f"request failed: {base_url}{path}"
                                          for path in ("/api/v1/forecast", "/predict",
                                                       "/static/favicon."))]
    page.goto(evil_site)
    page.wait_for_function("document.title !== 'waiting'", timeout=15_000)
    assert page.title() == "sent"
    # The requests did reach the app (no browser rule stopped them), and were refused.
    answered = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    for path in ("/api/v1/forecast", "/predict"):
        assert any(f"POST {path} HTTP/1.1" in line and " 403 " in line for line in answered), \
            answered
    assert _uploads(served_app) == before

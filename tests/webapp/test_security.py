"""Security headers on every answer, HSTS only over HTTPS, and bodies bounded by their kind."""

from __future__ import annotations

import io

import pytest

from Flask_webapp import security
from stockPredictor.data.sample import from_sample

FIXED = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
         "Referrer-Policy": "same-origin"}


@pytest.mark.parametrize("method, url, status", [
    ("GET", "/", 200),
    ("GET", "/prediction/IBM", 200),
    ("GET", "/api/v1/healthz", 200),
    ("GET", "/api/v1/openapi.json", 200),
    ("GET", "/no/such/page", 404),
    ("GET", "/api/v1/nothing-here", 404),
    ("GET", "/api/v1/forecast", 405),
    ("POST", "/api/v1/forecast", 422),
    ("GET", "/static/css/app.css", 200),
    ("GET", "/static/vendor/lightweight-charts/lightweight-charts.standalone.production.js", 200),
])
def test_every_answer_carries_the_security_headers(client, method, url, status):
    answer = client.open(url, method=method)
    assert answer.status_code == status
    for name, value in FIXED.items():
        assert answer.headers[name] == value, name
    assert answer.headers["Content-Security-Policy"] == security.CSP
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP


def test_the_policy_allows_no_inline_script():
    directives = dict(part.strip().split(" ", 1) for part in security.CSP.split(";"))
    assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'"
    assert "unsafe" not in security.CSP
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("url", ["/", "/api/v1/healthz", "/no/such/page"])
def test_hsts_only_when_the_router_says_https(client, url):
    secure = client.get(url, headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get(url).headers
    plain = client.get(url, headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers


def test_a_json_body_has_a_small_limit_but_an_upload_does_not(client):
    big_json = b'{"ticker": "IBM", "pad": "' + b"x" * security.MAX_SMALL_BODY + b'"}'
    answer = client.post("/api/v1/forecast", data=big_json, content_type="application/json")
    assert answer.status_code == 413 and "64 kB" in answer.json["message"]
    # A whole history of IBM is ~200 kB of CSV: far over the JSON limit, well under 5 MB.
    frame = from_sample("IBM")
    csv = "Date,Open,High,Low,Close,Adj Close,Volume\n" + "".join(
        f"{d:%Y-%m-%d},{r.open},{r.high},{r.low},{r.close},{r.close},{r.volume:.0f}\n"
        for d, r in zip(frame.index, frame.itertuples()))
    assert len(csv) > 2 * security.MAX_SMALL_BODY
    answer = client.post("/api/v1/forecast", data={"file": (io.BytesIO(csv.encode()), "IBM.csv"),
                                                   "horizon": "2"},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.data[:300]


def test_the_small_body_limit_is_a_setting(make_app):
    client = make_app(MAX_SMALL_BODY=100).test_client()
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "model": "x" * 100})
    assert answer.status_code == 413 and "limit of 100 bytes" in answer.json["message"]
    assert client.post("/api/v1/forecast", json={"ticker": "NOPE"}).status_code == 404

"""Hostile and odd requests: each gets its exact 4xx, naming the field, with no trace of the server.

One case per request; the API answers ``{"error", "message"}``, the pages a friendly page. None
answers 500, shows a traceback or a server path, or echoes more than an excerpt of its input.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from stockPredictor.settings import BUNDLED_MODELS

ROOT = Path(__file__).resolve().parents[2]
LONG = "A" * 10_000
YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def _json(body: bytes) -> dict:
    return {"method": "POST", "data": body, "content_type": "application/json"}


def _csv(text: str) -> dict:
    return {"method": "POST", "content_type": "multipart/form-data",
            "data": {"file": (io.BytesIO(text.encode()), "prices.csv")}}


def _parts(count: int) -> dict:
    return {"method": "POST", "content_type": "multipart/form-data",
            "data": {f"field{i}": "1" for i in range(count)}}


# (id, url, request options, status, error code, what the message must name)
API = [
    ("array body", "/api/v1/forecast", _json(b"[]"), 422, "invalid_input", "body"),
    ("string body", "/api/v1/forecast", _json(b'"x"'), 422, "invalid_input", "body"),
    ("null body", "/api/v1/forecast", _json(b"null"), 422, "invalid_input", "body"),
    ("number body", "/api/v1/forecast", _json(b"123"), 422, "invalid_input", "body"),
    ("true body", "/api/v1/forecast", _json(b"true"), 422, "invalid_input", "body"),
    ("deeply nested", "/api/v1/forecast", _json(b"[" * 20_000 + b"]" * 20_000), 400,
     "bad_request", "body"),
    ("deeply nested object", "/api/v1/forecast", _json(b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
     400, "bad_request", "body"),
    ("broken JSON", "/api/v1/forecast", _json(b'{"ticker": '), 400, "bad_request", "body"),
    ("JSON not UTF-8", "/api/v1/forecast", _json(b'{"ticker": "\xff\xfe"}'), 400,
     "bad_request", "body"),
    ("JSON over 64 kB", "/api/v1/forecast",
     _json(b'{"ticker": "IBM", "x": "' + b"a" * 100_000 + b'"}'), 413, "payload_too_large",
     "body"),
    ("10 kB ticker in JSON", "/api/v1/forecast", _json(b'{"ticker": "%s"}' % LONG.encode()),
     422, "invalid_input", "ticker"),
    ("fractional horizon", "/api/v1/forecast", _json(b'{"ticker": "IBM", "horizon": 4.5}'), 422,
     "invalid_input", "horizon"),
    ("infinite horizon", "/api/v1/forecast", _json(b'{"ticker": "IBM", "horizon": Infinity}'),
     422, "invalid_input", "horizon"),
    ("as_of in year 1", "/api/v1/forecast", _json(b'{"ticker": "IBM", "as_of": "0001-01-01"}'),
     422, "invalid_input", "as_of"),
    ("as_of in year 9999", "/api/v1/forecast",
     _json(b'{"ticker": "IBM", "as_of": "9999-12-31"}'), 422, "invalid_input", "as_of"),
    ("as_of on the first day", "/api/v1/forecast",
     _json(b'{"ticker": "IBM", "as_of": "2000-03-01"}'), 422, "invalid_input", "as_of"),
    ("text/plain body", "/api/v1/forecast",
     {"method": "POST", "data": b"ticker=IBM", "content_type": "text/plain"}, 415,
     "unsupported_media_type", "Content-Type"),
    ("XML body", "/api/v1/forecast",
     {"method": "POST", "data": b"<ticker>IBM</ticker>", "content_type": "application/xml"},
     415, "unsupported_media_type", "Content-Type"),
    ("too many form parts", "/api/v1/forecast", _parts(2_000), 413, "payload_too_large", "form"),
    ("a 1 MB form field", "/api/v1/forecast",
     {"method": "POST", "content_type": "multipart/form-data",
      "data": {"ticker": "A" * 1_000_000, "file": (io.BytesIO(b"x"), "")}}, 413,
     "payload_too_large", "form"),
    ("CSV with one row", "/api/v1/forecast", _csv(YAHOO + "2013-01-02,1,1,1,1,1,100\n"), 422,
     "invalid_input", "1 trading day"),
    ("CSV dated year 1", "/api/v1/forecast",
     _csv(YAHOO + "0001-01-01,1,1,1,1,1,100\n2013-01-02,1,1,1,1,1,100\n"), 422, "invalid_input",
     "row"),
    ("wrong method", "/api/v1/forecast", {"method": "GET"}, 405, "method_not_allowed", "GET"),
    ("history from year 1", "/api/v1/stocks/IBM/history?start=0001-01-01", {}, 422,
     "invalid_input", "start:"),
    ("history to year 9999", "/api/v1/stocks/IBM/history?end=9999-12-31", {}, 422,
     "invalid_input", "end:"),
    ("history before pandas' range", "/api/v1/stocks/IBM/history?start=1677-09-21", {}, 422,
     "invalid_input", "start:"),
    ("history start not UTF-8", "/api/v1/stocks/IBM/history?start=%ff%fe", {}, 422,
     "invalid_input", "start:"),
    ("dot-dot ticker", "/api/v1/stocks/..", {}, 404, "unknown_ticker", "Ticker '..'"),
    ("NUL in a ticker", "/api/v1/stocks/IBM%00", {}, 422, "invalid_input", "ticker:"),
    ("ticker not UTF-8", "/api/v1/stocks/%ff%fe", {}, 422, "invalid_input", "ticker:"),
    ("10 kB ticker in the path", f"/api/v1/stocks/{LONG}", {}, 422, "invalid_input", "ticker:"),
    ("10 kB ticker in history", f"/api/v1/stocks/{LONG}/history", {}, 422, "invalid_input",
     "ticker:"),
]

# (id, url, request options, status, text the page must show)
PAGES = [
    # The forecast page refuses with the form, the message beside the field at fault.
    ("fractional horizon", "/prediction/IBM?horizon=4.5", {}, 422, 'id="horizon-error"'),
    ("as_of in year 1", "/prediction/IBM?as_of=0001-01-01", {}, 422, 'id="as_of-error"'),
    ("as_of on the first day", "/prediction/IBM?as_of=2000-03-01", {}, 422, 'id="as_of-error"'),
    ("NUL ticker on the form", "/predict?ticker=%00", {}, 422, 'id="ticker-error"'),
    ("10 kB ticker on the form", f"/predict?ticker={LONG}", {}, 422, 'id="ticker-error"'),
    ("10 kB ticker searched", f"/?ticker={LONG}", {}, 422, "ticker:"),
    ("search not UTF-8", "/?ticker=%ff%fe", {}, 422, "ticker:"),
    ("10 kB ticker in the path", f"/prediction/{LONG}", {}, 422, "ticker:"),
    ("NUL in a ticker", "/prediction/IBM%00", {}, 422, "ticker:"),
    ("too many form parts", "/predict", _parts(2_000), 413, "form:"),
    ("a 1 MB form field", "/predict",
     {"method": "POST", "content_type": "multipart/form-data",
      "data": {"ticker": "A" * 1_000_000, "file": (io.BytesIO(b"x"), "")}}, 413, "form:"),
    ("a 1 MB plain form", "/predict",
     {"method": "POST", "data": {"ticker": "A" * 1_000_000}}, 413, "body:"),
    ("wrong method", "/prediction/IBM", {"method": "DELETE"}, 405, "DELETE"),
]


def _no_trace_of_the_server(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text
    assert str(ROOT) not in text and str(BUNDLED_MODELS) not in text
    assert "A" * 100 not in text  # at most an excerpt of any input


@pytest.mark.parametrize("url, options, status, code, named",
                         [case[1:] for case in API], ids=[case[0] for case in API])
def test_the_api_names_what_is_wrong(client, url, options, status, code, named):
    answer = client.open(url, **options)
    assert answer.status_code == status, answer.data[:300]
    body = answer.get_json()
    assert set(body) == {"error", "message"} and body["error"] == code
    assert named in body["message"], body["message"]
    _no_trace_of_the_server(answer.get_data(as_text=True))


@pytest.mark.parametrize("url, options, status, shows",
                         [case[1:] for case in PAGES], ids=[case[0] for case in PAGES])
def test_the_pages_name_what_is_wrong(client, url, options, status, shows):
    answer = client.open(url, **options)
    assert answer.status_code == status, answer.data[:300]
    html = answer.get_data(as_text=True)
    assert answer.mimetype == "text/html" and 'role="alert"' in html
    assert shows in html
    _no_trace_of_the_server(html)


@pytest.mark.parametrize("url, method", [("/api/v1/forecast", "GET"),
                                         ("/api/v1/healthz", "POST"),
                                         ("/prediction/IBM", "DELETE")])
def test_a_wrong_method_says_which_are_allowed(client, url, method):
    answer = client.open(url, method=method)
    assert answer.status_code == 405
    allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert allowed and method not in allowed
    assert all(m in answer.get_data(as_text=True) for m in allowed - {"HEAD", "OPTIONS"})

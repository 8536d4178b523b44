"""Cross-site writes are refused (issue 20): the form's CSRF token, the API's Origin check.

A page on another site can make a visitor's browser post a file to /predict or to the API. Here
a plain FlaskClient sends what such a browser would; the conftest's FormClient is not used.
"""

from __future__ import annotations

import io
import re
from html import unescape

import itsdangerous.timed
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from Flask_webapp import api_examples
from stockPredictor.errors import SettingError
from stockPredictor.settings import Settings
from stockPredictor.store.models import Upload

EVIL = "https://evil.example"
EXPIRED = "This form expired; check the values and send it again."
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(app) -> FlaskClient:
    # What a browser holds: cookies, and no token unless it read the form.
    return FlaskClient(app, app.response_class, use_cookies=True)


def _uploads(app) -> int:
    with Session(app.extensions["database"].engine) as session:
        return session.scalar(select(func.count()).select_from(Upload))


@pytest.fixture
def prices(ibm_csv) -> bytes:
    """A CSV of 400 days of prices, as a person uploads it."""
    return ibm_csv.read_bytes()


def _form(content: bytes, **fields) -> dict:
    return {"horizon": "4", "level": "0.95", "file": (io.BytesIO(content), "MYCO.csv"),
            **fields}


def _token(client, base_url: str = "http://localhost") -> str:
    page = client.get("/predict", base_url=base_url)
    assert page.status_code == 200
    return TOKEN.search(page.get_data(as_text=True))[1]


def test_a_cross_site_form_post_without_the_token_stores_nothing(app, prices):
    # Another site's form: SameSite=Lax keeps the session cookie away, so no token either.
    client = _client(app)
    answer = client.post("/predict", data=_form(prices, ticker="MYCO", as_of="2013-01-25"),
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert EXPIRED in html and 'id="form-notice"' in html and 'role="alert"' in html
    # Every value kept, the file named so it can be chosen again, and a fresh token to send.
    assert 'value="MYCO"' in html and 'value="4"' in html and 'value="2013-01-25"' in html
    assert '<option value="0.95" selected>' in html and "MYCO.csv" in html
    assert TOKEN.search(html)
    assert _uploads(app) == 0


def test_a_form_post_with_a_wrong_token_stores_nothing(app, prices):
    client = _client(app)
    _token(client)
    answer = client.post("/predict", data=_form(prices, csrf_token="forged"),
                         content_type="multipart/form-data")
    assert answer.status_code == 400 and EXPIRED in answer.get_data(as_text=True)
    assert _uploads(app) == 0


@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Origin": "null"}, {"Origin": "http://localhost.evil"}],
                         ids=["origin", "fetch-site", "null-origin", "lookalike"])
def test_a_cross_site_form_post_is_refused_even_with_a_token(app, prices, headers):
    client = _client(app)
    token = _token(client)
    answer = client.post("/predict", data=_form(prices, csrf_token=token), headers=headers,
                         content_type="multipart/form-data")
    assert answer.status_code == 403
    html = answer.get_data(as_text=True)
    assert answer.mimetype == "text/html" and "own pages" in html
    assert _uploads(app) == 0


def test_the_form_with_its_token_works_from_its_own_page(app, prices):
    client = _client(app)
    token = _token(client)
    answer = client.post("/predict", data=_form(prices, csrf_token=token),
                         headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
                         content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    assert re.fullmatch(r"/prediction/upload/\d+\?horizon=4&level=0.95",
                        answer.headers["Location"])
    assert _uploads(app) == 1


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app):
    for scheme, secure in (("http", False), ("https", True)):
        answer = _client(app).get("/predict", base_url=f"{scheme}://localhost")
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("; Secure" in cookie) is secure, cookie


def test_over_https_the_form_needs_its_own_page_as_referer(app):
    client, base = _client(app), "https://localhost"
    token = _token(client, base)
    fields = {"ticker": "IBM", "horizon": "3", "csrf_token": token}
    answer = client.post("/predict", data=fields, base_url=base)
    assert answer.status_code == 400 and "Referer" in answer.get_data(as_text=True)
    answer = client.post("/predict", data=fields, base_url=base,
                         headers={"Referer": "https://evil.example/predict"})
    assert answer.status_code == 400
    answer = client.post("/predict", data=fields, base_url=base,
                         headers={"Referer": "https://localhost/predict"})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/prediction/IBM")


def test_an_expired_token_brings_the_form_back_as_typed(app, monkeypatch):
    client = _client(app)
    token = _token(client)
    # Two hours on: past WTF_CSRF_TIME_LIMIT's hour (the session itself lasts far longer).
    later = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: later(self) + 7200)
    answer = client.post("/predict", data={"ticker": "MSFT", "horizon": "7", "level": "0.8",
                                           "csrf_token": token})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert EXPIRED in html and 'value="MSFT"' in html and 'value="7"' in html
    assert '<option value="0.8" selected>' in html
    fresh = TOKEN.search(html)[1]
    assert fresh != token
    answer = client.post("/predict", data={"ticker": "MSFT", "horizon": "7", "csrf_token": fresh})
    assert answer.status_code == 303


def test_a_cross_site_api_upload_is_refused_with_json(app, prices):
    client = _client(app)
    answer = client.post("/api/v1/forecast", data=_form(prices), headers={"Origin": EVIL},
                         content_type="multipart/form-data")
    assert answer.status_code == 403
    body = answer.get_json()
    assert set(body) == {"error", "message"} and body["error"] == "cross_site"
    assert "'https://evil.example'" in body["message"]
    assert "API_ALLOWED_ORIGINS" in body["message"]
    assert body == api_examples.ERRORS[403]  # the OpenAPI document's example is the real one
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert _uploads(app) == 0


def test_a_long_origin_is_quoted_in_part(app):
    answer = _client(app).post("/api/v1/forecast", json={"ticker": "IBM"},
                               headers={"Origin": "https://" + "a" * 5000 + ".example"})
    assert answer.status_code == 403 and "a" * 100 not in answer.get_json()["message"]


def test_a_curl_upload_with_no_origin_works(app, prices):
    client = _client(app)
    answer = client.post("/api/v1/forecast", data=_form(prices),
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["url"].startswith("/prediction/upload/")
    assert _uploads(app) == 1


@pytest.mark.parametrize("headers, status", [
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, 403),
    ({"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, 403),
    ({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, 200),
    ({"Sec-Fetch-Site": "none"}, 200),
    ({"Origin": "http://localhost:80"}, 200),  # the default port, written out
    ({"Origin": "https://localhost"}, 403),  # another scheme is another origin
    ({"Origin": "http://api.localhost"}, 403),  # another subdomain
    ({"Sec-Fetch-Site": "same-origin", "Origin": EVIL}, 403),
], ids=["cross-site", "same-site", "same-origin", "none", "port", "scheme", "subdomain",
        "origin-wins"])
def test_sec_fetch_site_and_origin_decide_an_api_post(app, headers, status):
    answer = _client(app).post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2},
                               headers=headers)
    assert answer.status_code == status, answer.get_json()


@pytest.mark.parametrize("headers, status", [
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
     403),
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Origin": EVIL}, 403),
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
     403),
    # A link to the API followed from another site: a person reading JSON in the address bar.
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
     200),
    ({}, 200),
], ids=["image", "fetch", "iframe", "link", "curl"])
def test_cross_site_api_gets_are_refused_but_links_are_followed(app, headers, status):
    answer = _client(app).get("/api/v1/forecast/IBM?horizon=2", headers=headers)
    assert answer.status_code == status


def test_page_gets_stay_open_across_sites(app):
    # People share forecast links: another site's link or embed still gets the page.
    answer = _client(app).get("/prediction/IBM?horizon=2", headers={
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": EVIL})
    assert answer.status_code == 200


def test_the_setting_opens_the_api_to_the_sites_it_lists(make_app, prices):
    app = make_app(API_ALLOWED_ORIGINS="https://partner.example, http://127.0.0.1:8080")
    client = _client(app)
    answer = client.post("/api/v1/forecast", data=_form(prices),
                         headers={"Origin": "https://PARTNER.example"},
                         content_type="multipart/form-data")
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    assert "Origin" in answer.headers["Vary"]
    assert client.get("/api/v1/models", headers={"Origin": "http://127.0.0.1:8080"}
                      ).status_code == 200
    assert client.post("/api/v1/forecast", json={"ticker": "IBM"},
                       headers={"Origin": EVIL}).status_code == 403
    # A page of a listed site sends JSON after a preflight, which is answered too.
    answer = client.options("/api/v1/forecast", headers={
        "Origin": "https://partner.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 200
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    # The forms are never opened: the setting is about the API.
    token = _token(client)
    answer = client.post("/predict", data={"ticker": "IBM", "csrf_token": token},
                         headers={"Origin": "https://partner.example"})
    assert answer.status_code == 403


def test_a_star_opens_the_api_to_every_site(make_app):
    client = _client(make_app(API_ALLOWED_ORIGINS="*"))
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2},
                         headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    answer = client.get("/api/v1/models", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200


@pytest.mark.parametrize("value, expected", [
    ("", ()), ("*", ("*",)), (" https://A.example/ ", ("https://a.example",)),
    ("https://a.example:443,http://b.example:8080", ("https://a.example",
                                                     "http://b.example:8080")),
])
def test_api_allowed_origins_is_read_as_origins(value, expected):
    assert Settings.read({"API_ALLOWED_ORIGINS": value}).api_allowed_origins == expected


@pytest.mark.parametrize("value", ["evil.example", "https://a.example/path", "ftp://a.example",
                                   "*, https://a.example", "https://a.example:99999"])
def test_an_origin_that_cannot_be_used_stops_the_app(value):
    with pytest.raises(SettingError, match="API_ALLOWED_ORIGINS"):
        Settings.read({"API_ALLOWED_ORIGINS": value})


def test_the_openapi_document_lists_the_403(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method in set(operations) & {"get", "post"}:
            assert "403" in operations[method]["responses"], f"{method} {path}"
    refused = document["paths"]["/api/v1/forecast"]["post"]["responses"]["403"]
    assert "API_ALLOWED_ORIGINS" in unescape(str(refused))


def test_an_expired_token_brings_the_training_form_back_as_typed(app, monkeypatch):
    client = _client(app)
    token = _token(client)
    later = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: later(self) + 7200)
    answer = client.post("/train", data={"ticker": "MSFT", "window": "42", "epochs": "3",
                                         "training_token": "secret-typed", "csrf_token": token})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert EXPIRED in html and 'value="MSFT"' in html and 'value="42"' in html
    assert "secret-typed" not in html  # a secret is never echoed back
    assert TOKEN.search(html)[1] != token

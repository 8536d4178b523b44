"""The API docs page, and the examples in the OpenAPI document: valid, complete and true."""

from __future__ import annotations

import hashlib
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

from Flask_webapp import api_examples as ex
from Flask_webapp import schemas, security

VENDOR = Path(__file__).resolve().parents[2] / "Flask_webapp" / "static" / "vendor"
OPERATIONS = {("/api/v1/healthz", "get"), ("/api/v1/models", "get"),
              ("/api/v1/stocks/{ticker}", "get"), ("/api/v1/stocks/{ticker}/history", "get"),
              ("/api/v1/forecast", "post"), ("/api/v1/forecast/{ticker}", "get"),
              ("/api/v1/forecasts", "get"), ("/api/v1/jobs", "post"),
              ("/api/v1/jobs/{token}", "get"), ("/api/v1/jobs/{token}/cancel", "post"),
              ("/api/v1/jobs/{token}/model", "delete"), ("/api/v1/watchlists", "post"),
              ("/api/v1/watchlists/{token}", "get"), ("/api/v1/watchlists/{token}", "put"),
              ("/api/v1/watchlists/{token}", "delete"), ("/api/v1/watchlists/{token}/rows", "get"),
              ("/api/v1/watchlists/{token}/refresh", "post")}
# What changes from one run to the next in an otherwise identical answer.
VOLATILE = {"fetched_at", "age_days", "created_at"}


class Links(HTMLParser):
    """Every URL a page names in src or href, and the scripts and stylesheets it loads."""

    def __init__(self, html: str):
        super().__init__()
        self.urls, self.scripts, self.styles, self.inline_scripts = [], [], [], 0
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] for name in ("src", "href") if attrs.get(name)]
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.scripts.append(attrs["src"])
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.styles.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_the_header_links_to_the_docs_page(client):
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/api/v1/docs">API</a>', html)


def test_the_docs_page_loads_only_this_apps_files(client):
    answer = client.get("/api/v1/docs")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    # The site's policy, not a looser one for this page.
    assert answer.headers["Content-Security-Policy"] == security.CSP
    page = Links(answer.get_data(as_text=True))
    assert page.inline_scripts == 0
    # Under content-hashed names (Flask_webapp/assets.py): Swagger UI's folder, our own files.
    hashed = re.compile(r"\.[0-9a-f]{12}(?=[./])")
    assert [hashed.sub("", url) for url in page.scripts] == [
        "/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/js/api_docs.js"]
    assert {"/static/vendor/swagger-ui/swagger-ui.css", "/static/css/api_docs.css"} <= {
        hashed.sub("", url) for url in page.styles}
    assert all(url.startswith("/static/") for url in page.scripts + page.styles)
    # No link or resource on another host: every URL is a path on this one (or a fragment).
    assert [url for url in page.urls if urlsplit(url).scheme or urlsplit(url).netloc] == []
    for url in page.scripts + page.styles:
        assert client.get(url).status_code == 200, url


def test_the_vendored_files_match_their_record():
    record = (VENDOR / "README.md").read_text()
    sums = dict((name, digest) for digest, name in re.findall(
        r"^([0-9a-f]{64})  Flask_webapp/static/vendor/(swagger-ui/\S+)$", record, re.M))
    assert set(sums) == {f"swagger-ui/{name}" for name in (
        "swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css", "LICENSE",
        "NOTICE")}
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (VENDOR / "swagger-ui" / "LICENSE").read_text()


def test_the_openapi_document_is_valid_openapi_3_0(spec):
    assert spec["openapi"].startswith("3.0")
    OPENAPI_30_VALIDATOR.validate(spec)


def test_every_operation_has_an_example_request_and_answers(spec):
    assert {(path, method) for path, method, _ in _operations(spec)} == OPERATIONS
    for path, method, operation in _operations(spec):
        assert "Example request:" in operation["description"], path
        for parameter in operation.get("parameters", []):
            assert "example" in parameter["schema"], (path, parameter["name"])
        for media in operation.get("requestBody", {}).get("content", {}).values():
            assert "example" in media or "examples" in media, path
        documented = {status: answer for status, answer in operation["responses"].items()
                      if status != "default"}
        # A job is accepted, not done; a deleted list answers with no body.
        assert {"200", "201", "202", "204"} & set(documented)
        for status, answer in documented.items():
            for media in answer.get("content", {}).values():
                assert "example" in media or "examples" in media, (path, status)


def _examples(media: dict) -> list:
    if "example" in media:
        return [media["example"]]
    return [example["value"] for example in media["examples"].values()]


def _json_schema(node, components: dict):
    """An OpenAPI 3.0 schema as JSON Schema: references inlined, nullable a choice of null."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    inner = {key: _json_schema(value, components) for key, value in node.items()
             if key not in ("nullable", "example")}
    return {"anyOf": [{"type": "null"}, inner]} if node.get("nullable") else inner


def test_every_example_is_valid_in_the_document_and_in_its_schema(spec):
    """Each example against the document's own schema, and exactly against the marshmallow one."""
    checked = 0
    for path, method, operation in _operations(spec):
        medias = [(f"{path} request {kind}", media) for kind, media in operation.get(
            "requestBody", {}).get("content", {}).items()]
        medias += [(f"{path} {status}", answer["content"]["application/json"])
                   for status, answer in operation["responses"].items()
                   if status != "default" and "content" in answer]
        for where, media in medias:
            name = media["schema"]["$ref"].rsplit("/", 1)[1]
            for example in _examples(media):
                validator = jsonschema_rs.Draft4Validator(
                    _json_schema(media["schema"], spec["components"]["schemas"]))
                errors = [error.message for error in validator.iter_errors(example)]
                assert errors == [], (where, errors)
                # marshmallow refuses fields it does not know, and names missing required ones.
                assert getattr(schemas, name)().validate(example) == {}, where
                checked += 1
    assert checked >= 20


def _steady(value):
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-6)
    return value


def _after_forecast(client, path: str):
    # The ledger records off the hot path: flush its writer before reading it.
    assert client.post("/api/v1/forecast", json=ex.FORECAST_REQUEST).status_code == 200
    client.application.extensions["ledger"].flush()
    return client.get(path)


def _upload(client, request: dict):
    form = {**{k: str(v) for k, v in request.items() if k != "file"},
            "file": (io.BytesIO(request["file"].encode()), "IBM.csv")}
    return client.post("/api/v1/forecast", data=form, content_type="multipart/form-data")


@pytest.mark.parametrize("call, status, example", [
    (lambda c: c.get("/api/v1/healthz"), 200, ex.HEALTH),
    (lambda c: c.get("/api/v1/models"), 200, ex.MODELS),
    (lambda c: c.get("/api/v1/stocks/IBM"), 200, ex.STOCK),
    (lambda c: c.get(ex.HISTORY_PATH), 200, ex.HISTORY),
    (lambda c: c.post("/api/v1/forecast", json=ex.FORECAST_REQUEST), 200, ex.FORECAST),
    (lambda c: c.post("/api/v1/forecast", json=ex.PAST_REQUEST), 200, ex.PAST_FORECAST),
    (lambda c: _upload(c, ex.UPLOAD_REQUEST), 200, ex.UPLOAD_FORECAST),
    (lambda c: c.get(ex.FORECAST_GET_PATH), 200, ex.FORECAST_GET_ANSWERS["latest"]["value"]),
    (lambda c: c.get(ex.PAST_GET_PATH), 200, ex.FORECAST_GET_ANSWERS["past"]["value"]),
    (lambda c: c.post("/api/v1/forecast", data="{", content_type="application/json"), 400,
     ex.ERRORS[400]),
    (lambda c: c.get("/api/v1/stocks/XYZ"), 404, ex.ERRORS[404]),
    (lambda c: c.post("/api/v1/forecast", data={"file": (io.BytesIO(b"0" * 5_000_001), "x.csv")},
                      content_type="multipart/form-data"), 413, ex.ERRORS[413]),
    (lambda c: c.post("/api/v1/forecast", data="x", content_type="text/plain"), 415,
     ex.ERRORS[415]),
    (lambda c: c.get("/api/v1/stocks/IBM!"), 422, ex.ERRORS[422]),
    (lambda c: c.get(ex.LEDGER_PATH), 200, ex.LEDGER_EMPTY),
    # The sample's forecast is a replay: recomputed on demand, never recorded.
    (lambda c: _after_forecast(c, ex.LEDGER_PATH), 200, ex.LEDGER_EMPTY),
], ids=["healthz", "models", "stock", "history", "forecast", "past", "upload", "get",
        "get-past", "400", "404",
        "413", "415", "422", "ledger-empty", "ledger-after-a-replay"])
def test_each_example_is_what_the_app_answers(client, call, status, example):
    """If this fails after a change to an answer, bring Flask_webapp/api_examples.py up to date."""
    answer = call(client)
    assert answer.status_code == status
    body = answer.get_json()
    record = body.get("track_record") if isinstance(body, dict) else None
    if record and record.get("past"):  # the example shows the first past forecasts only
        assert len(record["past"]) == record["origins"]
        record["past"] = record["past"][:len(example["track_record"]["past"])]
    assert _steady(body) == _steady(example)


def test_the_ledger_example_is_what_the_app_answers_after_a_live_forecast(
        make_app, fake_yahoo, tmp_path):
    from tests.webapp.test_ledger_api import _live_app

    client = _live_app(make_app, fake_yahoo, tmp_path).test_client()
    answer = _after_forecast(client, ex.LEDGER_PATH)
    assert answer.status_code == 200
    assert _steady(answer.get_json()) == _steady(ex.LEDGER)


def test_the_unavailable_examples_are_what_the_app_answers(make_app, fake_yahoo, tmp_path):
    from yfinance.exceptions import YFRateLimitError

    empty = tmp_path / "no-models"
    empty.mkdir()
    answer = make_app(MODELS_DIR=str(empty)).test_client().get("/api/v1/healthz")
    assert answer.status_code == 503 and answer.get_json() == ex.HEALTH_UNAVAILABLE
    fake_yahoo(YFRateLimitError())
    client = make_app(PRICE_SOURCE="yahoo").test_client()
    answer = client.post("/api/v1/forecast", json={"ticker": "TSLA"})
    assert answer.status_code == 503 and answer.get_json() == ex.ERRORS[503]


def test_the_ledger_unavailable_example_is_what_the_app_answers(make_app):
    from tests.servers import free_port

    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    answer = make_app(DATABASE_URL=url).test_client().get(ex.LEDGER_PATH)
    assert answer.status_code == 503 and answer.get_json() == ex.LEDGER_UNAVAILABLE

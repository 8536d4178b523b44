"""GET /api/v1/forecast/{ticker}: the POST's answer with the options in the query, and examples
in the OpenAPI document that name the server the document was fetched from."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from Flask_webapp import schemas

# What changes from one answer to the next in an otherwise identical one.
VOLATILE = {"fetched_at", "age_days"}
OPTIONS = [
    {},
    {"horizon": 7},
    {"horizon": 3, "as_of": "2012-06-01", "level": 0.95},
    {"horizon": 5, "as_of": "2012-10-15", "level": 0.5, "model": "general"},
    {"horizon": 30, "model": "ibm"},
]
OTHER_HOST = "http://example.test:8123"


def _steady(value):
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def _get(client, ticker: str, options: dict):
    return client.get(f"/api/v1/forecast/{ticker}?{urlencode(options)}")


@pytest.mark.parametrize("options", OPTIONS, ids=["defaults", "horizon", "past-95", "general-50",
                                                  "ibm-30"])
def test_the_get_answers_what_the_post_answers(client, options):
    got = _get(client, "IBM", options)
    posted = client.post("/api/v1/forecast", json={"ticker": "IBM", **options})
    assert got.status_code == posted.status_code == 200, got.get_json()
    body = got.get_json()
    assert schemas.ForecastResult().validate(body) == {}
    assert _steady(body) == _steady(posted.get_json())
    # The options were read, not defaulted: the answer says what was asked for.
    assert body["horizon"] == options.get("horizon", 4) == len(body["forecast"])
    assert body["as_of"] == options.get("as_of", "2013-03-01")
    assert body["level"] == options.get("level", 0.8)
    if "model" in options:
        assert body["model"] == options["model"]


def test_a_lower_case_ticker_is_the_upper_case_one(client):
    assert _get(client, "msft", {"horizon": 2}).get_json()["ticker"] == "MSFT"


@pytest.mark.parametrize("query, named", [
    ({"horizon": 0}, "horizon"), ({"horizon": 31}, "horizon"), ({"horizon": "four"}, "horizon"),
    ({"horizon": 2.5}, "horizon"), ({"as_of": "2999-01-01"}, "as_of"),
    ({"as_of": "01/02/2013"}, "as_of"), ({"level": 0.7}, "level"),
    ({"model": "../general"}, "model"),
])
def test_a_bad_option_is_422_naming_it_as_the_post_does(client, query, named):
    got = _get(client, "IBM", query)
    posted = client.post("/api/v1/forecast", json={"ticker": "IBM", **query})
    assert got.status_code == 422, got.get_json()
    assert schemas.Error().validate(got.get_json()) == {}
    assert got.get_json()["message"].startswith(f"{named}: ")
    assert posted.status_code == 422 and posted.get_json()["message"].startswith(f"{named}: ")


def test_a_bad_ticker_is_422_naming_the_ticker(client):
    answer = client.get("/api/v1/forecast/IBM!")
    assert answer.status_code == 422
    assert answer.get_json()["message"].startswith("ticker: 'IBM!'")


@pytest.mark.parametrize("path, code, named", [
    ("/api/v1/forecast/NOPE", "unknown_ticker", "NOPE"),
    ("/api/v1/forecast/IBM?model=nope", "unknown_model", "nope")])
def test_an_unknown_ticker_or_model_is_404_as_for_the_post(client, path, code, named):
    answer = client.get(path)
    assert answer.status_code == 404 and answer.get_json()["error"] == code
    assert named in answer.get_json()["message"]
    ticker = "NOPE" if named == "NOPE" else "IBM"
    posted = client.post("/api/v1/forecast", json={"ticker": ticker, **(
        {"model": "nope"} if named == "nope" else {})})
    assert posted.get_json() == answer.get_json()


def test_an_as_of_before_the_data_is_refused_as_for_the_post(client):
    answer = _get(client, "FB", {"as_of": "2001-01-02"})
    assert answer.status_code == 422 and "2001-01-02" in answer.get_json()["message"]
    posted = client.post("/api/v1/forecast", json={"ticker": "FB", "as_of": "2001-01-02"})
    assert posted.get_json() == answer.get_json()


def test_the_openapi_document_lists_the_get_beside_the_post_with_its_parameters(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = list(spec["paths"])
    assert paths.index("/api/v1/forecast/{ticker}") == paths.index("/api/v1/forecast") + 1
    operation = spec["paths"]["/api/v1/forecast/{ticker}"]["get"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert set(parameters) == {("path", "ticker"), ("query", "horizon"), ("query", "as_of"),
                               ("query", "level"), ("query", "model")}
    assert parameters[("path", "ticker")]["required"] is True
    assert parameters[("query", "horizon")]["schema"]["maximum"] == 30
    assert parameters[("query", "level")]["schema"]["enum"][:3] == [0.5, 0.8, 0.95]
    assert {"200", "404", "422", "503"} <= set(operation["responses"])
    answer = operation["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/ForecastResult")
    assert "/api/v1/forecast/IBM?horizon=2" in operation["description"]
    assert "POST /api/v1/forecast" in operation["description"]


def _curl_urls(spec: dict) -> list[str]:
    # A path's item may also hold "parameters" (a list) beside its operations.
    return [url for item in spec["paths"].values() for operation in item.values()
            if isinstance(operation, dict)
            for url in re.findall(r"curl [^\n]*'(https?://[^']+)'", operation["description"])]


def test_the_docs_examples_name_the_server_they_were_fetched_from(client):
    spec = client.get("/api/v1/openapi.json", base_url=OTHER_HOST).get_json()
    assert spec["servers"] == [{"url": OTHER_HOST}]
    urls = _curl_urls(spec)
    # One curl line per operation at least, and two for each forecast operation.
    assert len(urls) >= len(spec["paths"]) + 2
    assert all(url.startswith(f"{OTHER_HOST}/api/v1/") for url in urls), urls
    assert "127.0.0.1" not in str(spec)


def test_behind_the_proxy_the_examples_name_https(client):
    # Heroku's router ends TLS and says so in X-Forwarded-Proto; the Host header is the public one.
    spec = client.get("/api/v1/openapi.json", base_url="http://stock.example.com",
                      headers={"X-Forwarded-Proto": "https"}).get_json()
    assert spec["servers"] == [{"url": "https://stock.example.com"}]
    assert all(url.startswith("https://stock.example.com/api/v1/") for url in _curl_urls(spec))


def test_each_fetch_names_its_own_server(client):
    # The document is built per request: one host's fetch leaves nothing in the next one's.
    first = client.get("/api/v1/openapi.json", base_url=OTHER_HOST).get_json()
    second = client.get("/api/v1/openapi.json", base_url="http://other.test").get_json()
    assert first["servers"] != second["servers"]
    assert not [url for url in _curl_urls(second) if "example.test" in url]

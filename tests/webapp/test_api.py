"""The JSON API: every answer matches its documented schema, every mistake gets a named 4xx."""

from __future__ import annotations

import io
import json

import pytest
from marshmallow import Schema

from Flask_webapp import schemas
from stockPredictor.data.sample import SAMPLE_TICKERS, from_sample
from stockPredictor.settings import BUNDLED_MODELS
from tests.fakes import history_frame
from tests.webapp.conftest import POLICY_WEIGHTS


def conforms(payload: dict, schema: type[Schema]) -> dict:
    """``payload`` if the documented schema accepts it exactly (no missing or extra field)."""
    problems = schema().validate(payload)
    assert problems == {}, problems
    return payload


def error_of(answer, status: int) -> str:
    assert answer.status_code == status, answer.data
    body = conforms(answer.get_json(), schemas.Error)
    return body["message"]


def test_healthz_lists_the_models(client):
    body = conforms(client.get("/api/v1/healthz").get_json(), schemas.Health)
    assert body["status"] == "ok" and body["models"] == ["general", "ibm"]
    assert client.get("/healthz").get_json() == body


def test_models_say_what_they_were_trained_on(client):
    body = conforms(client.get("/api/v1/models").get_json(), schemas.ModelList)
    by_name = {m["name"]: m for m in body["models"]}
    assert by_name["ibm"]["scope"] == "ticker" and by_name["ibm"]["tickers"] == ["IBM"]
    assert set(by_name["general"]["tickers"]) == set(SAMPLE_TICKERS)
    # The raw network's held-out figures from training, named as such (not the served ones).
    assert len(by_name["general"]["network_test_mae_vs_naive"]) == 30
    assert "test_mae_vs_naive" not in by_name["general"]
    # Weights saw training and validation data only; the test split after it was held out.
    ibm = by_name["ibm"]
    meta = json.loads((BUNDLED_MODELS / "ibm" / "model.json").read_text())
    assert ibm["trained_to"] == meta["data"]["IBM"]["val_end"] < ibm["data_to"]
    assert ibm["data_to"] == meta["data"]["IBM"]["test_end"]


def test_stock_info_matches_the_prices(client):
    body = conforms(client.get("/api/v1/stocks/ibm").get_json(), schemas.StockInfo)
    frame = from_sample("IBM")
    assert body["ticker"] == "IBM" and body["source"] == "sample"
    assert body["last_date"] == "2013-03-01" and body["first_date"] == "2000-03-01"
    assert body["last_close"] == pytest.approx(frame["close"].iloc[-1], abs=1e-4)
    assert body["change"] == pytest.approx(frame["close"].iloc[-1] - frame["close"].iloc[-2],
                                           abs=1e-3)
    assert body["notice"] and "sample" in body["notice"]


def test_history_honours_its_range(client):
    body = conforms(client.get("/api/v1/stocks/IBM/history?start=2013-02-01&end=2013-02-08")
                    .get_json(), schemas.History)
    assert [row["date"] for row in body["prices"]] == [
        "2013-02-01", "2013-02-04", "2013-02-05", "2013-02-06", "2013-02-07"]
    whole = client.get("/api/v1/stocks/IBM/history").get_json()["prices"]
    assert len(whole) == len(from_sample("IBM"))


@pytest.mark.parametrize("query, named", [("start=2013-02-08&end=2013-02-01", "end"),
                                          ("start=yesterday", "start")])
def test_history_rejects_a_bad_range_by_name(client, query, named):
    message = error_of(client.get(f"/api/v1/stocks/IBM/history?{query}"), 422)
    assert message.startswith(f"{named}:")


def test_forecast_of_a_ticker(client):
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 4})
    body = conforms(answer.get_json(), schemas.ForecastResult)
    assert body["model"] == "ibm"  # IBM's own model is preferred to the general one
    assert body["as_of"] == "2013-03-01" and body["actual"] is None
    assert [row["date"] for row in body["forecast"]] == [
        "2013-03-04", "2013-03-05", "2013-03-06", "2013-03-07"]


def test_forecast_as_of_a_past_date_carries_the_actual_prices(client):
    body = client.post("/api/v1/forecast", json={"ticker": "MSFT", "horizon": 5,
                                                 "as_of": "2012-06-01", "model": "general"}
                       ).get_json()
    conforms(body, schemas.ForecastResult)
    assert body["model"] == "general" and body["as_of"] == "2012-06-01"
    closes = from_sample("MSFT")["close"]
    dates = [row["date"] for row in body["forecast"]]
    assert [row["date"] for row in body["actual"]] == dates
    assert [row["close"] for row in body["actual"]] == pytest.approx(
        closes.loc[dates].round(4).tolist())


def test_forecast_of_an_uploaded_csv(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/api/v1/forecast", data={"file": (handle, "MYCO.csv"),
                                                       "horizon": "3"},
                             content_type="multipart/form-data")
    body = conforms(answer.get_json(), schemas.ForecastResult)
    assert body["source"] == "csv" and body["model"] == "general"
    assert len(body["forecast"]) == 3
    assert body["last_close"] == pytest.approx(from_sample("IBM")["close"].iloc[-1],
                                               abs=1e-3)


@pytest.mark.parametrize("payload, named", [
    ({"ticker": "IBM", "horizon": 0}, "horizon"),
    ({"ticker": "IBM", "horizon": 31}, "horizon"),
    ({"ticker": "IBM", "horizon": "four"}, "horizon"),
    ({"ticker": "IBM", "as_of": "2999-01-01"}, "as_of"),
    ({"ticker": "IBM", "as_of": "01/02/2013"}, "as_of"),
    ({"ticker": "../../etc/passwd"}, "ticker"),
    ({"ticker": "IBM", "model": "../general"}, "model"),
    ({}, "ticker"),
])
def test_forecast_names_the_bad_field(client, payload, named):
    message = error_of(client.post("/api/v1/forecast", json=payload), 422)
    assert message.startswith(f"{named}:")


def test_forecast_with_an_as_of_before_the_data_is_refused(client):
    message = error_of(client.post("/api/v1/forecast", json={"ticker": "FB",
                                                             "as_of": "2001-01-02"}), 422)
    assert "2001-01-02" in message


@pytest.mark.parametrize("payload, code", [({"ticker": "NOPE"}, "unknown_ticker"),
                                           ({"ticker": "IBM", "model": "nope"}, "unknown_model")])
def test_unknown_ticker_or_model_is_404(client, payload, code):
    answer = client.post("/api/v1/forecast", json=payload)
    assert answer.status_code == 404 and answer.get_json()["error"] == code
    assert "NOPE" in answer.get_json()["message"] or "nope" in answer.get_json()["message"]


def test_a_file_that_is_not_prices_is_named(client):
    data = {"file": (io.BytesIO(b"name,colour\nsky,blue\n"), "colours.csv")}
    message = error_of(client.post("/api/v1/forecast", data=data,
                                   content_type="multipart/form-data"), 422)
    assert "Date" in message  # says which columns were expected


def test_an_oversized_upload_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    data = {"file": (io.BytesIO(b"Date,Close\n" + b"2013-01-02,1\n" * 200), "big.csv")}
    message = error_of(client.post("/api/v1/forecast", data=data,
                                   content_type="multipart/form-data"), 413)
    assert "limit" in message


def test_yahoo_down_with_nothing_cached_is_503(make_app, fake_yahoo):
    from yfinance.exceptions import YFRateLimitError
    fake_yahoo(YFRateLimitError())
    client = make_app(PRICE_SOURCE="yahoo").test_client()
    message = error_of(client.post("/api/v1/forecast", json={"ticker": "TSLA"}), 503)
    assert "rate limiting" in message


def test_yahoo_prices_are_served_and_named(make_app, fake_yahoo):
    days = from_sample("IBM").index[-300:]
    calls = fake_yahoo(history_frame(days))
    client = make_app(PRICE_SOURCE="yahoo").test_client()
    card = conforms(client.get("/api/v1/stocks/TSLA").get_json(), schemas.StockInfo)
    assert card["source"] == "yahoo" and card["name"] == "TSLA Inc."
    body = client.post("/api/v1/forecast", json={"ticker": "TSLA"}).get_json()
    assert body["model"] == "general" and body["source"] == "yahoo"
    assert len(calls) == 1  # the second request was served from the price cache


def test_wrong_method_and_unknown_path_are_json(client):
    assert error_of(client.get("/api/v1/forecast"), 405)
    assert error_of(client.get("/api/v1/nothing-here"), 404)


def test_openapi_document_is_generated_from_the_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {"/api/v1/healthz", "/api/v1/models", "/api/v1/stocks/{ticker}",
                                  "/api/v1/stocks/{ticker}/history", "/api/v1/forecast"}
    body = spec["paths"]["/api/v1/forecast"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    request = spec["components"]["schemas"]["ForecastRequest"]["properties"]
    assert request["horizon"]["maximum"] == 30 and request["horizon"]["minimum"] == 1
    # null means the default (80%), and OpenAPI 3.0 lists it in a nullable enum.
    assert request["level"]["enum"] == [0.5, 0.8, 0.95, None] and request["level"]["default"] == 0.8
    record = spec["components"]["schemas"]["TrackRecord"]["properties"]
    assert {"p_value_vs_naive", "policy_weights"} <= set(record)
    assert spec["components"]["schemas"]["Error"]["required"] == ["error", "message"]


def test_forecast_carries_the_models_track_record(client):
    # 20 days ahead the general model's policy serves part of the network's move.
    body = conforms(client.post("/api/v1/forecast", json={"ticker": "MSFT", "horizon": 20})
                    .get_json(), schemas.ForecastResult)
    record = body["track_record"]
    assert record["available"] and record["origins"] == 250
    assert record["end"] < body["as_of"]  # only forecasts whose outcome was known by then
    # Every step 1-30 on the one set of origins, the horizon's among them.
    assert record["steps"] == 30 and record["horizon"] == 20
    assert len(record["mae_vs_naive"]) == len(record["coverage"]) == 30
    assert record["verdict"].startswith("Over the last 250 trading days")
    assert body["level"] == 0.8 and all(r["low"] < r["close"] < r["high"]
                                        for r in body["forecast"])


def test_an_upload_is_judged_on_the_whole_file(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        body = client.post("/api/v1/forecast", data={"file": (handle, "MYCO.csv"),
                                                     "horizon": "20"},
                           content_type="multipart/form-data").get_json()
    assert "forecasts this data allows" in body["track_record"]["verdict"]
    assert body["track_record"]["origins"] > 250


def test_the_track_record_carries_p_values_and_policy_weights_per_step(client):
    body = conforms(client.post("/api/v1/forecast", json={"ticker": "MSFT", "horizon": 7})
                    .get_json(), schemas.ForecastResult)
    record = body["track_record"]
    assert len(record["p_value_vs_naive"]) == len(record["policy_weights"]) == record["steps"]
    assert all(p is None or 0.0 <= p <= 1.0 for p in record["p_value_vs_naive"])
    assert any(p is not None for p in record["p_value_vs_naive"])
    assert all(0.0 <= w <= 1.0 for w in record["policy_weights"])
    assert record["level"] == 0.8


def _band(client, level: float, **payload) -> dict:
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 6,
                                                   "as_of": "2012-10-01", **payload,
                                                   "level": level})
    return conforms(answer.get_json(), schemas.ForecastResult)


def test_a_95_band_holds_the_50_band_of_the_same_forecast(client):
    narrow, wide = _band(client, 0.5), _band(client, 0.95)
    assert narrow["level"] == 0.5 and wide["level"] == 0.95
    assert [r["close"] for r in narrow["forecast"]] == [r["close"] for r in wide["forecast"]]
    for n, w in zip(narrow["forecast"], wide["forecast"]):
        assert w["low"] <= n["low"] <= n["close"] <= n["high"] <= w["high"]
    assert [(r["low"], r["high"]) for r in narrow["forecast"]] != [
        (r["low"], r["high"]) for r in wide["forecast"]]
    # The band's level belongs to the whole answer: the record scores the band asked for.
    assert (narrow["track_record"]["level"], wide["track_record"]["level"]) == (0.5, 0.95)
    pairs = zip(narrow["track_record"]["coverage"], wide["track_record"]["coverage"])
    assert all(n < w for n, w in pairs if n is not None and w is not None)


def test_the_level_may_come_as_form_text(client):
    body = conforms(client.post("/api/v1/forecast", data={"ticker": "IBM", "level": "0.95"},
                                content_type="multipart/form-data").get_json(),
                    schemas.ForecastResult)
    assert body["level"] == 0.95


@pytest.mark.parametrize("level, shown", [(0.7, "0.7"), ("abc", "abc"), (2, "2"), (True, "True"),
                                          (0.80001, "0.80001"), ([0.8], "[0.8]")])
def test_a_level_not_offered_is_refused_by_name(client, level, shown):
    message = error_of(client.post("/api/v1/forecast", json={"ticker": "IBM", "level": level}),
                       422)
    assert message.startswith("level:") and shown in message
    assert "0.5" in message and "0.8" in message and "0.95" in message


def test_a_null_level_is_the_80_band(client):
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "level": None})
    assert conforms(answer.get_json(), schemas.ForecastResult)["level"] == 0.8


def test_a_field_left_blank_on_the_page_form_is_its_default(client):
    # A browser sends an empty string for each field left blank.
    answer = client.post("/predict", data={"ticker": "IBM", "horizon": "3", "level": "",
                                           "as_of": "", "model": ""})
    assert answer.status_code == 303 and answer.location.endswith("/prediction/IBM?horizon=3")


@pytest.mark.parametrize("field", ["level", "model", "as_of", "horizon"])
@pytest.mark.parametrize("as_form", [False, True], ids=["json", "multipart"])
def test_an_empty_string_in_the_api_is_refused_as_the_document_says(client, field, as_form):
    # In the API "" is a value, not a blank field: only null (or no field) means the default.
    body = {"ticker": "IBM", field: ""}
    sent = (client.post("/api/v1/forecast", data=body, content_type="multipart/form-data")
            if as_form else client.post("/api/v1/forecast", json=body))
    assert error_of(sent, 422).startswith(f"{field}:")


def test_a_level_not_offered_in_a_form_is_refused_by_name(client):
    message = error_of(client.post("/api/v1/forecast", data={"ticker": "IBM", "level": "0.9"},
                                   content_type="multipart/form-data"), 422)
    assert message.startswith("level:") and "0.9" in message and "0.95" in message


def test_models_without_a_policy_say_so(client):
    body = conforms(client.get("/api/v1/models").get_json(), schemas.ModelList)
    for model in body["models"]:
        assert "policy" in model
        assert model["policy"] is None or 0 <= model["policy"]["served_steps"] <= 30


def test_a_models_policy_reaches_the_forecast_and_its_record(client, policy_app):
    plain = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 3}).get_json()
    answer = policy_app.test_client().post("/api/v1/forecast",
                                           json={"ticker": "IBM", "horizon": 3})
    body = conforms(answer.get_json(), schemas.ForecastResult)
    assert body["model"] == plain["model"] == "ibm"
    assert body["track_record"]["policy_weights"] == POLICY_WEIGHTS
    last, served, raw = body["last_close"], body["forecast"], plain["forecast"]
    # A raw model (committed models may carry a policy of their own) is compared at step 1 only
    # where the plain app serves it whole too.
    if plain["track_record"]["policy_weights"][0] == 1.0:
        assert served[0]["close"] == pytest.approx(raw[0]["close"], abs=1e-4)
    assert served[1]["close"] == pytest.approx(last, abs=1e-4)  # weight 0: no change
    assert body["model_info"]["policy"] == {
        "method": "shrink-toward-naive", "fitted_on": "validation", "start": "2009-01-02",
        "end": "2010-12-31", "served_steps": sum(w > 0 for w in POLICY_WEIGHTS)}
    listed = policy_app.test_client().get("/api/v1/models").get_json()["models"]
    assert conforms({"models": listed}, schemas.ModelList)
    assert {m["name"]: m["policy"] for m in listed}["ibm"] == body["model_info"]["policy"]

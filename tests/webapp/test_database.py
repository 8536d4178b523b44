"""The app and its database: migrated at start, reported by healthz, never needed to forecast."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tests.servers import free_port


def test_the_app_migrates_its_database_at_start_and_healthz_says_ok(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    app = make_app(DATABASE_URL=url)
    assert "forecasts" in inspect(app.extensions["database"].engine).get_table_names()
    body = app.test_client().get("/api/v1/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == {"status": "ok"}


def test_without_database_url_the_database_is_a_sqlite_file_in_the_instance_folder(make_app):
    app = make_app(DATABASE_URL="", DATABASE_MIGRATE="0")  # not migrated: no file written
    assert app.extensions["database"].url == f"sqlite:///{app.instance_path}/stock-predictor.db"


def test_a_database_that_does_not_answer_leaves_forecasts_served(make_app):
    # Nothing listens on this port: the driver's "connection refused" is the reason given.
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url).test_client()
    health = client.get("/api/v1/healthz")
    body = health.get_json()
    assert health.status_code == 200 and body["status"] == "ok"
    assert body["database"]["status"] == "down"
    assert "refused" in body["database"]["reason"].lower()
    assert "secret" not in health.get_data(as_text=True)  # never the password
    forecast = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2})
    assert forecast.status_code == 200 and len(forecast.get_json()["forecast"]) == 2


def test_prices_fetched_by_one_app_are_served_by_the_next_while_yahoo_is_down(
        make_app, fake_yahoo, empty_url):
    from yfinance.exceptions import YFRateLimitError

    from stockPredictor.data.sample import from_sample
    from tests.fakes import history_frame

    url = empty_url
    calls = fake_yahoo(history_frame(from_sample("IBM").index[-300:]))
    first = make_app(PRICE_SOURCE="yahoo", DATABASE_URL=url).test_client()
    assert first.get("/api/v1/stocks/TSLA").get_json()["name"] == "TSLA Inc."
    assert len(calls) == 1
    # A restarted worker (a new app on the same database) within the recheck interval reads
    # the store, and asks Yahoo nothing.
    second = make_app(PRICE_SOURCE="yahoo", DATABASE_URL=url).test_client()
    card = second.get("/api/v1/stocks/TSLA").get_json()
    assert card["name"] == "TSLA Inc." and card["last_date"] == "2013-03-01"
    assert len(calls) == 1
    # Past the interval with Yahoo refusing: the stored prices, marked stale.
    fake_yahoo(YFRateLimitError())
    later = make_app(PRICE_SOURCE="yahoo", DATABASE_URL=url, PRICE_TTL=0).test_client()
    card = later.get("/api/v1/stocks/TSLA").get_json()
    assert card["stale"] is True and card["last_date"] == "2013-03-01"


def test_each_distinct_forecast_served_is_recorded_once_in_the_ledger(make_app, empty_url):
    from sqlalchemy.orm import Session

    from stockPredictor.store import ledger

    app = make_app(DATABASE_URL=empty_url)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2}).status_code \
            == 200
    assert client.get("/prediction/IBM?horizon=5&as_of=2012-06-01").status_code == 200
    app.extensions["ledger"].flush()
    with Session(app.extensions["database"].engine) as session:
        answer = ledger.listing(session)
    assert answer["total"] == 2
    by_horizon = {f["horizon"]: f for f in answer["forecasts"]}
    # The bundled sample's outcome is known: both are replays, never live.
    assert by_horizon[2]["kind"] == by_horizon[5]["kind"] == "replay"
    assert by_horizon[5]["as_of"] == "2012-06-01" and len(by_horizon[5]["forecast"]) == 5


def test_the_ledger_survives_a_restart(make_app, empty_url):
    first = make_app(DATABASE_URL=empty_url)
    for horizon in (2, 3):
        assert first.test_client().post("/api/v1/forecast", json={
            "ticker": "MSFT", "horizon": horizon, "as_of": "2012-06-01"}).status_code == 200
    first.extensions["ledger"].close()  # what a worker does at exit: write what it holds
    restarted = make_app(DATABASE_URL=empty_url).test_client()
    answer = restarted.get("/api/v1/forecasts?ticker=MSFT&kind=replay").get_json()
    assert answer["total"] == 2
    assert sorted(f["horizon"] for f in answer["forecasts"]) == [2, 3]
    # Served again after the restart: the same entry, counted, not a new one.
    assert restarted.post("/api/v1/forecast", json={
        "ticker": "MSFT", "horizon": 2, "as_of": "2012-06-01"}).status_code == 200
    restarted.application.extensions["ledger"].flush()
    again = restarted.get("/api/v1/forecasts?ticker=MSFT&kind=replay").get_json()
    assert again["total"] == 2
    assert {f["horizon"]: f["served"] for f in again["forecasts"]} == {2: 2, 3: 1}


def test_a_database_down_at_start_is_used_once_it_answers(make_app, monkeypatch, free_port):
    from stockPredictor import store

    from tests.postgres import postgres_server, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(f"PostgreSQL tests not run: {reason}")
    monkeypatch.setattr(store.Database, "RETRY_S", 0.0)  # retry the migration at every healthz
    port = free_port()
    app = make_app(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/stock")
    client = app.test_client()
    assert client.get("/api/v1/healthz").get_json()["database"]["status"] == "down"
    assert client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2}).status_code \
        == 200
    with postgres_server(port=port):  # the server comes up, empty, where the app looks for it
        assert client.get("/api/v1/healthz").get_json()["database"] == {"status": "ok"}
        assert client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 3}).status_code \
            == 200
        app.extensions["ledger"].flush()
        listed = client.get("/api/v1/forecasts").get_json()
        # The forecast made while it was down is there too if no write was tried meanwhile
        # (queued, not lost); written and failed, it was logged and dropped.
        assert listed["forecasts"][0]["horizon"] == 3 and listed["total"] in (1, 2)
        app.extensions["ledger"].close()
        app.extensions["database"].engine.dispose()

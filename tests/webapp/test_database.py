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
    # Forecasts are served, but none is recorded: a 503 an operator hears of (the kind alone).
    assert health.status_code == 503 and body["status"] == "degraded"
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


def test_replays_served_offline_are_not_recorded(make_app, empty_url):
    from sqlalchemy.orm import Session

    from stockPredictor.store import ledger

    app = make_app(DATABASE_URL=empty_url)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2}).status_code \
            == 200
    assert client.get("/prediction/IBM?horizon=5&as_of=2012-06-01").status_code == 200
    app.extensions["ledger"].flush()
    # The bundled sample's outcome is known: replays, recomputed on demand, never stored.
    with Session(app.extensions["database"].engine) as session:
        assert ledger.listing(session)["total"] == 0


def _yahoo_msft(fake_yahoo) -> None:
    """Fake Yahoo answers the sample's last 300 days of MSFT, whatever the ticker asked."""
    from stockPredictor.data.sample import from_sample
    from tests.fakes import history_frame

    sample = from_sample("MSFT")
    fake_yahoo(history_frame(sample.index[-300:], close=sample["close"].to_numpy()[-300:]))


def test_the_ledger_survives_a_restart(make_app, empty_url, fake_yahoo):
    _yahoo_msft(fake_yahoo)  # fresh (fake) Yahoo prices: the forecasts are live
    first = make_app(DATABASE_URL=empty_url, PRICE_SOURCE="yahoo")
    for horizon in (2, 3):
        assert first.test_client().post("/api/v1/forecast", json={
            "ticker": "MSFT", "horizon": horizon}).status_code == 200
    first.extensions["ledger"].close()  # what a worker does at exit: write what it holds
    restarted = make_app(DATABASE_URL=empty_url, PRICE_SOURCE="yahoo").test_client()
    answer = restarted.get("/api/v1/forecasts?ticker=MSFT").get_json()
    assert answer["total"] == 1 and answer["forecasts"][0]["horizon"] == 30
    # Served again after the restart (a new worker queues it once): the same entry, unchanged.
    assert restarted.post("/api/v1/forecast", json={
        "ticker": "MSFT", "horizon": 2}).status_code == 200
    restarted.application.extensions["ledger"].flush()
    assert restarted.get("/api/v1/forecasts?ticker=MSFT").get_json() == answer


def test_a_database_down_at_start_is_used_once_it_answers(make_app, monkeypatch, free_port,
                                                          fake_yahoo):
    from stockPredictor import store

    from tests.postgres import postgres_server, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(f"PostgreSQL tests not run: {reason}")
    monkeypatch.setattr(store.Database, "RETRY_S", 0.0)  # retry the migration at every healthz
    port = free_port()
    _yahoo_msft(fake_yahoo)  # live forecasts: the ledger records them
    app = make_app(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/stock",
                   PRICE_SOURCE="yahoo")
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
        # The live forecast made while it was down was queued, and is written now: one entry
        # for the day, its whole path, however many horizons were asked.
        assert listed["total"] == 1 and listed["forecasts"][0]["horizon"] == 30
        app.extensions["ledger"].close()
        app.extensions["database"].engine.dispose()

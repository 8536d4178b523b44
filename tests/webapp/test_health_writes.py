"""The health check reports the ledger's writes, not only SELECT 1: a database that refuses
writes (a full disk) or does not answer is a 503 whose reason names the kind of failure alone."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from Flask_webapp import api_examples as ex
from stockPredictor.data.sample import from_sample
from stockPredictor.forecast import report
from stockPredictor.store.db import failure_kind


def _live_reports(app, count: int) -> list[report.Report]:
    """``count`` IBM forecasts of 30 days with distinct ledger keys (one as_of each)."""
    frame, model = from_sample("IBM"), app.extensions["registry"].get("ibm")
    return [report.build(frame, model, 30, frame.index[-1 - i]) for i in range(count)]


def _shape(value):
    """The answer's keys and value types: what an example must share with the app's answer."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def test_a_full_disk_is_a_503_naming_the_kind_while_select_1_still_answers(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'full' / 'app.db'}")
    engine, writer = app.extensions["database"].engine, app.extensions["ledger"]
    made = _live_reports(app, 21)
    assert writer.submit(made[0], "live") and writer.flush() == 1  # written while there is room

    @event.listens_for(engine, "connect")
    def _disk_full(connection, _record):  # SQLite may not grow the file: "database or disk is full"
        connection.execute("PRAGMA max_page_count = 1")

    engine.dispose()  # every connection from now on has the full disk
    client = app.test_client()
    assert client.get("/api/v1/healthz").status_code == 200
    for one in made[1:]:  # far more than the room left in the tables' pages
        assert writer.submit(one, "live")
    assert writer.flush() == 0
    for path in ("/api/v1/healthz", "/healthz"):
        answer = client.get(path)
        body = answer.get_json()
        assert answer.status_code == 503 and body["status"] == "degraded"
        assert body["database"] == {"status": "ok"}  # reads still work: SELECT 1 alone was blind
        ledger = body["ledger"]
        assert ledger["status"] == "failing" and ledger["queued"] == 20
        assert ledger["reason"] == "the database refuses writes: disk full"
        assert body["reason"] == ("forecasts are served but not recorded: the database refuses "
                                  "writes: disk full")
        assert str(tmp_path) not in answer.get_data(as_text=True)
        # Documented: the example has the same fields, of the same types.
        assert _shape(body) == _shape(ex.HEALTH_DISK_FULL)
    assert body["ledger"]["last_write"] <= body["ledger"]["failing_since"]
    # Forecasts are still served meanwhile.
    forecast = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2})
    assert forecast.status_code == 200


def test_with_postgresql_stopped_the_reason_names_no_host_port_or_user(make_app, postgres_url):
    from sqlalchemy.engine import make_url

    from tests.postgres import stopped

    client = make_app(DATABASE_URL=postgres_url).test_client()
    assert client.get("/api/v1/healthz").status_code == 200
    server = make_url(postgres_url)
    with stopped(postgres_url):
        answer = client.get("/api/v1/healthz")
        text = answer.get_data(as_text=True)
        body = answer.get_json()
        assert answer.status_code == 503 and body["status"] == "degraded"
        assert body["database"] == {"status": "down",
                                    "reason": "the database does not answer: connection refused"}
        assert body["reason"] == ("forecasts are served but not recorded: the database does not "
                                  "answer: connection refused")
        for secret in (server.host, str(server.port), server.username, server.database):
            assert secret not in text
        assert _shape(body) == _shape(ex.HEALTH_DATABASE_DOWN) | {"ledger": _shape(
            ex.HEALTH)["ledger"]}
        forecast = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2})
        assert forecast.status_code == 200
    answer = client.get("/api/v1/healthz")  # back: the pool's dead connections are replaced
    assert answer.status_code == 200 and answer.get_json()["database"] == {"status": "ok"}


def test_an_unknown_host_and_a_refused_password_are_named_by_kind(make_app, free_port):
    import psycopg.errors

    url = f"postgresql://bob:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    answer = make_app(DATABASE_URL=url).test_client().get("/api/v1/healthz")
    assert answer.status_code == 503
    assert "bob" not in answer.get_data(as_text=True)
    assert "secret" not in answer.get_data(as_text=True)
    # The driver's own words for each (the text names the host and user): the kind alone.
    said = psycopg.errors.lookup("28P01")('password authentication failed for user "bob"')
    assert failure_kind(said) == "authentication failed"
    said = psycopg.OperationalError('connection failed: connection to server at "10.0.0.7", '
                                    'port 6543 failed: timeout expired')
    assert failure_kind(said) == "the database does not answer: timed out"


@pytest.mark.parametrize("sqlstate, kind", [
    ("53100", "the database refuses writes: disk full"),
    ("25006", "the database refuses writes: read-only"),
    ("53300", "the database is busy: too many connections"),
    ("3D000", "the database does not exist"),
    ("57P01", "the database does not answer: it is stopping or starting"),
])
def test_postgresql_failures_are_named_by_their_sqlstate(sqlstate, kind):
    import psycopg.errors

    # Messages that would mislead a reader of words alone: the code decides.
    said = psycopg.errors.lookup(sqlstate)('relation "/srv/db" at 10.0.0.7:5432 failed')
    assert failure_kind(said) == kind

"""The watchlists' API on SQLite and a real PostgreSQL: make, read, replace, delete; each bound
refused with the 4xx that names it (tickers, name, lists per client per day, refresh interval);
the rows at a horizon; the refresh job queued once per interval; the purge of unread lists."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from stockPredictor.store.models import Watchlist as Row

from Flask_webapp import watch_view
from Flask_webapp import watchlist_examples as ex

API = "/api/v1/watchlists"
SECRET = "a shared secret, so that two apps count one client alike"


@pytest.fixture
def build(make_app, empty_url):
    """Apps on one new database of each kind, sharing SECRET_KEY as a deployment's do."""
    return lambda **overrides: make_app(DATABASE_URL=empty_url, SECRET_KEY=SECRET, **overrides)


@pytest.fixture
def api(build):
    """A client of an app on each kind of database."""
    return build().test_client()


def _make(client, body=None, address="10.0.0.1"):
    return client.post(API, json=ex.WATCHLIST_REQUEST if body is None else body,
                       environ_base={"REMOTE_ADDR": address})


def test_a_list_is_made_read_replaced_and_deleted(api):
    made = _make(api, {"name": " Tech ", "tickers": ["ibm", "MSFT", "ibm", "brk-b"]})
    assert made.status_code == 201
    body = made.get_json()
    token = body["token"]
    assert set(body) == set(ex.WATCHLIST) and len(token) == 43
    assert (body["name"], body["tickers"]) == ("Tech", ["IBM", "MSFT", "BRK-B"])
    assert body["url"] == f"/watchlists/{token}" and body["rows_url"] == f"{API}/{token}/rows"
    assert made.headers["Location"] == f"{API}/{token}"
    assert api.get(f"{API}/{token}").get_json() == body
    replaced = api.put(f"{API}/{token}", json={"name": "Banks", "tickers": ["JPM", "c"]})
    assert replaced.status_code == 200
    assert (replaced.get_json()["name"], replaced.get_json()["tickers"]) == ("Banks", ["JPM", "C"])
    assert replaced.get_json()["created_at"] == body["created_at"]
    assert api.get(f"{API}/{token}").get_json()["tickers"] == ["JPM", "C"]
    deleted = api.delete(f"{API}/{token}")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    gone = api.get(f"{API}/{token}")
    assert gone.status_code == 404 and gone.get_json()["error"] == "unknown_watchlist"
    assert api.delete(f"{API}/{token}").status_code == 404


def test_a_list_without_a_name_is_called_watchlist(api):
    answer = _make(api, ex.WATCHLIST_REQUESTS["unnamed"]["value"])
    assert answer.status_code == 201 and answer.get_json()["name"] == "Watchlist"


def test_too_many_tickers_is_a_413_that_names_the_bound_and_the_count(api):
    answer = _make(api, {"name": "All", "tickers": [f"T{i}" for i in range(612)]})
    assert answer.status_code == 413 and answer.get_json() == ex.ERRORS[413]
    # Counted once each: 70 distinct tickers (the default bound) fit, however often they repeat.
    tickers = [f"T{i}" for i in range(70)]
    assert _make(api, {"name": "All", "tickers": tickers + tickers[:50]}).status_code == 201


def test_the_bounds_are_settings(build):
    api = build(WATCHLIST_API_TICKERS=3, WATCHLIST_NAME_CHARS=5).test_client()
    answer = _make(api, {"tickers": ["A", "B", "C", "D"]})
    assert answer.status_code == 413
    assert answer.get_json()["message"] == ("a watchlist holds at most 3 tickers through the "
                                            "API; this one has 4")
    answer = _make(api, {"name": "Sixsix", "tickers": []})
    assert answer.status_code == 422 and answer.get_json()["error"] == "name_too_long"


def test_a_put_is_held_to_the_same_bounds(api):
    token = _make(api).get_json()["token"]
    too_many = api.put(f"{API}/{token}", json={"tickers": [f"T{i}" for i in range(612)]})
    assert too_many.status_code == 413 and too_many.get_json() == ex.ERRORS[413]
    too_long = api.put(f"{API}/{token}", json={"name": "x" * 95, "tickers": ["IBM"]})
    assert too_long.status_code == 422 and too_long.get_json() == ex.ERRORS[422]
    bad = api.put(f"{API}/{token}", json={"tickers": ["IBM", "NOT A TICKER"]})
    assert bad.status_code == 422 and bad.get_json() == ex.BAD_TICKER
    assert api.get(f"{API}/{token}").get_json()["tickers"] == ex.WATCHLIST_REQUEST["tickers"]


def test_a_long_name_and_a_bad_ticker_are_refused_naming_them(api):
    answer = _make(api, {"name": "x" * 95, "tickers": ["IBM"]})
    assert answer.status_code == 422 and answer.get_json() == ex.ERRORS[422]
    answer = _make(api, {"name": "Tech", "tickers": ["IBM", "NOT A TICKER"]})
    assert answer.status_code == 422 and answer.get_json() == ex.BAD_TICKER


@pytest.mark.parametrize("body, message", [
    ([1, 2], "body: must be a JSON object with the fields name and tickers, not an array"),
    ({"name": "Tech"}, "tickers: must be a list of tickers such as [\"IBM\", \"MSFT\"]"),
    ({"tickers": "IBM"}, "tickers: must be a list of tickers such as [\"IBM\", \"MSFT\"]"),
    ({"tickers": ["IBM"], "colour": "red"},
     "colour: is not a watchlist field: expected name and tickers"),
])
def test_a_malformed_body_is_a_422_that_says_what_is_expected(api, body, message):
    answer = _make(api, body)
    assert answer.status_code == 422
    assert answer.get_json() == {"error": "invalid_input", "message": message}


def test_a_body_that_is_not_json_is_refused(api):
    answer = api.post(API, data="x", content_type="text/plain")
    assert answer.status_code == 415 and answer.get_json() == ex.ERRORS[415]
    answer = api.post(API, data="{", content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["error"] == "bad_request"


def test_lists_per_client_per_day_are_counted_in_the_database(build):
    # Two apps on one database stand for two web processes: the count is shared.
    first, second = (build(WATCHLISTS_PER_DAY=2).test_client() for _ in range(2))
    assert _make(first).status_code == 201
    token = _make(second).get_json()["token"]
    assert first.delete(f"{API}/{token}").status_code == 204  # deleting gives no room back
    refused = _make(first)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "too_many_watchlists"
    assert "WATCHLISTS_PER_DAY=2" in refused.get_json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
    assert _make(second, address="10.0.0.2").status_code == 201  # another client is not counted


@pytest.mark.parametrize("call", [
    lambda c, t: c.get(f"{API}/{t}"), lambda c, t: c.put(f"{API}/{t}", json={"tickers": []}),
    lambda c, t: c.delete(f"{API}/{t}"), lambda c, t: c.get(f"{API}/{t}/rows"),
    lambda c, t: c.post(f"{API}/{t}/refresh")], ids=["get", "put", "delete", "rows", "refresh"])
def test_an_unknown_token_is_a_404_and_a_malformed_one_a_422(api, call):
    answer = call(api, ex.TOKEN)
    assert answer.status_code == 404 and answer.get_json() == ex.ERRORS[404]
    answer = call(api, "not-a-token")
    assert answer.status_code == 422
    assert answer.get_json()["message"] == ("token: must be a watchlist's token: 43 letters, "
                                            "digits, - or _")


def test_the_rows_come_from_watch_view_at_the_horizon_asked(api, monkeypatch):
    token = _make(api).get_json()["token"]
    asked = []

    def table(watchlist, horizon):
        asked.append((watchlist.token, watchlist.tickers, horizon))
        return {**ex.WATCH_TABLE, "token": watchlist.token}

    monkeypatch.setattr(watch_view, "table", table)
    answer = api.get(f"{API}/{token}/rows?horizon=7")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.get_json() == {**ex.WATCH_TABLE, "token": token}
    assert asked == [(token, ("IBM", "MSFT", "XYZ"), 7)]
    api.get(f"{API}/{token}/rows")
    assert asked[-1][2] == 4  # the default horizon, as the forecast API's
    for horizon in ("0", "31", "2.5", "x"):
        answer = api.get(f"{API}/{token}/rows?horizon={horizon}")
        assert answer.status_code == 422 and answer.get_json()["message"].startswith("horizon: ")
    assert len(asked) == 2


def test_the_rows_of_the_sample_are_a_watch_table(api):
    token = _make(api, {"name": "Sample", "tickers": ["MSFT", "IBM", "XYZ"]}).get_json()["token"]
    answer = api.get(f"{API}/{token}/rows?horizon=4")
    assert answer.status_code == 200
    table = answer.get_json()
    assert set(table) == set(ex.WATCH_TABLE) and table["token"] == token
    assert table["horizon"] == 4 and table["name"] == "Sample"
    assert [row["ticker"] for row in table["rows"]] == ["MSFT", "IBM", "XYZ"]
    assert all(set(row) == set(ex.IBM_ROW) for row in table["rows"])
    assert table["rows"][2]["status"] == "error" and "XYZ" in table["rows"][2]["reason"]


def test_a_refresh_is_queued_once_per_interval(api, monkeypatch):
    token = _make(api).get_json()["token"]
    queued = []
    monkeypatch.setattr(api.application.extensions["jobs"], "submit_watch",
                        lambda task, token: queued.append((task, token)) or "task-1",
                        raising=False)
    answer = api.post(f"{API}/{token}/refresh")
    assert answer.status_code == 202 and answer.get_json() == ex.QUEUED
    assert queued == [("watch_refresh", token)]
    again = api.post(f"{API}/{token}/refresh")
    assert again.status_code == 429 and again.get_json()["error"] == "refresh_too_soon"
    assert "WATCHLIST_REFRESH_S=300" in again.get_json()["message"]
    assert 290 <= int(again.headers["Retry-After"]) <= 300
    assert len(queued) == 1


def test_a_refresh_the_queue_refuses_is_a_503_and_can_be_asked_again(api, monkeypatch):
    token = _make(api).get_json()["token"]
    jobs = api.application.extensions["jobs"]

    def down(task, token):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs, "submit_watch", down, raising=False)
    answer = api.post(f"{API}/{token}/refresh")
    assert answer.status_code == 503 and answer.get_json()["error"] == "database_unavailable"
    assert "Redis" not in answer.get_json()["message"]
    monkeypatch.setattr(jobs, "submit_watch", lambda task, token: "task-2", raising=False)
    assert api.post(f"{API}/{token}/refresh").status_code == 202


def test_lists_unread_for_keep_days_are_purged_when_a_list_is_made(build):
    app = build(WATCHLIST_KEEP_DAYS=30)
    api = app.test_client()
    old, kept = (_make(api).get_json()["token"] for _ in range(2))
    then = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)
    with Session(app.extensions["database"].engine) as session, session.begin():
        session.execute(update(Row).where(Row.token.in_([old, kept])).values(read_at=then))
    # Reading a list through the API moves its clock: kept stays, old goes.
    assert api.get(f"{API}/{kept}").status_code == 200
    assert _make(api, address="10.0.0.9").status_code == 201
    assert api.get(f"{API}/{old}").status_code == 404
    assert api.get(f"{API}/{kept}").status_code == 200


def test_without_the_database_lists_are_a_503(make_app):
    from tests.servers import free_port

    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    answer = _make(make_app(DATABASE_URL=url).test_client())
    assert answer.status_code == 503 and answer.get_json() == ex.ERRORS[503]


def test_another_site_may_not_change_a_list_unless_it_is_allowed(build):
    api = build(API_ALLOWED_ORIGINS="https://partner.example").test_client()
    token = _make(api).get_json()["token"]
    evil = {"Origin": "https://evil.example"}
    assert api.delete(f"{API}/{token}", headers=evil).status_code == 403
    assert api.put(f"{API}/{token}", json={"tickers": []}, headers=evil).status_code == 403
    assert api.get(f"{API}/{token}").get_json()["tickers"] == ex.WATCHLIST_REQUEST["tickers"]
    # A listed site's page may replace and delete, after the browser's preflight.
    answer = api.options(f"{API}/{token}", headers={
        "Origin": "https://partner.example", "Access-Control-Request-Method": "DELETE"})
    assert {"PUT", "DELETE"} <= set(answer.headers["Access-Control-Allow-Methods"].split(", "))
    answer = api.delete(f"{API}/{token}", headers={"Origin": "https://partner.example"})
    assert answer.status_code == 204

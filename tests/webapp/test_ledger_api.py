"""The forecast ledger read back: GET /api/v1/forecasts, the /forecasts page, the live record."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy.orm import Session
from stockPredictor.data.sample import from_sample

from tests.servers import free_port


@pytest.fixture
def ledger_app(make_app, tmp_path):
    return make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.db'}")


def _serve(app, *requests: dict) -> None:
    client = app.test_client()
    for body in requests:
        assert client.post("/api/v1/forecast", json=body).status_code == 200, body
    app.extensions["ledger"].flush()


def _score(app, ticker: str, closes: dict[str, float]) -> int:
    from stockPredictor.store import ledger

    series = pd.Series(list(closes.values()), index=pd.DatetimeIndex(list(closes)))
    with Session(app.extensions["database"].engine) as session, session.begin():
        return ledger.score(session, ticker, "yahoo", closes=series)


def _live_app(make_app, fake_yahoo, tmp_path):
    """An app on fresh (fake) Yahoo prices of IBM to 2013-03-01: its forecasts are live."""
    _yahoo_ibm(fake_yahoo)
    return make_app(PRICE_SOURCE="yahoo", DATABASE_URL=f"sqlite:///{tmp_path / 'live.db'}")


def _yahoo_ibm(fake_yahoo, more: dict[str, float] | None = None) -> None:
    """Fake Yahoo answers the sample's last 300 days of IBM, and ``more`` closes after them."""
    from tests.fakes import history_frame

    sample = from_sample("IBM")
    days, closes = sample.index[-300:], list(sample["close"].to_numpy()[-300:])
    if more:
        days, closes = days.append(pd.DatetimeIndex(list(more))), closes + list(more.values())
    fake_yahoo(history_frame(days, close=closes))


def test_an_empty_ledger_answers_no_forecasts(ledger_app):
    answer = ledger_app.test_client().get("/api/v1/forecasts")
    assert answer.status_code == 200 and answer.get_json() == {
        "total": 0, "total_capped": False, "forecasts": [], "older": None, "newer": None}


def test_replays_are_not_stored(ledger_app, ibm_csv):
    # Offline, every forecast is a replay: the sample's latest, a past as_of, an upload.
    client = ledger_app.test_client()
    _serve(ledger_app, {"ticker": "IBM", "horizon": 2}, {"ticker": "IBM", "as_of": "2012-06-01"})
    with open(ibm_csv, "rb") as upload:
        answer = client.post("/api/v1/forecast", data={"file": (upload, "MYCO.csv")},
                             content_type="multipart/form-data")
    assert answer.status_code == 200
    assert client.get("/prediction/IBM?horizon=3&as_of=2012-01-03").status_code == 200
    ledger_app.extensions["ledger"].flush()
    assert client.get("/api/v1/forecasts").get_json()["total"] == 0
    # The page says why it is empty.
    assert "only live forecasts are" in client.get("/forecasts").get_data(as_text=True)


def test_a_live_forecast_is_one_entry_however_it_is_asked(make_app, fake_yahoo, tmp_path):
    app = _live_app(make_app, fake_yahoo, tmp_path)
    asked = [{"ticker": "IBM", "horizon": h, "level": level}
             for h in (1, 4, 30) for level in (0.5, 0.8, 0.95)]
    _serve(app, *asked, {"ticker": "IBM", "as_of": "2013-01-15"})
    client = app.test_client()
    listed = client.get("/api/v1/forecasts").get_json()
    assert listed["total"] == 1
    [item] = listed["forecasts"]
    assert (item["as_of"], item["source"], item["horizon"]) == ("2013-03-01", "yahoo", 30)
    assert len(item["forecast"]) == 30
    # Every level, whichever the request asked: the API shows the one the query names.
    for level in (0.5, 0.8, 0.95):
        [shown] = client.get(f"/api/v1/forecasts?level={level}").get_json()["forecasts"]
        assert shown["level"] == level and all(row["low"] < row["close"] < row["high"]
                                               for row in shown["forecast"])
    widths = {level: client.get(f"/api/v1/forecasts?level={level}").get_json()[
        "forecasts"][0]["forecast"][-1] for level in (0.5, 0.95)}
    assert widths[0.5]["high"] - widths[0.5]["low"] < widths[0.95]["high"] - widths[0.95]["low"]


def test_serving_it_again_changes_nothing_in_the_database(make_app, fake_yahoo, tmp_path,
                                                          monkeypatch):
    from stockPredictor.store import ledger

    app = _live_app(make_app, fake_yahoo, tmp_path)
    built = []
    whole = ledger.whole
    monkeypatch.setattr(ledger, "whole", lambda *a, **k: built.append(a) or whole(*a, **k))
    client = app.test_client()
    assert client.get("/prediction/IBM?horizon=2").status_code == 200
    app.extensions["ledger"].flush()
    engine = app.extensions["database"].engine

    def snapshot():
        with engine.connect() as connection:
            return [connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1, 2").all()
                    for table in ("forecasts", "forecast_rows")]

    before = snapshot()
    assert len(before[0]) == 1 and len(before[1]) == 30
    for path in ("/prediction/IBM?horizon=2", "/prediction/IBM?horizon=7&level=0.95",
                 "/api/v1/forecast/IBM?horizon=3", "/prediction/IBM/forecast.csv"):
        assert client.get(path).status_code == 200, path
    assert app.extensions["ledger"].flush() == 0  # nothing was queued
    assert snapshot() == before
    assert len(built) == 1  # the whole path was built once for the day, by this worker


def test_filters_total_and_paging(make_app, fake_yahoo, tmp_path):
    app = _live_app(make_app, fake_yahoo, tmp_path)
    _serve(app, {"ticker": "IBM", "horizon": 2}, {"ticker": "IBM", "horizon": 3},
           {"ticker": "IBM", "horizon": 2, "as_of": "2012-06-01"})
    _serve(app, {"ticker": "AAPL", "horizon": 2})  # a later batch: a higher id
    client = app.test_client()
    everything = client.get("/api/v1/forecasts").get_json()
    assert everything["total"] == 2 and len(everything["forecasts"]) == 2
    assert everything["older"] is None and everything["newer"] is None
    # Newest first.
    assert [f["ticker"] for f in everything["forecasts"]] == ["AAPL", "IBM"]
    ibm = client.get("/api/v1/forecasts?ticker=ibm").get_json()
    assert ibm["total"] == 1 and {f["ticker"] for f in ibm["forecasts"]} == {"IBM"}
    assert client.get("/api/v1/forecasts?as_of=2013-03-01").get_json()["total"] == 2
    assert client.get("/api/v1/forecasts?as_of=2012-06-01").get_json()["total"] == 0
    model = everything["forecasts"][-1]["model"]
    by_model = client.get(f"/api/v1/forecasts?model={model}").get_json()
    assert by_model["total"] >= 1 and {f["model"] for f in by_model["forecasts"]} == {model}
    first = client.get("/api/v1/forecasts?limit=1").get_json()
    assert first["total"] == 2 and first["newer"] is None
    assert [f["ticker"] for f in first["forecasts"]] == ["AAPL"]
    second = client.get(f"/api/v1/forecasts?limit=1&before={first['older']}").get_json()
    assert [f["ticker"] for f in second["forecasts"]] == ["IBM"] and second["older"] is None
    back = client.get(f"/api/v1/forecasts?limit=1&after={second['newer']}").get_json()
    assert back["forecasts"] == first["forecasts"]
    assert client.get("/api/v1/forecasts?kind=live").get_json()["total"] == 2


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=51", "limit"), ("limit=x", "limit"), ("before=0", "before"),
    ("before=2147483648", "before"), ("before=9223372036854775808", "before"),
    ("after=-1", "after"), ("after=x", "after"), ("before=5&after=3", "after"),
    ("offset=10", "offset"), ("kind=replay", "kind"), ("level=0.7", "level"),
    ("ticker=IBM!", "ticker"), ("as_of=2013-02-30", "as_of"), ("model=../x", "model")])
def test_bad_filters_are_refused_with_422(ledger_app, query, field):
    answer = ledger_app.test_client().get(f"/api/v1/forecasts?{query}")
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"] == "invalid_input" and body["message"].startswith(f"{field}:")


def test_the_limits_bounds_are_accepted(ledger_app):
    client = ledger_app.test_client()
    assert client.get("/api/v1/forecasts?limit=1").status_code == 200
    assert client.get("/api/v1/forecasts?limit=50").status_code == 200
    assert client.get("/api/v1/forecasts?before=2147483647&offset=0").status_code == 200


def test_each_forecast_links_to_its_page_and_actual_is_null_until_known(
        make_app, fake_yahoo, tmp_path):
    app = _live_app(make_app, fake_yahoo, tmp_path)
    _serve(app, {"ticker": "IBM", "horizon": 2})
    client = app.test_client()
    [item] = client.get("/api/v1/forecasts").get_json()["forecasts"]
    assert item["horizon"] == 30 and item["level"] == 0.8
    assert item["url"] == f"/prediction/IBM?horizon=30&as_of=2013-03-01&model={item['model']}"
    assert all(row["actual"] is None and row["error"] is None and row["inside"] is None
               for row in item["forecast"])
    assert client.get(item["url"]).status_code == 200
    # The page serves the same forecast, not another one: nothing new is recorded.
    app.extensions["ledger"].flush()
    assert client.get("/api/v1/forecasts").get_json()["total"] == 1


def test_a_live_forecast_is_scored_as_yahoos_closes_arrive(make_app, fake_yahoo, empty_url):
    # Re-checked on every request, so the next request stores the closes that arrived.
    _yahoo_ibm(fake_yahoo)
    app = make_app(PRICE_SOURCE="yahoo", DATABASE_URL=empty_url, PRICE_TTL=0, STORE_READ_TTL=0)
    _serve(app, {"ticker": "IBM", "horizon": 2})
    client = app.test_client()
    [item] = client.get("/api/v1/forecasts").get_json()["forecasts"]
    assert item["as_of"] == "2013-03-01" and item["source"] == "yahoo"
    assert [(row["actual"], row["error"], row["inside"]) for row in item["forecast"]] == \
        [(None, None, None)] * 30
    days = [row["date"] for row in item["forecast"]]
    _yahoo_ibm(fake_yahoo, {days[0]: 176.0})  # one more close: that day is scored
    assert client.get("/api/v1/stocks/IBM").status_code == 200
    [item] = client.get(f"/api/v1/forecasts?as_of={item['as_of']}").get_json()["forecasts"]
    assert [row["actual"] for row in item["forecast"]] == [176.0] + [None] * 29
    first = item["forecast"][0]
    assert first["error"] == pytest.approx(first["close"] - 176.0, abs=1e-3)
    assert first["naive_error"] == pytest.approx(
        from_sample("IBM")["close"].iloc[-1] - 176.0, abs=1e-3)


def test_the_page_lists_a_recorded_forecast_and_links_to_it(make_app, fake_yahoo, tmp_path):
    app = _live_app(make_app, fake_yahoo, tmp_path)
    _serve(app, {"ticker": "IBM", "horizon": 3}, {"ticker": "IBM", "as_of": "2013-01-15"})
    client = app.test_client()
    [item] = client.get("/api/v1/forecasts").get_json()["forecasts"]
    answer = client.get("/forecasts")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    link = item["url"].replace("&", "&amp;")
    assert f'<a href="{link}">IBM, 30 days from 2013-03-01</a>' in html
    assert "2013-01-15" not in html  # the replay: recomputed on its page, never listed
    assert client.get(item["url"]).status_code == 200
    assert "IBM" not in client.get("/forecasts?ticker=AAPL").get_data(
        as_text=True).split('id="ledger-list"')[1].split("</form>")[1]


def test_the_page_pages_through_the_ledger(make_app, fake_yahoo, tmp_path):
    app = _live_app(make_app, fake_yahoo, tmp_path)
    for ticker in ("IBM", "AAPL", "MSFT"):  # a batch each: in a batch, ids follow the keys
        _serve(app, {"ticker": ticker, "horizon": 2})
    client = app.test_client()
    html = client.get("/forecasts?limit=2").get_data(as_text=True)
    assert "3 forecasts, newest first" in html and "MSFT, 30 days" in html
    assert "IBM, 30 days" not in html and ">Newer</a>" not in html
    older = re.search(r'<a href="([^"]+)">Older</a>', html).group(1).replace("&amp;", "&")
    assert "limit=2" in older and "before=" in older  # the page size is kept
    html = client.get(older).get_data(as_text=True)
    assert "IBM, 30 days" in html and "MSFT" not in html.split('id="ledger-list"')[1]
    assert ">Older</a>" not in html and ">Newer</a>" in html
    newer = re.search(r'<a href="([^"]+)">Newer</a>', html).group(1).replace("&amp;", "&")
    assert "limit=2" in newer and "after=" in newer
    assert "MSFT, 30 days" in client.get(newer).get_data(as_text=True)


def test_the_header_links_to_the_ledger(client):
    assert '<a href="/forecasts">Ledger</a>' in client.get("/").get_data(as_text=True)


def test_the_live_record_shows_on_the_ledger_and_forecast_pages(make_app, fake_yahoo, tmp_path):
    app = _live_app(make_app, fake_yahoo, tmp_path)
    client = app.test_client()
    page = client.get("/prediction/IBM?horizon=2")
    assert page.status_code == 200 and 'id="live-record"' not in page.get_data(as_text=True)
    app.extensions["ledger"].flush()
    [item] = client.get("/api/v1/forecasts").get_json()["forecasts"]
    days = [row["date"] for row in item["forecast"]]
    assert _score(app, "IBM", dict(zip(days, [176.0, 174.0]))) == 2
    html = client.get("/forecasts").get_data(as_text=True)
    record = html.split('id="live-record"')[1].split("</section>")[0]
    assert "IBM" in record and item["model"] in record and ">2<" in record
    assert "not enough yet" in record  # 2 days scored: no p-value
    html = client.get(f"/prediction/IBM?horizon=2&model={item['model']}").get_data(as_text=True)
    line = html.split('id="live-record"')[1].split("</p>")[0]
    assert "2 days scored" in line and "error against" in line
    assert "inside the 80% band" in line


def test_a_database_that_is_down_answers_503_and_the_page_says_so(make_app):
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url).test_client()
    answer = client.get("/api/v1/forecasts")
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "database_unavailable"
    page = client.get("/forecasts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="ledger-unavailable"' in html and "the database is down" in html
    assert "secret" not in html
    # The forecast page is still served, without a live record.
    forecast = client.get("/prediction/IBM?horizon=2")
    assert forecast.status_code == 200 and 'id="live-record"' not in forecast.get_data(
        as_text=True)


@pytest.mark.parametrize("query", ["offset=9223372036854775808", "before=-1", "limit=0",
                                   "kind=replay", "as_of=2013-02-30", "after=x"])
def test_the_page_refuses_bad_filters_with_422(ledger_app, query):
    answer = ledger_app.test_client().get(f"/forecasts?{query}")
    assert answer.status_code == 422 and answer.mimetype == "text/html"
    assert query.split("=")[0] in answer.get_data(as_text=True)


def test_a_live_record_is_read_once_a_minute_per_worker(make_app, fake_yahoo, tmp_path,
                                                        monkeypatch):
    from stockPredictor.store import ledger

    app = _live_app(make_app, fake_yahoo, tmp_path)
    _serve(app, {"ticker": "IBM", "horizon": 2})
    client = app.test_client()
    [item] = client.get("/api/v1/forecasts?kind=live").get_json()["forecasts"]
    _score(app, "IBM", dict(zip([row["date"] for row in item["forecast"]], [176.0, 174.0])))
    reads = []
    real = ledger.live_record
    monkeypatch.setattr(ledger, "live_record", lambda *a: reads.append(a) or real(*a))
    page = f"/prediction/IBM?horizon=2&model={item['model']}"
    for _ in range(3):
        assert 'id="live-record"' in client.get(page).get_data(as_text=True)
    assert len(reads) == 1  # then reused
    app.extensions["live_records"].ttl = 0.0
    assert 'id="live-record"' in client.get(page).get_data(as_text=True)
    assert len(reads) == 2

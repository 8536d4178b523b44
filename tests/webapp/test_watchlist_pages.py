"""The watchlist pages (issue 22, D): making a list, its table and rows.json, sorting, the CSV,
"Add to watchlist", the bounds, and rows a cold job fills in. Real store, rows and cold job; the
queue only records what the pages enqueue (no worker runs here)."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

from stockPredictor.data.sample import from_sample
from stockPredictor.jobs import watch as watch_jobs
from stockPredictor.jobs.worker import Context
from stockPredictor.data.synthetic import synthetic
from stockPredictor.forecast import report
from stockPredictor.store import price_batch, watchlists
from tests.fakes import history_frame
from tests.fakes_watch import record_watch_jobs, run_cold_job

SPEC_CSV_HEADER = ("ticker,name,last_close,last_date,day_change_pct,forecast_close,change_pct,"
                   "low_pct,high_pct,beats_naive,p_value,mae_ratio,origins,stale,age_days,model,"
                   "status,reason")
ROW = re.compile(r'<tr data-ticker="([^"]+)" data-status="([^"]+)"')


def _make(client, tickers: str, name: str = "Mine", **fields) -> str:
    answer = client.post("/watchlists", data={"name": name, "tickers": tickers, **fields})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:400]
    match = re.fullmatch(r"/watchlists/([A-Za-z0-9_-]{43})\?new=1", answer.headers["Location"])
    assert match, answer.headers["Location"]
    return match[1]


def _rows(html: str) -> list[tuple[str, str]]:
    return ROW.findall(html)


@pytest.fixture
def jobs(app, monkeypatch):
    """The watchlist jobs the pages queue, recorded."""
    return record_watch_jobs(app, monkeypatch)


def test_a_new_list_says_keep_this_link_and_shows_every_row(app, client, jobs):
    token = _make(client, "ibm, MSFT ZZZZ")
    page = client.get(f"/watchlists/{token}?new=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Keep this link." in html
    assert f'value="http://localhost/watchlists/{token}"' in html
    assert _rows(html) == [("IBM", "computing"), ("MSFT", "computing"), ("ZZZZ", "error")]
    assert "Cannot forecast ZZZZ: Ticker &#39;ZZZZ&#39; is not in the bundled sample" in html
    # The cold job is queued once for the list, however often the page is polled.
    assert jobs.calls == [("watch_cold", token)]
    again = client.get(f"/watchlists/{token}").get_data(as_text=True)
    assert "Keep this link." not in again
    assert jobs.calls == [("watch_cold", token)]
    # Sample prices never need a refresh: no refresh job.
    assert all(task != "watch_refresh" for task, _ in jobs.calls)


def test_computing_rows_show_their_prices_and_rows_json_counts_them(app, client, jobs):
    token = _make(client, "IBM ZZZZ")
    answer = client.get(f"/watchlists/{token}/rows.json")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    table = answer.get_json()
    assert (table["token"], table["name"], table["horizon"], table["level"]) == (
        token, "Mine", 4, 0.8)
    assert table["pending"] == 1 and table["refreshing"] is False
    ibm, unknown = table["rows"]
    closes = from_sample("IBM")["close"].to_numpy()
    assert ibm["status"] == "computing" and ibm["last_close"] == pytest.approx(closes[-1])
    assert len(ibm["sparkline"]) == 60 and ibm["forecast_close"] is None
    assert unknown["status"] == "error" and "ZZZZ" in unknown["reason"]


def test_cold_rows_are_filled_in_by_the_job_with_a_single_forecasts_numbers(app, client, jobs):
    token = _make(client, "IBM MSFT ZZZZ")
    assert client.get(f"/watchlists/{token}/rows.json").get_json()["pending"] == 2
    assert run_cold_job(app, token) == 2
    table = client.get(f"/watchlists/{token}/rows.json?horizon=3").get_json()
    assert table["pending"] == 0
    assert [(r["ticker"], r["status"]) for r in table["rows"]] == [
        ("IBM", "ok"), ("MSFT", "ok"), ("ZZZZ", "error")]
    with app.app_context():
        frame = from_sample("IBM")
        single = report.build(frame, app.extensions["registry"].model_for("IBM"), 3).to_dict()
    ibm = table["rows"][0]
    last = single["last_close"]
    close = single["forecast"][-1]["close"]
    assert ibm["model"] == single["model"] and ibm["as_of"] == single["as_of"]
    assert ibm["last_close"] == last
    assert ibm["forecast_close"] == pytest.approx(close, rel=1e-6)
    for key, value in (("change_pct", close), ("low_pct", single["forecast"][-1]["low"]),
                       ("high_pct", single["forecast"][-1]["high"])):
        assert ibm[key] == pytest.approx(round((value / last - 1) * 100, 2), abs=0.011), key
    assert ibm["verdict"] == single["track_record"]["verdict"]
    # The page says it in words, the p-value inside the details.
    html = client.get(f"/watchlists/{token}?horizon=3").get_data(as_text=True)
    assert _rows(html) == [("IBM", "ok"), ("MSFT", "ok"), ("ZZZZ", "error")]
    assert "<details><summary>" in html and ibm["verdict"].replace("'", "&#39;") in html
    assert re.search(r"<p class=\"muted\">p [=<] [01]\.\d+ \(", html)
    assert "Computing" not in html


def test_the_rows_fragment_is_the_tbody_the_script_swaps_in(app, client, jobs):
    token = _make(client, "IBM ZZZZ")
    answer = client.get(f"/watchlists/{token}?fragment=rows")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in html
    assert _rows(html) == [("IBM", "computing"), ("ZZZZ", "error")]


def test_a_list_of_good_and_bad_tickers_gives_each_bad_one_its_reason(app, client, jobs,
                                                                      monkeypatch):
    stored = price_batch.stored_frames

    def with_a_short_one(cache, tickers):
        frames = stored(cache, [t for t in tickers if t != "TINY"])
        if "TINY" in tickers:
            frames["TINY"] = synthetic(n=40, seed=3, ticker="TINY")
        return {t: frames[t] for t in tickers}

    monkeypatch.setattr(price_batch, "stored_frames", with_a_short_one)
    token = _make(client, "IBM TINY ZZZZ MSFT")
    run_cold_job(app, token)
    table = client.get(f"/watchlists/{token}/rows.json").get_json()
    found = {r["ticker"]: r for r in table["rows"]}
    assert [r["ticker"] for r in table["rows"]] == ["IBM", "TINY", "ZZZZ", "MSFT"]
    assert found["IBM"]["status"] == found["MSFT"]["status"] == "ok"
    assert found["TINY"]["status"] == "error" and "40" in found["TINY"]["reason"]
    assert found["ZZZZ"]["status"] == "error" and "ZZZZ" in found["ZZZZ"]["reason"]
    html = client.get(f"/watchlists/{token}").get_data(as_text=True)
    assert html.count("Cannot forecast ") == 2


def test_the_sparkline_is_inline_svg_of_the_last_60_closes(app, client, jobs):
    token = _make(client, "IBM")
    html = client.get(f"/watchlists/{token}").get_data(as_text=True)
    svg = re.search(r'<svg class="sparkline[^"]*" viewBox="0 0 60 20"[^>]*>'
                    r'<polyline points="([^"]+)"/></svg>', html)
    assert svg, html[:2000]
    points = [tuple(map(float, p.split(","))) for p in svg[1].split()]
    closes = from_sample("IBM")["close"].to_numpy()[-60:]
    assert len(points) == 60 and points[0][0] == 0 and points[-1][0] == 60
    # The highest close at the top of the box (y = 1), the lowest at the bottom (y = 19).
    assert points[int(np.argmax(closes))][1] == pytest.approx(1.0)
    assert points[int(np.argmin(closes))][1] == pytest.approx(19.0)


def test_the_table_sorts_on_the_server_by_any_column(app, client, jobs):
    token = _make(client, "MSFT ZZZZ IBM AAPL")
    run_cold_job(app, token)
    rows = client.get(f"/watchlists/{token}/rows.json").get_json()["rows"]
    changes = {r["ticker"]: r["change_pct"] for r in rows if r["status"] == "ok"}
    expected = sorted(sorted(changes), key=lambda t: changes[t], reverse=True) + ["ZZZZ"]
    html = client.get(f"/watchlists/{token}?sort=change&dir=desc").get_data(as_text=True)
    assert [t for t, _ in _rows(html)] == expected
    assert 'aria-sort="descending"' in html
    html = client.get(f"/watchlists/{token}?sort=ticker").get_data(as_text=True)
    assert [t for t, _ in _rows(html)] == ["AAPL", "IBM", "MSFT", "ZZZZ"]
    closes = {t: from_sample(t)["close"].iat[-1] for t in ("MSFT", "IBM", "AAPL")}
    html = client.get(f"/watchlists/{token}?sort=close").get_data(as_text=True)
    assert [t for t, _ in _rows(html)] == sorted(closes, key=closes.get) + ["ZZZZ"]
    for key in ("day", "trend", "band", "verdict", "fresh", "model"):
        answer = client.get(f"/watchlists/{token}?sort={key}&dir=desc")
        assert answer.status_code == 200 and _rows(answer.get_data(as_text=True))[-1][0] == "ZZZZ"


def test_a_bad_sort_or_horizon_is_a_422_sentence(client, jobs):
    token = _make(client, "IBM")
    answer = client.get(f"/watchlists/{token}?sort=price")
    assert answer.status_code == 422
    assert "sort &#39;price&#39; is not a column: expected one of ticker" in answer.get_data(
        as_text=True)
    for horizon in ("0", "31", "x"):
        answer = client.get(f"/watchlists/{token}/rows.json?horizon={horizon}")
        assert answer.status_code == 422
        assert "expected a whole number of trading days from 1 to 30" in answer.get_data(
            as_text=True)


def test_the_csv_has_the_tables_columns_and_rows(app, client, jobs):
    token = _make(client, "IBM ZZZZ =A1", name="Tech, mostly")
    run_cold_job(app, token)
    answer = client.get(f"/watchlists/{token}.csv?horizon=2")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="Tech-mostly-2d.csv"'
    text = answer.get_data(as_text=True)
    assert text.splitlines()[0] == SPEC_CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["ticker"] for r in rows] == ["IBM", "ZZZZ", "'=A1"]  # never a formula
    table = client.get(f"/watchlists/{token}/rows.json?horizon=2").get_json()
    ibm = table["rows"][0]
    assert float(rows[0]["change_pct"]) == ibm["change_pct"]
    assert float(rows[0]["last_close"]) == ibm["last_close"]
    assert rows[0]["stale"] == "false" and rows[0]["status"] == "ok"
    assert rows[1]["status"] == "error" and "ZZZZ" in rows[1]["reason"]
    assert rows[1]["last_close"] == ""
    sorted_csv = client.get(f"/watchlists/{token}.csv?sort=ticker&dir=desc").get_data(
        as_text=True)
    assert [r["ticker"] for r in csv.DictReader(io.StringIO(sorted_csv))][:2] == ["ZZZZ", "IBM"]


def test_add_to_watchlist_makes_a_list_then_appends_to_it(client, jobs):
    home = client.get("/?ticker=IBM").get_data(as_text=True)
    assert re.search(r'<form id="watchlist-add"[^>]*action="/watchlists"', home)
    assert "Add IBM to a new watchlist" in home
    answer = client.post("/watchlists", data={"ticker": "IBM"})
    assert answer.status_code == 303
    token = re.fullmatch(r"/watchlists/([^?]+)\?new=1", answer.headers["Location"])[1]
    forecast = client.get("/prediction/MSFT").get_data(as_text=True)
    assert f'action="/watchlists/{token}/add"' in forecast
    assert "Add MSFT to your watchlist" in forecast
    answer = client.post(f"/watchlists/{token}/add", data={"ticker": "msft"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/watchlists/{token}"
    html = client.get(f"/watchlists/{token}").get_data(as_text=True)
    assert [t for t, _ in _rows(html)] == ["IBM", "MSFT"]
    assert "MSFT is on this list." in html


def test_an_add_to_a_list_that_is_gone_starts_a_new_one(app, client, jobs):
    token = _make(client, "IBM")
    watchlists.delete(app.extensions["database"].engine, token)
    answer = client.post(f"/watchlists/{token}/add", data={"ticker": "MSFT"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?new=1")
    assert token not in answer.headers["Location"]
    # Someone else's token, not this browser's: a 404 sentence.
    answer = client.post(f"/watchlists/{'x' * 43}/add", data={"ticker": "MSFT"})
    assert answer.status_code == 404
    assert "no watchlist has this link" in answer.get_data(as_text=True)


def test_an_unknown_link_is_a_404_sentence_on_every_route(client):
    for path in ("/watchlists/nope", f"/watchlists/{'a' * 43}/rows.json",
                 f"/watchlists/{'a' * 43}.csv"):
        answer = client.get(path)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 404, path
        assert "no watchlist has this link" in body and "Traceback" not in body


@pytest.mark.parametrize("tickers, name, status, words", [
    (" ".join(f"T{i}" for i in range(51)), "Big", 413,
     "a watchlist holds at most 50 tickers through the pages"),
    ("IBM", "n" * 81, 422, "at most 80 characters"),
    ("IBM no!way", "Bad", 422, "ticker &#39;no!way&#39; is not valid"),
    ("  ", "Empty", 422, "no tickers were given"),
])
def test_a_refused_list_comes_back_with_the_sentence(client, tickers, name, status, words):
    answer = client.post("/watchlists", data={"name": name, "tickers": tickers})
    html = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert words in html, html[:3000]
    assert "Traceback" not in html and 'id="tickers"' in html


def test_lists_per_day_are_bounded_with_retry_after(make_app):
    client = make_app(WATCHLISTS_PER_DAY=1).test_client()
    _make(client, "IBM")
    answer = client.post("/watchlists", data={"name": "Two", "tickers": "MSFT"})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "WATCHLISTS_PER_DAY=1" in answer.get_data(as_text=True)


def test_a_refresh_is_queued_once_per_interval(app, client, jobs):
    token = _make(client, "IBM")
    first = client.post(f"/watchlists/{token}/refresh", data={}, follow_redirects=True)
    assert "prices are being fetched" in first.get_data(as_text=True)
    second = client.post(f"/watchlists/{token}/refresh", data={}, follow_redirects=True)
    assert "Not refreshed: this watchlist&#39;s prices were refreshed less than 300 seconds" \
        in second.get_data(as_text=True)
    assert [task for task, _ in jobs.calls].count("watch_refresh") == 1


def test_a_queue_that_fails_costs_the_fill_in_not_the_page(app, client, monkeypatch):
    recorder = record_watch_jobs(app, monkeypatch, fail=ConnectionError("redis is down"))
    token = _make(client, "IBM")
    assert client.get(f"/watchlists/{token}").status_code == 200
    recorder.fail = None
    client.get(f"/watchlists/{token}")  # the claim was given back: queued now
    assert recorder.calls == [("watch_cold", token)]


def test_without_a_database_lists_are_a_503_sentence(make_app, free_port):
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url).test_client()
    answer = client.post("/watchlists", data={"name": "x", "tickers": "IBM"})
    assert answer.status_code == 503
    answer = client.get(f"/watchlists/{'a' * 43}")
    assert answer.status_code == 503 and "database" in answer.get_data(as_text=True)


def _worker(app) -> Context:
    # The worker's parts, as run_cold_job builds them: the app's own settings, store and queue.
    return Context(settings=app.extensions["settings"], engine=app.extensions["database"].engine,
                   queue=app.extensions["jobs"], registry=app.extensions["registry"],
                   prices=app.extensions["price_cache"])


def test_a_ticker_with_no_prices_stored_is_computing_until_refresh_and_cold_jobs_ran(
        make_app, fake_yahoo, monkeypatch):
    app = make_app(PRICE_SOURCE="yahoo")  # a price store that holds nothing yet
    jobs = record_watch_jobs(app, monkeypatch)
    client = app.test_client()
    token = _make(client, "IBM")
    table = client.get(f"/watchlists/{token}/rows.json").get_json()
    [row] = table["rows"]
    assert (row["status"], table["pending"]) == ("computing", 1)
    assert "not stored yet" in row["reason"] and row["last_close"] is None
    assert sorted(jobs.calls) == [("watch_cold", token), ("watch_refresh", token)]
    html = client.get(f"/watchlists/{token}").get_data(as_text=True)
    assert 'data-pending="1"' in html and _rows(html) == [("IBM", "computing")]  # it polls
    assert "Fetching… IBM" in html
    sample = from_sample("IBM")
    fake_yahoo(history_frame(sample.index[-300:], close=list(sample["close"].to_numpy()[-300:])))
    watch_jobs.run_refresh(token, _worker(app))  # stores the prices, then runs the cold job
    table = client.get(f"/watchlists/{token}/rows.json").get_json()
    [row] = table["rows"]
    assert (row["status"], table["pending"], table["refreshing"]) == ("ok", 0, False)
    assert row["source"] == "yahoo" and row["last_close"] == pytest.approx(
        sample["close"].iloc[-1], rel=1e-6)
    assert row["forecast_close"] is not None


def test_refreshing_is_read_from_the_jobs_progress_and_the_page_polls_meanwhile(
        app, client, jobs):
    token = _make(client, "IBM")
    run_cold_job(app, token)
    queue = app.extensions["jobs"]
    assert client.get(f"/watchlists/{token}/rows.json").get_json()["refreshing"] is False
    queue.put_progress("watch:" + token, {"phase": "refresh", "done": 0, "total": 1})
    table = client.get(f"/watchlists/{token}/rows.json").get_json()
    assert (table["refreshing"], table["pending"]) == (True, 0)
    html = client.get(f"/watchlists/{token}").get_data(as_text=True)
    assert 'data-refreshing="true"' in html and "Fetching this list" in html
    queue.clear_progress("watch:" + token)
    html = client.get(f"/watchlists/{token}").get_data(as_text=True)
    assert 'data-refreshing="false"' in html
    # "Refresh prices": the page it lands on polls until the queued job has run.
    answer = client.post(f"/watchlists/{token}/refresh", data={})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("refreshed=1")
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'data-refreshing="true"' in html


def test_a_lists_rows_count_as_forecasts_one_a_call(make_app, monkeypatch):
    app = make_app(RATE_LIMIT_FORECASTS="3 per minute", RATE_LIMIT_OTHER="100 per minute")
    record_watch_jobs(app, monkeypatch)
    client = app.test_client()
    token = _make(client, "IBM MSFT ZZZZ")  # making a list is not a forecast
    for path in (f"/watchlists/{token}", f"/watchlists/{token}/rows.json",
                 f"/watchlists/{token}.csv"):
        assert client.get(path).status_code == 200, path
    for path in (f"/api/v1/watchlists/{token}/rows", f"/watchlists/{token}/rows.json",
                 "/prediction/IBM"):  # one count shared with the single forecasts
        answer = client.get(path)
        assert answer.status_code == 429, path
        assert "Too many forecasts from your address: the limit is 3 a minute" in \
            answer.get_data(as_text=True)
    # Reading or changing the list itself is not a forecast.
    assert client.get(f"/api/v1/watchlists/{token}").status_code == 200


def test_every_page_links_to_making_a_watchlist_in_its_nav(client):
    for path in ("/", "/predict", "/watchlists/new"):
        page = client.get(path).get_data(as_text=True)
        nav = page.split('<nav aria-label="Main">')[1].split("</nav>")[0]
        assert '<a href="/watchlists/new">Watchlist</a>' in nav, path

"""Serving: forecasts are slices of tables built once, one BLAS thread, answers that stay put."""

from __future__ import annotations

import io

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from stockPredictor.data import csv as price_csv
from stockPredictor.data.frame import finish
from stockPredictor.data.sample import SAMPLE_TICKERS, from_sample
from stockPredictor.data.synthetic import synthetic
from stockPredictor.data import sample
from stockPredictor.errors import SettingError
from stockPredictor.forecast.tables import BLOCK_ROWS
from stockPredictor.settings import Settings


def forecast(client, **body) -> dict:
    answer = client.post("/api/v1/forecast", json=body)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_start_up_builds_the_sample_tables_and_requests_only_slice_them(make_app):
    app = make_app(PRELOAD_TABLES=True)
    cache = app.extensions["tables"]
    blocks = sum(-(-len(from_sample(t)) // BLOCK_ROWS) for t in SAMPLE_TICKERS)
    assert len(cache) == blocks
    misses, client = cache.misses, app.test_client()
    for ticker, horizon, as_of in (("IBM", 1, None), ("IBM", 30, "2001-06-01"),
                                   ("MSFT", 7, "2008-10-10"), ("AAPL", 12, "2012-01-03"),
                                   ("GOOG", 4, None), ("FB", 2, "2013-02-01")):
        extra = {"as_of": as_of} if as_of else {}
        body = forecast(client, ticker=ticker, horizon=horizon, **extra)
        assert len(body["forecast"]) == horizon and body["track_record"]["available"]
    assert len(cache) == blocks and cache.misses == misses  # nothing was computed again


def test_distinct_requests_read_the_blocks_the_first_one_built(client, app):
    cache = app.extensions["tables"]
    forecast(client, ticker="IBM")
    built = len(cache)
    assert 0 < built <= 2  # the latest forecast reads its last ~280 origins: one or two blocks
    for horizon in (1, 5, 17, 30):
        for as_of in ("2013-02-28", "2013-01-02", "2012-11-01"):
            forecast(client, ticker="IBM", horizon=horizon, as_of=as_of)
    assert len(cache) == built
    forecast(client, ticker="IBM", as_of="2005-06-01")
    assert len(cache) > built  # another year, other blocks: built once, then sliced
    grown = len(cache)
    forecast(client, ticker="IBM", as_of="2005-06-02", horizon=9)
    assert len(cache) == grown


def test_the_sample_answers_the_same_from_one_request_to_the_next(client, monkeypatch):
    first = forecast(client, ticker="IBM")
    real = finish

    def stamped_later(*args, **kwargs):  # were the sample read again, it would say so
        frame = real(*args, **kwargs)
        frame.attrs["fetched_at"] = "2099-01-01T00:00:00+00:00"
        return frame

    monkeypatch.setattr(sample, "finish", stamped_later)
    assert forecast(client, ticker="IBM") == first


def test_preload_follows_the_price_source_unless_set():
    assert Settings.read({}, {"PRICE_SOURCE": "sample"}).preloads is True
    assert Settings.read({}, {"PRICE_SOURCE": "auto"}).preloads is False
    assert Settings.read({}, {"PRICE_SOURCE": "sample", "PRELOAD_TABLES": "0"}).preloads is False
    with pytest.raises(SettingError, match="PRELOAD_TABLES"):
        Settings.read({}, {"PRELOAD_TABLES": "sometimes"})
    with pytest.raises(SettingError, match="TABLE_CACHE_MB"):
        Settings.read({"TABLE_CACHE_MB": "lots"})


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_the_app_limits_blas_to_one_thread_unless_told_not_to(make_app):
    with threadpool_limits(limits=2, user_api="blas"):
        make_app(BLAS_THREADS=0)
        assert blas_threads() == {2}  # left alone
        make_app()
        assert blas_threads() == {1}


def test_a_long_upload_keeps_its_latest_days_and_says_so(client):
    walk = synthetic("random_walk", n=price_csv.MAX_DAILY_ROWS + 200, seed=5, ticker="LONG",
                     start="1990-01-01")
    lines = ["Date,Open,High,Low,Close,Volume"] + [
        f"{d:%Y-%m-%d},{r.open:.4f},{r.high:.4f},{r.low:.4f},{r.close:.4f},{r.volume:.0f}"
        for d, r in zip(walk.index, walk.itertuples())]
    data = "\n".join(lines).encode()
    answer = client.post("/api/v1/forecast", data={"file": (io.BytesIO(data), "LONG.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    kept = f"{price_csv.MAX_DAILY_ROWS:,}"
    assert f"the most recent {kept} were kept" in body["data"]["notice"]
    # Judged on the days kept: the first origin is the first with a full window within them.
    window = 60 + 1  # the general model's (window 60), in rows of prices
    assert body["model"] == "general"
    assert body["track_record"]["start"] == f"{walk.index[200 + window - 1]:%Y-%m-%d}"
    page = client.post("/predict", data={"file": (io.BytesIO(data), "LONG.csv")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert page.status_code == 200 and f"the most recent {kept} were kept" in page.get_data(
        as_text=True)

"""A watchlist's batched pass gives the numbers of single forecasts (report.build), ticker by
ticker, on a list of mixed good and bad tickers and two models.

The runtime is not batch-invariant: a window forecast in a batch of newest windows may differ
from the table's in the last float32 bit, so point forecasts and band bounds are compared with
rtol 1e-6; everything read from the tables (widths, records, p-values) and everything rendered
(rounded prices, percentages, sentences) must be identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from stockPredictor import rounding
from stockPredictor.data.info import summary as info_summary
from stockPredictor.data.synthetic import synthetic
from stockPredictor.errors import DataError, UnknownTickerError
from stockPredictor.forecast import predict, report, tables, watch
from stockPredictor.forecast.bands import LEVELS
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.model.registry import Registry
from stockPredictor.model.runtime import RuntimeModel

RTOL = 1e-6  # float32 rounding of a batch of different size (test_runtime documents it)
HORIZONS = (1, 4, 15, 30)  # the general model serves no change up to 10 days
# Ticker-like names with lengths from several years down to too short for a window. 110 rows
# give a record of fewer than 30 steps at horizon 1 and too few origins at 30; 61 rows (one
# window exactly) give no track record at all; 62 one origin (for the general model: its
# window needs 61 rows; the IBM model's 21).
LENGTHS = {"AB": 1300, "XYZ1": 900, "Q.TO": 700, "BRK-B": 520, "MSFT": 400, "C": 300,
           "GE": 260, "IBM": 1100, "T": 200, "SHRT": 110, "ZZ9": 150, "ONE": 61, "TWO": 62,
           "V": 95, "KO.L": 640, "NVDA": 1000, "AMD": 90, "ERIC-B.ST": 480}
TOO_SHORT = {"TINY": 40, "JUST": 60, "MINI": 15}


def _verdict_word(verdict: str) -> str:
    """beats_naive read off build's sentence, independently of how rows decide it."""
    for words, word in (("serves the no-change", "no change served"), ("too few", "too few"),
                        ("more accurate", "better"), ("less accurate", "worse"),
                        ("no measurable difference", "no difference")):
        if words in verdict:
            return word
    raise AssertionError(f"no known judgement in {verdict!r}")


@pytest.fixture(scope="module")
def registry():
    return Registry().load()


@pytest.fixture(scope="module")
def listed(registry):
    """The list: frames (and failures) by ticker, the model of each, in a stable order."""
    general, ibm = registry.get("general"), registry.get("ibm")
    frames, models = {}, {}
    for i, (ticker, n) in enumerate({**LENGTHS, **TOO_SHORT}.items()):
        frames[ticker] = synthetic(n=n, seed=100 + i, ticker=ticker)
        frames[ticker].attrs["name"] = f"{ticker} Corp"
        models[ticker] = ibm if i % 3 == 0 else general
    for ticker in ("SHRT", "ONE", "TWO", "TINY", "JUST"):  # lengths chosen for its window
        models[ticker] = general
    frames["NOPE"] = UnknownTickerError("NOPE is not a ticker Yahoo Finance knows")
    frames["BOOM"] = OSError("/srv/app/secret: disk on fire")
    models["NOPE"] = models["BOOM"] = general
    return frames, models


@pytest.fixture(scope="module")
def summaries(listed):
    """Every summary, computed as the worker computes them: with a private table cache."""
    frames, models = listed
    cache = ByteBoundedLRU(1 << 30)
    found = {}
    for ticker in LENGTHS:
        summary = watch.summarise(frames[ticker], models[ticker], cache)
        found[summary.key] = summary
    return found


@pytest.fixture(scope="module")
def web_cache():
    """The serving process's table cache, apart from the worker's."""
    return ByteBoundedLRU(1 << 30)


def test_the_keys_are_the_summaries_keys(listed, summaries):
    frames, models = listed
    keys = watch.keys(frames, models)
    assert set(keys) == set(LENGTHS) | set(TOO_SHORT)  # no key without a frame
    assert {keys[t] for t in LENGTHS} == set(summaries)
    assert all(len(key[0]) == 32 and len(key[2]) == 64 for key in keys.values())
    # One digest per model, two models: the digest names the model, not the ticker.
    assert len({keys[t][0] for t in keys}) == 2


@pytest.mark.parametrize("horizon", HORIZONS)
def test_rows_equal_single_forecasts(listed, summaries, web_cache, horizon):
    frames, models = listed
    rows = watch.rows(frames, models, summaries, horizon)
    assert [row.ticker for row in rows] == list(frames)
    for row in rows:
        if row.ticker not in LENGTHS:
            continue
        frame, model = frames[row.ticker], models[row.ticker]
        answer = report.build(frame, model, horizon=horizon, cache=web_cache)
        document, got = answer.to_dict(), row.to_dict()
        assert row.status == "ok" and row.reason is None, row
        # Point forecast and bands: float32 batches round the last bit their own way.
        np.testing.assert_allclose(row.forecast, answer.forecast.closes, rtol=RTOL, atol=0)
        assert set(row.bands) == set(answer.forecast.bands)
        for level, (low, high) in answer.forecast.bands.items():
            np.testing.assert_allclose(row.bands[level][0], low, rtol=RTOL, atol=0)
            np.testing.assert_allclose(row.bands[level][1], high, rtol=RTOL, atol=0)
        # Everything else identical, as rendered.
        step = document["forecast"][horizon - 1]
        last = document["last_close"]
        info = info_summary(frame)
        expected = {"ticker": row.ticker, "status": "ok", "reason": None,
                    "name": f"{row.ticker} Corp", "model": document["model"],
                    "as_of": document["as_of"], "last_close": last,
                    "last_date": document["data"]["last_date"],
                    "day_change_pct": info["change_pct"],
                    "sparkline": rounding.prices(frame["close"].to_numpy()[-60:]),
                    "forecast_close": step["close"],
                    "change_pct": round((step["close"] / last - 1) * 100, 2),
                    "low_pct": round((step["low"] / last - 1) * 100, 2) if "low" in step
                    else None,
                    "high_pct": round((step["high"] / last - 1) * 100, 2) if "high" in step
                    else None,
                    "level": document["level"], "source": document["data"]["source"],
                    "stale": document["data"]["stale"],
                    "age_days": document["data"]["age_days"],
                    "freshness": document["data"]["notice"]}
        record = document["track_record"]
        if not record["available"]:
            expected.update(beats_naive=None, verdict=record["reason"], p_value=None,
                            mae_ratio=None, origins=None)
        else:
            judged = record["origins"] >= 30
            expected.update(
                beats_naive=_verdict_word(record["verdict"]), verdict=record["verdict"],
                origins=record["origins"],
                p_value=record["p_value_vs_naive"][horizon - 1] if judged else None,
                mae_ratio=record["mae_vs_naive"][horizon - 1] if judged else None)
        assert got == expected, row.ticker


def test_summaries_hold_what_build_reads(listed, summaries, web_cache):
    frames, models = listed
    keys = watch.keys(frames, models)
    for ticker in LENGTHS:
        frame, model = frames[ticker], models[ticker]
        summary = summaries[keys[ticker]]
        # The widths, worked out again from the serving cache's table with reads of its own.
        table = tables.table_for(frame, model, web_cache)
        row = len(frame) - 1
        positions = predict.band_positions(table, row, table.steps)
        widths = predict.band_widths(table, row, table.steps, LEVELS,
                                     table.forecasts(positions, table.steps))
        assert set(summary.widths) == set(widths)
        for level, width in widths.items():
            np.testing.assert_array_equal(summary.widths[level], width)  # exact, NaN == NaN
        record = report.build(frame, model, horizon=1, cache=web_cache).record
        assert summary.record == {k: v for k, v in record.items()
                                  if k not in ("past", "verdict", "horizon")}
        assert summary.as_of == frame.index[-1].strftime("%Y-%m-%d")
        assert summary.model_name == model.name


def test_a_short_series_is_not_judged_at_a_long_horizon(listed, summaries):
    frames, models = listed
    frame = frames["SHRT"]  # 110 rows: 49 origins past the first window's
    assert watch.summarise(frame, models["SHRT"]).steps < 30
    one, thirty = (watch.rows({"SHRT": frame}, models, summaries, h)[0].to_dict()
                   for h in (1, 30))
    # 20 steps of 30 origins each at horizon 1; at 30, the 20 origins 30 days before the end.
    assert one["origins"] == 30 and thirty["origins"] == 20
    assert thirty["beats_naive"] == "too few"
    assert thirty["p_value"] is None and thirty["mae_ratio"] is None


def test_bad_tickers_get_their_reason_and_never_fail_the_list(listed, summaries):
    frames, models = listed
    rows = {row.ticker: row for row in watch.rows(frames, models, summaries, 4)}
    for ticker in TOO_SHORT:
        with pytest.raises(DataError) as single:
            report.build(frames[ticker], models[ticker], horizon=4)
        assert rows[ticker].status == "error" and rows[ticker].reason == str(single.value)
    assert rows["NOPE"].reason == "NOPE is not a ticker Yahoo Finance knows"
    # An unexpected failure is named, never told: no path, no exception text.
    assert rows["BOOM"].status == "error" and "/srv" not in rows["BOOM"].reason
    assert "BOOM" in rows["BOOM"].reason
    for ticker in (*TOO_SHORT, "NOPE", "BOOM"):
        document = rows[ticker].to_dict()
        assert set(document) == set(watch.FIELDS)
        assert document["forecast_close"] is None and document["last_close"] is None
    assert sum(row.status == "ok" for row in rows.values()) == len(LENGTHS)


def test_a_ticker_without_summary_is_computing_with_its_prices(listed, summaries):
    frames, models = listed
    keys = watch.keys(frames, models)
    fewer = {key: s for key, s in summaries.items() if key != keys["GE"]}
    row = {r.ticker: r for r in watch.rows(frames, models, fewer, 4)}["GE"]
    document = row.to_dict()
    assert row.status == "computing" and document["forecast_close"] is None
    assert document["last_close"] == rounding.price(frames["GE"]["close"].iat[-1])
    assert len(document["sparkline"]) == 60 and document["verdict"] is None
    # A summary of other prices (yesterday's) is not this ticker's.
    changed = frames["GE"].copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.01
    moved = watch.rows({"GE": changed}, models, summaries, 4)[0]
    assert moved.status == "computing"


def test_a_ticker_whose_summary_failed_is_an_error_row_with_its_reason(listed, summaries):
    frames, models = listed
    keys = watch.keys(frames, models)
    failed = {**summaries, keys["GE"]: watch.Failed("the model's table could not be built")}
    found = {r.ticker: r for r in watch.rows(frames, models, failed, 4, keyed=keys)}
    document = found["GE"].to_dict()
    assert (document["status"], document["reason"]) == (
        "error", "the model's table could not be built")
    assert document["forecast_close"] is None and document["verdict"] is None
    # The others keep their rows: one failure never fails the list.
    assert all(r.status == "ok" for t, r in found.items()
               if t != "GE" and summaries.get(keys.get(t)) is not None)
    with pytest.raises(AttributeError):  # frozen: stored once, read as stored
        failed[keys["GE"]].reason = "other"


def test_one_runtime_call_per_model(listed, summaries, monkeypatch):
    frames, models = listed
    batches = []
    real = RuntimeModel.__call__

    def counting(self, x):
        batches.append(len(x))
        return real(self, x)

    monkeypatch.setattr(RuntimeModel, "__call__", counting)
    watch.rows(frames, models, summaries, 4)
    per_model = {}
    for ticker in LENGTHS:
        per_model[models[ticker].name] = per_model.get(models[ticker].name, 0) + 1
    assert sorted(batches) == sorted(per_model.values())


@pytest.mark.parametrize("horizon", [0, 31, "4", True])
def test_a_bad_horizon_is_refused_for_the_whole_list(listed, summaries, horizon):
    frames, models = listed
    with pytest.raises(DataError, match="horizon"):
        watch.rows(frames, models, summaries, horizon)


def test_the_batched_windows_are_the_tables_windows(listed):
    frames, models = listed
    for model in {id(m): m for m in models.values()}.values():
        chosen = [t for t in LENGTHS if models[t] is model]
        closes = [frames[t]["close"].to_numpy() for t in chosen]
        # The table's windows over the whole series, at its last row: exactly the same values.
        each = [model.windowing.inputs(c, ends=np.array([len(c) - 1])) for c in closes]
        batched = watch.windows(model, closes)
        assert batched.dtype == np.float32 and batched.shape[0] == len(chosen)
        assert batched.tobytes() == np.concatenate(each).tobytes()

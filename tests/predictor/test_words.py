"""The forecast in plain words: the sentences say what the numbers say, and no jargon."""

from __future__ import annotations

import pytest
from stockPredictor.data.sample import from_sample
from stockPredictor.forecast import report, words
from stockPredictor.model.registry import Registry
from stockPredictor.settings import BUNDLED_MODELS

JARGON = ("naive", "serves", "validation data", "p =", "p <", "drift", "tries", "Diebold")


@pytest.fixture(scope="module")
def registry():
    return Registry(BUNDLED_MODELS).load()


def document(horizon=3, weights_used=None, **changes) -> dict:
    """A small report document: a last close of 100 and a forecast that climbs 1 a day."""
    dates = [f"2020-01-{d:02d}" for d in range(2, 2 + horizon)]
    doc = {"ticker": "ACME", "as_of": "2020-01-01", "last_close": 100.0, "horizon": horizon,
           "level": 0.8,
           "forecast": [{"date": d, "close": 100.0 + i + 1, "low": 95.0 - i, "high": 105.0 + i}
                        for i, d in enumerate(dates)],
           "track_record": {"available": True, "origins": 250, "start": "2019-01-02",
                            "end": "2019-12-20", "mae_vs_naive": [0.9] * 30,
                            "p_value_vs_naive": [0.01] * 30, "coverage": [0.78] * 30,
                            "origins_in_training": 0},
           "outcome": None, "model_info": {"scope": "general", "tickers": ["IBM", "MSFT"]}}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("p, said", [(0.001, "unlikely to be chance"),
                                     (0.0499, "unlikely to be chance"),
                                     (0.05, "could easily be chance"),
                                     (1.0, "could easily be chance"), (None, None)])
def test_a_p_value_in_words(p, said):
    assert words.p_words(p) == said


@pytest.mark.parametrize("steps, said", [([4], "day 4"), ([1, 2, 3], "days 1–3"),
                                         ([1, 2, 3, 7], "days 1–3 and 7"),
                                         ([1, 3, 5, 6], "days 1, 3 and 5–6")])
def test_days_as_ranges(steps, said):
    assert words.day_ranges(steps) == said


def test_a_moving_forecast_names_its_price_change_and_band():
    said = words.summary(document(), [0.5] * 30)
    # Day 3: 103 from 100 is +3.0%; its band 93 to 107.
    assert said["headline"] == ("ACME: 103.00 expected on 2020-01-04, 3 trading days ahead "
                                "(+3.0% from the close of 100.00 on 2020-01-01). The 80% band on "
                                "2020-01-04 runs from 93.00 to 107.00.")
    assert said["trust"] == ("Over the last 250 trading days, its forecasts 3 days ahead missed "
                             "the close by 10.0% less than “no change” did: a gap that is "
                             "unlikely to be chance.")
    assert said["coverage"] == ("Over the last 250 trading days, the close 3 days ahead fell "
                                "inside the 80% band 78.0% of the time, against the 80% it aims "
                                "for.")
    assert said["days"] is None


def test_a_forecast_of_no_change_says_so_and_why():
    said = words.summary(document(), [0.0] * 30)
    assert said["headline"].startswith("ACME: no change expected over the next 3 trading days")
    assert "so the forecast is the last close" in said["trust"]
    assert "less than" not in said["trust"]


@pytest.mark.parametrize("ratio, way", [(1.05, "5.0% more"), (0.9952, "0.5% less")])
def test_a_gap_that_could_be_chance_says_which_way_and_claims_nothing(ratio, way):
    doc = document(track_record={**document()["track_record"], "p_value_vs_naive": [0.3] * 30,
                                 "mae_vs_naive": [ratio] * 30})
    said = words.summary(doc, [1.0] * 30)["trust"]
    assert said.endswith(f"missed the close by {way} than “no change” did: a gap that could "
                         "easily be chance."), said


def test_a_mixed_forecast_says_which_days_are_the_last_close():
    said = words.summary(document(horizon=5), [0.0, 0.0, 0.2, 0.4, 0.4] + [1.0] * 25)
    assert said["days"].startswith("Days 1–2 are the last close")
    assert "Days 3–5 add part of its move" in said["days"]
    whole = words.summary(document(horizon=5), [0.0, 0.0, 1.0, 1.0, 1.0] + [1.0] * 25)
    assert "Days 3–5 add all of its move" in whole["days"]
    single = words.summary(document(horizon=2), [0.0, 0.3] + [1.0] * 28)["days"]
    assert single == ("Day 1 is the last close: at that horizon the model's own move did not "
                      "beat “no change” convincingly on years it was not trained on. Day 2 adds "
                      "part of its move, which did a little better than “no change” on those "
                      "years.")


def test_a_one_ticker_model_on_another_ticker_is_flagged():
    doc = document(model_info={"scope": "ticker", "tickers": ["IBM"]})
    assert words.summary(doc, [0.0] * 30)["warning"] == (
        "This model was trained on IBM alone, not on ACME: its track record on ACME is what to "
        "judge it by.")
    own = document(ticker="IBM", model_info={"scope": "ticker", "tickers": ["IBM"]})
    assert words.summary(own, [0.0] * 30)["warning"] is None


def test_an_outcome_has_the_prices_decimals_and_the_band_count():
    outcome = {"days": 3, "mean_error": -0.0863, "mean_absolute_error": 1.9401,
               "mean_absolute_percent": 1.234, "level": 0.8, "inside": 2}
    said = words.summary(document(outcome=outcome), [0.5] * 30)["outcome"]
    assert said == ("What happened: on the 3 days whose close is known, the forecast was off by "
                    "1.94 on average (1.2% of the price), and 0.09 below the close on balance; "
                    "2 of 3 closes fell inside the 80% band.")
    even = words.summary(document(outcome={**outcome, "mean_error": 0.001}), [0.5] * 30)
    assert "and neither above nor below the close on balance;" in even["outcome"]


@pytest.mark.parametrize("ticker, horizon, as_of", [("MSFT", 30, None), ("IBM", 10, "2012-06-01"),
                                                    ("AAPL", 1, None)])
def test_real_reports_are_in_plain_words(registry, ticker, horizon, as_of):
    answer = report.build(from_sample(ticker), registry.model_for(ticker), horizon, as_of)
    said = answer.to_dict()["summary"]
    text = " ".join(filter(None, said.values()))
    for jargon in JARGON:
        assert jargon.lower() not in text.lower(), (jargon, text)
    assert said["headline"].startswith(f"{ticker}: ")
    assert (said["outcome"] is not None) == (as_of is not None)


def test_days_without_a_band_are_named_with_the_reason():
    assert words.no_band([]) is None
    assert words.no_band([11, 12, 13]).startswith("Days 11–13 have no band: fewer than 60 past ")
    assert words.no_band([2, 5]).startswith("Days 2 and 5 have no band:")
    assert words.no_band([30]).startswith("Day 30 has no band:")
    for jargon in JARGON:
        assert jargon.lower() not in words.no_band([30]).lower()

"""Forecasts: same numbers as Keras, only past data used, trading-day dates, valid horizons."""

import keras
import numpy as np
import pandas as pd
import pytest

from stockPredictor.model import artifacts
from stockPredictor.forecast import tables
from stockPredictor.data.sources import load as load_prices
from stockPredictor.errors import DataError
from stockPredictor.forecast.evaluate import backtest
from stockPredictor.forecast.predict import forecast
from stockPredictor.settings import BUNDLED_MODELS
from stockPredictor.data.calendar import is_trading_day


def test_train_save_load_forecast_gives_keras_numbers(tiny_artifact, walk):
    reloaded = artifacts.load(tiny_artifact.path)
    result = forecast(walk, reloaded, horizon=5)
    keras_model = keras.models.load_model(tiny_artifact.path / "model.h5", compile=False)
    x = reloaded.windowing.inputs(walk)
    last = walk["close"].iloc[-1]
    raw = reloaded.windowing.decode(keras_model.predict(x, verbose=0), last)[:, :5]
    # Served: the policy recorded by train, log(served / last) = w * log(raw / last) per step.
    weights = np.array(reloaded.metadata["policy"]["weights"][:5])
    expected = last * np.exp(weights * np.log(raw[0] / last))
    np.testing.assert_allclose(result.closes, expected, rtol=1e-5)
    table = tables.table_for(walk, reloaded)
    np.testing.assert_allclose(table.forecasts([len(walk) - 1], 5, raw=True), raw, rtol=1e-5)
    again = forecast(walk, artifacts.load(tiny_artifact.path), horizon=5)
    np.testing.assert_array_equal(result.closes, again.closes)


def test_forecast_sees_nothing_after_as_of(tiny_artifact, walk):
    as_of = walk.index[300]
    before = forecast(walk, tiny_artifact, horizon=3, as_of=as_of)
    shocked = walk.copy()
    shocked.iloc[301:, :4] *= 3.0  # a jump right after the origin
    after = forecast(shocked, tiny_artifact, horizon=3, as_of=as_of)
    np.testing.assert_array_equal(before.closes, after.closes)
    assert before.as_of == as_of and before.last_close == walk["close"].iloc[300]
    assert before.dates[0] > as_of


def test_as_of_on_a_weekend_uses_the_friday_before(tiny_artifact, walk):
    saturday = walk.index[200] + pd.offsets.Week(weekday=5)
    result = forecast(walk, tiny_artifact, as_of=saturday)
    assert result.as_of == walk.index[walk.index <= saturday][-1]


def test_dates_follow_the_calendar(tiny_artifact, walk):
    equity = forecast(walk, tiny_artifact, horizon=5)
    assert all(is_trading_day(d) for d in equity.dates)
    crypto = walk.copy()
    crypto.attrs["calendar"] = "crypto"
    dates = forecast(crypto, tiny_artifact, horizon=5).dates
    assert list(dates) == list(pd.date_range(walk.index[-1] + pd.Timedelta(days=1), periods=5))


def test_log_return_model_serves_any_price_level(tiny_artifact, walk):
    richer = walk.copy()
    richer[["open", "high", "low", "close"]] *= 1000.0
    base = forecast(walk, tiny_artifact, horizon=4).closes
    np.testing.assert_allclose(forecast(richer, tiny_artifact, horizon=4).closes, base * 1000,
                               rtol=1e-4)


@pytest.mark.parametrize("horizon", [0, -1, 6, 31, 2.5, "3", True])
def test_bad_horizon_is_refused(tiny_artifact, walk, horizon):
    with pytest.raises(DataError, match="horizon"):
        forecast(walk, tiny_artifact, horizon=horizon)


@pytest.mark.parametrize("as_of,message", [("1999-01-01", "1999-01-01 is too early"),
                                           ("not a date", "not a date"),
                                           ("2010-01-07", "needs 6 trading days")])
def test_bad_as_of_is_refused(tiny_artifact, walk, as_of, message):
    with pytest.raises(DataError, match=message):
        forecast(walk, tiny_artifact, as_of=as_of)


def test_to_dict_has_the_documented_shape(tiny_artifact, walk):
    data = forecast(walk, tiny_artifact, horizon=2).to_dict()
    assert set(data) == {"ticker", "model", "as_of", "source", "last_close", "forecast", "level",
                         "notices"}
    assert data["notices"] == []
    assert data["ticker"] == "WALK" and data["source"] == "synthetic" and data["level"] == 0.8
    assert [set(row) for row in data["forecast"]] == [{"date", "close", "low", "high"}] * 2
    plain = forecast(walk, tiny_artifact, horizon=2, level=None).to_dict()
    assert set(plain) == {"ticker", "model", "as_of", "source", "last_close", "forecast",
                          "notices"}
    assert [set(row) for row in plain["forecast"]] == [{"date", "close"}] * 2


def test_an_as_of_after_the_last_price_is_moved_there_with_a_notice(tiny_artifact, walk):
    last = walk.index[-1]
    later = forecast(walk, tiny_artifact, horizon=2, as_of=last + pd.Timedelta(days=40))
    assert later.as_of == last
    np.testing.assert_array_equal(later.closes, forecast(walk, tiny_artifact, horizon=2).closes)
    assert later.notices == (f"The prices end on {last.date()}, before the as-of date "
                             f"{(last + pd.Timedelta(days=40)).date()}, so the forecast is made "
                             f"from {last.date()}.",)
    assert forecast(walk, tiny_artifact, horizon=2, as_of=last).notices == ()


def test_forecast_on_the_bundled_sample(tiny_artifact):
    ibm = load_prices("IBM", "sample")
    result = forecast(ibm, tiny_artifact, horizon=5)
    assert result.as_of == pd.Timestamp("2013-03-01")
    assert result.dates[0] == pd.Timestamp("2013-03-04")
    assert np.isfinite(result.closes).all() and (result.closes > 0).all()


def test_bands_surround_the_forecast_and_widen_with_the_step(tiny_artifact, walk):
    result = forecast(walk, tiny_artifact, horizon=5)
    assert result.level == 0.8
    assert (result.lows < result.closes).all() and (result.closes < result.highs).all()
    assert np.all(np.diff(np.log(result.highs / result.closes)) >= 0)
    wider = forecast(walk, tiny_artifact, horizon=5, level=0.95)
    assert (wider.lows <= result.lows).all() and (wider.highs >= result.highs).all()
    assert list(result.to_frame().columns) == ["close", "low", "high"]


def test_bands_see_nothing_after_as_of(tiny_artifact, walk):
    as_of = walk.index[300]
    shocked = walk.copy()
    shocked.iloc[301:, :4] *= 3.0
    before = forecast(walk, tiny_artifact, horizon=5, as_of=as_of)
    after = forecast(shocked, tiny_artifact, horizon=5, as_of=as_of)
    np.testing.assert_array_equal(before.lows, after.lows)
    np.testing.assert_array_equal(before.highs, after.highs)


def test_too_little_history_gives_no_band_rather_than_an_error(tiny_artifact, walk):
    result = forecast(walk, tiny_artifact, horizon=5, as_of=walk.index[30])
    assert result.level is None and result.lows is None and result.highs is None
    assert "level" not in result.to_dict() and list(result.to_frame().columns) == ["close"]


def test_forecast_bands_match_the_backtest_at_the_same_origin():
    general = artifacts.load(BUNDLED_MODELS / "general")
    ibm = load_prices("IBM", "sample")
    run = backtest(ibm, general, horizon=5, start="2012-11-01", end="2012-12-31")
    origin = run.origins[7]
    one = forecast(ibm, general, horizon=5, as_of=origin)
    np.testing.assert_allclose(one.closes, run.forecasts["general"][7], rtol=1e-6)
    np.testing.assert_allclose(one.lows, run.lows["general"][7], rtol=1e-6)
    np.testing.assert_allclose(one.highs, run.highs["general"][7], rtol=1e-6)


@pytest.mark.parametrize("level", [0.0, 1.0, 80])
def test_bad_level_is_refused(tiny_artifact, walk, level):
    with pytest.raises(DataError, match=f"level={level!r}"):
        forecast(walk, tiny_artifact, level=level)

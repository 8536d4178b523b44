"""Forecast tables: the same numbers as one origin computed at a time, built once, bounded."""

from __future__ import annotations

import numpy as np
import pytest

from stockPredictor.model import artifacts
from stockPredictor.forecast import tables
from stockPredictor.data.sample import from_sample
from stockPredictor.data.synthetic import synthetic
from stockPredictor.forecast.bands import VOLATILITY_DECAY, conformal_quantile
from stockPredictor.errors import DataError
from stockPredictor.forecast.evaluate import backtest
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.forecast.metrics import rounded
from stockPredictor.forecast.predict import forecast, usable_dates
from stockPredictor.settings import BUNDLED_MODELS
from stockPredictor.forecast.track_record import track_record

# float32 batches of different sizes may round the last bit differently (test_runtime).
RTOL = 1e-6


@pytest.fixture(scope="module")
def models():
    """The committed models, as the web app serves them."""
    return {name: artifacts.load(BUNDLED_MODELS / name) for name in ("general", "ibm")}


class Direct:
    """The model's forecasts computed the slow way: one origin at a time, from its own history."""

    def __init__(self, frame, model):
        self.frame, self.model = frame, model
        self.closes = frame["close"].to_numpy()
        self.first = model.windowing.rows_needed - 1
        steps = model.config.output_steps
        self.weights = np.array((model.metadata.get("policy") or {}).get("weights", [1.0] * steps))
        self._memo = {}

    def forecast(self, row: int) -> np.ndarray:
        """All the model's steps at origin ``row`` as served, from the prices up to it alone."""
        if row not in self._memo:
            history = self.frame.iloc[:row + 1]
            x = self.model.windowing.inputs(history)  # the window ending at ``row``
            raw = self.model.windowing.decode(self.model.model(x), self.closes[row])[0]
            last = self.closes[row]
            self._memo[row] = np.array([last if w == 0 else last * (f / last) ** w
                                        for f, w in zip(raw, self.weights)])
        return self._memo[row]

    def sigma(self, row: int) -> float:
        """VOLATILITY_DECAY-weighted RMS of the last 100 daily log returns up to ``row``."""
        returns = np.diff(np.log(self.closes[max(0, row - 100):row + 1]))
        if len(returns) < 20:
            return np.nan
        weights = VOLATILITY_DECAY ** np.arange(len(returns))[::-1]
        return max(np.sqrt(np.sum(weights * returns ** 2) / np.sum(weights)), 1e-4)

    def scale(self, row: int, h: int) -> float:
        """The volatility expected over h days at ``row``: day k weighs today's variance by
        0.9^(k-1) and the mean square of the last 1000 returns by the rest."""
        returns = np.diff(np.log(self.closes[max(0, row - 1000):row + 1]))
        long_run = np.mean(returns ** 2) if len(returns) >= 20 else np.nan
        today = self.sigma(row) ** 2
        return np.sqrt(sum(0.9 ** (k - 1) * today + (1 - 0.9 ** (k - 1)) * long_run
                           for k in range(1, h + 1)))

    def band(self, row: int, horizon: int, known_until: int, level: float = 0.8):
        """Per step: the quantile of the last 250 scaled errors known at ``row``, rescaled."""
        widths = []
        for h in range(1, horizon + 1):
            origins = range(max(self.first, row - h - 249), row - h + 1)
            scores = [abs(np.log(self.closes[o + h] / self.forecast(o)[h - 1]))
                      / self.scale(o, h) for o in origins if o + h <= known_until]
            widths.append(conformal_quantile(scores, level) * self.scale(row, h)
                          if len(scores) >= 60 else np.nan)
        return np.array(widths)


@pytest.mark.parametrize("ticker, name", [("IBM", "ibm"), ("MSFT", "general"),
                                          ("AAPL", "general")])
def test_forecasts_and_bands_equal_one_origin_at_a_time(models, ticker, name):
    frame, model = from_sample(ticker), models[name]
    direct = Direct(frame, model)
    for row, horizon in ((len(frame) - 1, 30), (2000, 7), (900, 1)):
        result = forecast(frame, model, horizon, frame.index[row], cache=ByteBoundedLRU(1 << 26))
        expected = direct.forecast(row)[:horizon]
        np.testing.assert_allclose(result.closes, expected, rtol=RTOL)
        width = direct.band(row, horizon, known_until=row)
        np.testing.assert_allclose(result.lows, expected * np.exp(-width), rtol=RTOL)
        np.testing.assert_allclose(result.highs, expected * np.exp(width), rtol=RTOL)


@pytest.mark.parametrize("ticker, name, horizon", [("IBM", "general", 12), ("GOOG", "ibm", 3)])
def test_track_record_equals_one_origin_at_a_time(models, ticker, name, horizon):
    frame, model = from_sample(ticker), models[name]
    direct = Direct(frame, model)
    as_of = len(frame) - 300
    record = track_record(frame, model, horizon, frame.index[as_of],
                          cache=ByteBoundedLRU(1 << 26))
    # One set of origins for every step: the last 250 whose 30-step outcome as_of knows. The
    # record's first `horizon` steps are checked here, one origin at a time.
    steps = record["steps"]
    assert steps == 30
    rows = range(as_of - steps - 249, as_of - steps + 1)
    fc = np.array([direct.forecast(o)[:horizon] for o in rows])
    actual = np.array([direct.closes[o + 1:o + horizon + 1] for o in rows])
    last = direct.closes[list(rows)][:, None]
    mae = np.abs(actual - fc).mean(axis=0) / np.abs(actual - last).mean(axis=0)
    direction = (np.sign(fc - last) == np.sign(actual - last)).mean(axis=0)
    # Each past forecast's band from the errors known at its own origin.
    widths = np.array([direct.band(o, horizon, known_until=o) for o in rows])
    inside = (fc * np.exp(-widths) <= actual) & (actual <= fc * np.exp(widths))
    assert record["origins"] == 250 and record["start"] == f"{frame.index[rows[0]]:%Y-%m-%d}"
    # The record rounds to 4 places; a last-bit difference may move the 4th.
    assert record["mae_vs_naive"][:horizon] == pytest.approx(mae, abs=1.01e-4)
    # A step served as no change never moves: no direction to score.
    served = direct.weights[:horizon] > 0
    scored = record["directional_accuracy"][:horizon]
    assert [d is None for d in scored] == list(~served)
    assert np.array(scored)[served].astype(float) == pytest.approx(direction[served],
                                                                   abs=1.01e-4)
    assert record["coverage"][:horizon] == pytest.approx(inside.mean(axis=0), abs=1.01e-4)


def test_blocks_built_on_demand_equal_the_whole_table(models):
    frame, model = from_sample("MSFT"), models["general"]
    whole = tables.build(frame, model, ByteBoundedLRU(1 << 26))
    lazy = tables.table_for(frame, model, ByteBoundedLRU(1 << 26))
    for rows in ([19, 20, 511], [1500, 1535, 1536, 2000], [len(frame) - 1]):  # blocks 0, 2-3, 6
        np.testing.assert_allclose(lazy.forecasts(rows, 30), whole.forecasts(rows, 30),
                                   rtol=RTOL)
        np.testing.assert_array_equal(lazy.flags(rows, 30), whole.flags(rows, 30))
    assert lazy.built == 4 and whole.built == -(-len(frame) // tables.BLOCK_ROWS) == 7
    assert np.isnan(whole.forecasts([0, 18], 30)).all()  # no window ends there yet


def test_any_horizon_and_as_of_is_a_slice_once_built(models):
    frame, model, cache = from_sample("IBM"), models["ibm"], ByteBoundedLRU(1 << 26)
    tables.build(frame, model, cache)
    entries, misses = len(cache), cache.misses
    for horizon, row in ((1, 100), (30, 1000), (12, 2500), (4, len(frame) - 1)):
        as_of = frame.index[row]
        forecast(frame, model, horizon, as_of, cache=cache)
        track_record(frame, model, horizon, as_of, cache=cache)
    assert len(cache) == entries and cache.misses == misses


@pytest.mark.parametrize("rows, rebuilt", [(1300, 1), (1026, 2)])
def test_new_prices_rebuild_only_the_blocks_they_reach(tiny_artifact, rows, rebuilt):
    long = synthetic("random_walk", n=rows, seed=4, ticker="LONG")
    cache = ByteBoundedLRU(1 << 26)
    assert tables.build(long.iloc[:-1], tiny_artifact, cache).built == 3
    # 1300 rows: only the block of rows 1024..1299 changed. 1026 rows: the new outcome is also
    # step 3 of origin 1022, in the block before.
    assert tables.build(long, tiny_artifact, cache).built == rebuilt


def test_the_track_record_equals_the_backtest_of_the_same_origins(models):
    frame, model = from_sample("MSFT"), models["general"]
    as_of, horizon = frame.index[2800], 14
    record = track_record(frame, model, horizon, as_of, cache=ByteBoundedLRU(1 << 26))
    # The record's origins end `steps` days before as_of; the backtest's range ends with the
    # last outcome of its last origin at the record's longest step.
    last = frame.index[frame.index.get_loc(as_of) - record["steps"] + horizon]
    result = backtest(frame, model, horizon, start=record["start"], end=last,
                      cache=ByteBoundedLRU(1 << 26))
    assert f"{result.origins[-1]:%Y-%m-%d}" == record["end"] and len(result.origins) == 250
    scores = result.metrics()["general"]
    for name in ("mae_vs_naive", "coverage"):
        assert record[name][:horizon] == rounded(scores[name]), name
    served = np.array(model.metadata["policy"]["weights"][:horizon]) > 0
    assert np.array(record["directional_accuracy"][:horizon])[served].tolist() == np.array(
        rounded(scores["directional_accuracy"]))[served].tolist()


def test_no_table_cell_reads_the_future(tiny_artifact, walk):
    cut = 300
    before = tables.build(walk, tiny_artifact, ByteBoundedLRU(1 << 26))
    shocked = walk.copy()
    shocked.iloc[cut + 1:, :4] *= 3.0
    after = tables.build(shocked, tiny_artifact, ByteBoundedLRU(1 << 26))
    rows = np.arange(cut + 1)
    np.testing.assert_array_equal(before.forecasts(rows, 5), after.forecasts(rows, 5))
    # A flag scores the outcome at origin + step: those known by the cut are unchanged.
    known = rows[:, None] + np.arange(1, 6) <= cut
    assert (before.flags(rows, 5)[known] == after.flags(rows, 5)[known]).all()
    assert not (before.flags(rows, 5)[~known] == after.flags(rows, 5)[~known]).all()


def test_the_cache_is_bounded_by_bytes_and_keeps_the_latest(models):
    frame, model = from_sample("IBM"), models["general"]
    block = tables.BLOCK_ROWS * model.model.output_steps * (4 + 1)  # float32 output, int8 flag
    cache = ByteBoundedLRU(int(2.5 * block))
    table = tables.table_for(frame, model, cache)
    for k in range(4):  # one block at a time, oldest first
        table.forecasts([k * tables.BLOCK_ROWS + 300], 1)
    assert len(cache) == 2 and cache.used <= 2.5 * block
    assert tables.table_for(frame, model, cache).forecasts([3 * tables.BLOCK_ROWS + 300], 1).size
    assert cache.misses == 4  # blocks 2 and 3 were kept, the last read was a hit


@pytest.mark.parametrize("ticker, name", [("IBM", "ibm"), ("FB", "general")])
def test_as_of_on_the_first_day_names_the_rows_needed(models, ticker, name):
    frame = from_sample(ticker)
    # Both models read a window of daily returns: window + 1 closes, the first window ending
    # on the (window + 1)-th trading day.
    needed = models[name].config.window + 1
    earliest = frame.index[needed - 1].date()
    with pytest.raises(DataError, match=rf"{frame.index[0].date()} is too early: {ticker}'s "
                                        rf"prices start on {frame.index[0].date()}, .* "
                                        rf"{earliest} \(model '{name}' needs {needed} trading "
                                        rf"days of prices\)\. Choose a date from {earliest} "
                                        rf"to {frame.index[-1].date()}\.") as refused:
        forecast(frame, models[name], 4, frame.index[0])
    assert refused.value.field == "as_of"  # a form shows it beside the as-of field
    assert usable_dates(frame, models[name]) == (frame.index[needed - 1], frame.index[-1])
    forecast(frame, models[name], 4, earliest)  # the earliest date is usable
    with pytest.raises(DataError, match=rf"hold only {needed - 1} trading day") as short:
        forecast(frame.iloc[:needed - 1], models[name], 4)
    assert short.value.field is None and usable_dates(frame.iloc[:needed - 1],
                                                      models[name]) is None
    record = track_record(frame, models[name], 4, frame.index[0])
    assert record["available"] is False and "no origin" in record["reason"]

"""The track record's band coverage reads one set of origins at every step, as evaluate's does."""

import numpy as np
import pytest

from stockPredictor.data.synthetic import synthetic
from stockPredictor.forecast import evaluate, report
from stockPredictor.forecast.metrics import band_flags
from stockPredictor.forecast.track_record import track_record
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS


@pytest.fixture(scope="module")
def short():
    """The bundled general model, 330 days of a random walk, its whole record and a backtest
    of the same origins and steps."""
    model = artifacts.load(BUNDLED_MODELS / "general")
    frame = synthetic("random_walk", n=330, seed=5, ticker="SHORT")
    record = track_record(frame, model, horizon=5, origins=None, level=0.8)
    steps = record["steps"]
    result = evaluate.backtest(frame, model, horizon=steps, start=record["start"],
                               end=frame.index[-1], level=0.8)
    return model, record, result


def test_the_backtest_scores_the_same_origins_as_the_record(short):
    _, record, result = short
    assert len(result.origins) == record["origins"]
    assert f"{result.origins[0]:%Y-%m-%d}" == record["start"]
    assert f"{result.origins[-1]:%Y-%m-%d}" == record["end"]


def test_every_step_counts_the_same_origins_and_says_how_many(short):
    model, record, result = short
    steps = record["steps"]
    lows, highs = result.lows[model.name], result.highs[model.name]
    # By hand from the backtest's bounds: the origins with a band at every step.
    complete = ~(np.isnan(lows) | np.isnan(highs)).any(axis=1)
    assert 30 <= record["banded_origins"] == int(complete.sum()) < record["origins"]
    flags = band_flags(result.actual[complete], lows[complete], highs[complete])
    counts = (flags >= 0).sum(axis=0)
    assert counts.tolist() == [record["banded_origins"]] * steps
    inside = (flags == 1).sum(axis=0) / counts
    np.testing.assert_allclose(record["coverage"], inside, atol=1e-4)


def test_the_record_coverage_is_evaluates_on_the_same_origins(short):
    model, record, result = short
    assert result.to_dict()["banded_origins"] == record["banded_origins"]
    ours = result.to_dict()["models"][model.name]["coverage"]
    assert record["coverage"] == pytest.approx(ours, abs=1e-4)


def test_the_summary_names_the_banded_origins_when_they_are_fewer():
    model = artifacts.load(BUNDLED_MODELS / "general")
    frame = synthetic("random_walk", n=330, seed=5, ticker="SHORT")
    frame.attrs["source"] = "csv"  # an upload's record scores every origin it allows
    document = report.build(frame, model, horizon=5, level=0.8).to_dict()
    tr = document["track_record"]
    assert tr["banded_origins"] < tr["origins"]
    assert document["summary"]["coverage"].startswith(
        f"On the {tr['banded_origins']:,} of the last {tr['origins']:,} trading days with a "
        f"band at every step, the close 5 days ahead fell inside the 80% band")

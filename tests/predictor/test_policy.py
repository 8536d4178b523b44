"""The point policy: w = 0 serves exactly no change; weights come from validation data only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockPredictor.errors import ArtifactError, DataError
from stockPredictor.forecast import tables
from stockPredictor.forecast.predict import forecast
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.model import policy
from stockPredictor.training import policy_fit


def test_weight_zero_is_exactly_naive_and_one_is_the_network():
    raw = np.array([[101.0, 97.5, 120.0], [50.0, 52.0, 49.0]])
    last = np.array([100.0, 51.0])
    served = policy.Policy((0.0, 1.0, 0.5)).apply(raw, last)
    assert served[0, 0] == 100.0 and served[1, 0] == 51.0  # bitwise the last close
    np.testing.assert_array_equal(served[:, 1], raw[:, 1])
    # half the log move: sqrt(120 / 100) * 100
    np.testing.assert_allclose(served[:, 2], [100 * np.sqrt(1.2), 51 * np.sqrt(49 / 51)])
    np.testing.assert_array_equal(policy.Policy.identity(3).apply(raw, last), raw)


def test_a_model_with_zero_weights_serves_naive_everywhere(tiny_artifact, walk):
    zero = policy.Policy((0.0,) * 5)
    table = tables.ForecastTable(walk["close"].to_numpy(), tiny_artifact,
                                 ByteBoundedLRU(1 << 24), policy=zero)
    rows = np.arange(table.first, len(walk) - 1)
    np.testing.assert_array_equal(table.forecasts(rows, 5),
                                  np.repeat(walk["close"].to_numpy()[rows, None], 5, axis=1))
    raw = table.forecasts(rows, 5, raw=True)
    assert not np.allclose(raw, table.forecasts(rows, 5))


def test_weights_come_from_validation_data_only(tiny_artifact, walk):
    split = tiny_artifact.metadata["data"]["WALK"]
    fitted = policy_fit.fit(tiny_artifact, {"WALK": walk})
    assert fitted["fitted_on"] == "validation" and len(fitted["weights"]) == 5
    assert fitted["end"] <= split["val_end"] and fitted["start"] <= split["val_end"]
    assert all(0.0 <= w <= 1.0 for w in fitted["weights"])
    # Whatever happens after the validation split cannot move the weights.
    later = walk.copy()
    later.loc[later.index > pd.Timestamp(split["val_end"]), ["open", "high", "low", "close"]] *= 5
    assert policy_fit.fit(tiny_artifact, {"WALK": later}) == fitted
    # Nor can a longer test period: the prices cut at the validation end give the same fit.
    cut = walk[walk.index <= pd.Timestamp(split["val_end"])]
    assert policy_fit.fit(tiny_artifact, {"WALK": cut}) == fitted


def test_train_records_the_policy_and_the_forecast_applies_it(tiny_artifact, walk):
    entry = tiny_artifact.metadata["policy"]
    assert entry["method"] == "constant-shrinkage" and entry["fitted_on"] == "validation folds"
    assert len(entry["weights"]) == 5 and len(set(entry["weights"])) == 1
    result = forecast(walk, tiny_artifact, horizon=5, level=None)
    table = tables.table_for(walk, tiny_artifact)
    raw = table.forecasts([len(walk) - 1], 5, raw=True)[0]
    last = walk["close"].iloc[-1]
    weights = np.array(entry["weights"])
    np.testing.assert_allclose(result.closes, last * (raw / last) ** weights, rtol=1e-12)


def test_shrinkage_keeps_a_convincing_gain_and_drops_a_noisy_one():
    # t = 3: 1 - 1/9 of the best weight survives; t = 0.8: none does.
    assert policy_fit.shrunk(0.8, 3.0) == pytest.approx(0.8 * (1 - 1 / 9), abs=0.005)
    assert policy_fit.shrunk(1.0, 0.8) == 0.0
    assert policy_fit.shrunk(1.0, float("nan")) == 0.0


def test_a_damaged_policy_is_refused(tiny_artifact):
    broken = type(tiny_artifact)(tiny_artifact.name, tiny_artifact.path,
                                 dict(tiny_artifact.metadata, policy={"weights": [2.0] * 5}),
                                 tiny_artifact.model, tiny_artifact.windowing)
    with pytest.raises(ArtifactError, match="policy.weights"):
        policy.Policy.of(broken)


def test_a_ticker_without_a_recorded_split_is_refused(tiny_artifact, walk):
    with pytest.raises(DataError, match="validation split of OTHER"):
        policy_fit.fit(tiny_artifact, {"OTHER": walk})

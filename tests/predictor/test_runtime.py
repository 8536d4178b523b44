"""The NumPy runtime must equal Keras on every architecture training/networks.py builds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from stockPredictor.model.config import ModelConfig  # noqa: E402
from stockPredictor.errors import ArtifactError, DataError  # noqa: E402
from stockPredictor.training.networks import build_model  # noqa: E402
from stockPredictor.model.runtime import load_model  # noqa: E402

pytestmark = pytest.mark.slow  # builds and saves Keras models

TOLERANCE = 1e-5
WINDOW, UNITS, STEPS, BATCH = 10, 8, 5, 7


def _perturb(model: keras.Model, seed: int) -> None:
    # Fresh biases are zero and the attention scale is small: nudge every weight so a
    # wrong gate order or a dropped bias cannot hide behind zeros.
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0.0, 0.3, w.shape) for w in model.get_weights()])


def _save(model: keras.Model, tmp_path: Path) -> Path:
    path = tmp_path / "model.h5"
    model.save(path)
    return path


def _windows(n_features: int, seed: int, batch: int = BATCH) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, WINDOW, n_features)).astype("float32")


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b)))


@pytest.mark.parametrize("n_features", [1, 3])
@pytest.mark.parametrize("arch,layers", [("lstm", 1), ("lstm", 2), ("attention", 1),
                                         ("attention", 2)])
def test_runtime_matches_keras(tmp_path, arch, layers, n_features):
    keras.utils.set_random_seed(layers * 10 + n_features)
    config = ModelConfig(arch=arch, window=WINDOW, units=UNITS, layers=layers,
                         output_steps=STEPS)
    model = build_model(config, n_features)
    _perturb(model, seed=n_features)
    path = _save(model, tmp_path)

    net = load_model(path)
    reloaded = keras.models.load_model(path, compile=False)
    for seed in (0, 1):
        x = _windows(n_features, seed)
        ours = net(x)
        assert ours.shape == (BATCH, STEPS)
        assert _max_diff(ours, model.predict(x, verbose=0)) < TOLERANCE
        assert _max_diff(ours, reloaded.predict(x, verbose=0)) < TOLERANCE
    assert net.input_shape == (WINDOW, n_features)
    assert net.output_steps == STEPS


def test_runtime_matches_keras_on_other_supported_options(tmp_path):
    keras.utils.set_random_seed(7)
    inputs = keras.Input(shape=(WINDOW, 2))
    seq = keras.layers.LSTM(6, activation="relu", use_bias=False, return_sequences=True)(inputs)
    seq = keras.layers.LSTM(6, recurrent_activation="tanh", activation="linear",
                            return_sequences=True)(seq)
    query = keras.layers.Dense(6, activation="sigmoid")(keras.layers.Cropping1D((2, 3))(seq))
    context = keras.layers.AdditiveAttention(use_scale=False)([query, seq])
    x = keras.layers.Concatenate(axis=1)([context, seq])
    x = keras.layers.Dense(4, activation="relu")(keras.layers.Flatten()(x))
    outputs = keras.layers.Dense(3, activation="tanh", use_bias=False)(x)
    model = keras.Model(inputs, outputs)
    _perturb(model, seed=7)

    net = load_model(_save(model, tmp_path))
    x = _windows(2, seed=3)
    assert _max_diff(net(x), model.predict(x, verbose=0)) < TOLERANCE


def test_runtime_is_batch_independent(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(arch="attention", window=WINDOW, units=UNITS, layers=2,
                                    output_steps=STEPS), 1)
    _perturb(model, seed=0)
    net = load_model(_save(model, tmp_path))
    x = _windows(1, seed=5, batch=20)
    whole = net(x)
    one_by_one = np.concatenate([net(x[i:i + 1]) for i in range(len(x))])
    # float32, as Keras: BLAS may block a batch of 20 and a batch of 1 differently, which moves
    # the last bit (about 1e-7 on outputs of order 1) and nothing more.
    np.testing.assert_allclose(whole, one_by_one, rtol=0, atol=1e-6)
    assert net(x[:0]).shape == (0, STEPS)


@pytest.fixture
def saved_lstm(tmp_path) -> Path:
    """A small stacked-LSTM .h5 file."""
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(window=WINDOW, units=4, layers=1, output_steps=STEPS), 1)
    return _save(model, tmp_path)


def _edit_config(source: Path, target: Path, edit) -> Path:
    shutil.copy(source, target)
    with h5py.File(target, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        edit(config["config"]["layers"])
        h5.attrs["model_config"] = json.dumps(config)
    return target


def _layer(layers: list, class_name: str) -> dict:
    return next(layer for layer in layers if layer["class_name"] == class_name)


def test_unknown_layer_class_is_an_artifact_error(saved_lstm, tmp_path):
    def rename(layers):
        _layer(layers, "Dropout")["class_name"] = "MysteryLayer"

    tampered = _edit_config(saved_lstm, tmp_path / "tampered.h5", rename)
    with pytest.raises(ArtifactError, match="MysteryLayer") as info:
        load_model(tampered)
    assert "tampered.h5" in str(info.value)


def test_unsupported_option_is_an_artifact_error(saved_lstm, tmp_path):
    def backwards(layers):
        _layer(layers, "LSTM")["config"]["go_backwards"] = True

    tampered = _edit_config(saved_lstm, tmp_path / "backwards.h5", backwards)
    with pytest.raises(ArtifactError, match="go_backwards"):
        load_model(tampered)


def test_unreadable_files_are_artifact_errors(tmp_path):
    not_h5 = tmp_path / "model.h5"
    not_h5.write_text("not a model")
    with pytest.raises(ArtifactError, match="model.h5"):
        load_model(not_h5)
    with pytest.raises(ArtifactError, match="missing.h5"):
        load_model(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(ArtifactError, match="model_config"):
        load_model(tmp_path / "empty.h5")


def test_wrong_input_shape_is_a_data_error(saved_lstm):
    net = load_model(saved_lstm)
    with pytest.raises(DataError, match="does not fit"):
        net(np.zeros((2, WINDOW + 1, 1)))
    with pytest.raises(DataError):
        net(np.zeros((WINDOW, 1)))

"""The registry loads every artifact once, skips bad ones, and picks a model per ticker."""

import json
import logging
import shutil

import pytest

from stockPredictor.errors import NotTrainedError
from stockPredictor.model.registry import Registry


def _clone(tiny_artifact, folder, name, **changes):
    """A copy of the tiny artifact with metadata changes (checksums stay valid)."""
    path = shutil.copytree(tiny_artifact.path, folder / name)
    meta = json.loads((path / "model.json").read_text())
    meta.update(changes)
    (path / "model.json").write_text(json.dumps(meta))
    return path


@pytest.fixture
def models_dir(tiny_artifact, tmp_path):
    _clone(tiny_artifact, tmp_path, "general", scope="general", tickers=["A", "B"])
    _clone(tiny_artifact, tmp_path, "ibm", scope="ticker", tickers=["IBM"])
    broken = _clone(tiny_artifact, tmp_path, "broken")
    (broken / "scaler.pkl").write_bytes(b"not the file that was checksummed")
    (tmp_path / ".general.abc.tmp").mkdir()  # a save in progress is not a model
    return tmp_path


def test_loads_good_artifacts_and_skips_bad_ones(models_dir, caplog):
    with caplog.at_level(logging.WARNING):
        registry = Registry(models_dir).load()
    assert registry.names() == ["general", "ibm"]
    assert "scaler.pkl" in registry.skipped["broken"]
    assert "broken" in caplog.text


def test_model_for_prefers_the_tickers_own_model(models_dir):
    registry = Registry(models_dir).load()
    assert registry.model_for("ibm").name == "ibm"
    assert registry.model_for("MSFT").name == "general"


def test_unknown_model_name_and_empty_folder(models_dir, tmp_path_factory):
    with pytest.raises(NotTrainedError, match="no model named 'nope'"):
        Registry(models_dir).load().get("nope")
    empty = Registry(tmp_path_factory.mktemp("empty")).load()
    with pytest.raises(NotTrainedError, match="no model for 'IBM'"):
        empty.model_for("IBM")


def test_models_dir_from_environment(models_dir, monkeypatch):
    monkeypatch.setenv("MODELS_DIR", str(models_dir))
    assert Registry().load().names() == ["general", "ibm"]


def test_a_model_with_a_damaged_policy_is_skipped_with_its_reason(tmp_path):
    import shutil

    from stockPredictor.model import artifacts
    from stockPredictor.model.registry import Registry
    from stockPredictor.settings import BUNDLED_MODELS

    shutil.copytree(BUNDLED_MODELS / "ibm", tmp_path / "ibm")
    artifacts.update_metadata(tmp_path / "ibm", policy={"weights": ["lots"] * 30})
    registry = Registry(tmp_path).load()
    assert "ibm" not in registry.artifacts
    assert "policy.weights" in registry.skipped["ibm"]

"""Artifacts: atomic saves, checksums verified before anything is unpickled."""

import json
import pickle
import shutil

import pytest

from stockPredictor.model import artifacts
from stockPredictor.errors import ArtifactError


@pytest.fixture
def copy(tiny_artifact, tmp_path):
    """A private copy of the tiny artifact that a test may damage."""
    return shutil.copytree(tiny_artifact.path, tmp_path / "walk")


def test_model_json_records_what_was_trained(tiny_artifact):
    meta = json.loads((tiny_artifact.path / "model.json").read_text())
    assert meta["format_version"] == artifacts.FORMAT_VERSION
    assert meta["tickers"] == ["WALK"] and meta["scope"] == "ticker"
    assert meta["model"]["window"] == 5 and meta["target"] == "log_return"
    for name in ("model.h5", "scaler.pkl"):
        assert meta["files"][name] == artifacts.sha256(tiny_artifact.path / name)
    assert {"keras", "tensorflow", "numpy", "scikit-learn"} <= set(meta["library_versions"])


@pytest.mark.parametrize("name", ["model.h5", "scaler.pkl"])
def test_tampered_file_is_refused_and_named(copy, name):
    with open(copy / name, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactError, match=name):
        artifacts.load(copy)


def test_malicious_pickle_is_never_loaded(copy, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (copy / "scaler.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ArtifactError, match="scaler.pkl"):
        artifacts.load(copy)
    assert not marker.exists()


def test_missing_files_are_named(copy):
    (copy / "model.h5").unlink()
    with pytest.raises(ArtifactError, match="model.h5 is missing"):
        artifacts.load(copy)
    (copy / "model.json").unlink()
    with pytest.raises(ArtifactError, match="model.json is missing"):
        artifacts.load(copy)


def test_unknown_format_version_is_refused(copy):
    meta = json.loads((copy / "model.json").read_text())
    meta["format_version"] = 99
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="format_version 99"):
        artifacts.load(copy)


class _ExplodingModel:
    """Stands in for a Keras model whose save dies half way through."""

    def save(self, path):
        with open(path, "wb") as fh:
            fh.write(b"half a model")
        raise KeyboardInterrupt


def test_interrupted_save_keeps_the_previous_artifact(copy):
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    scaler = artifacts.load(copy).windowing.scaler_
    with pytest.raises(KeyboardInterrupt):
        artifacts.save(copy, _ExplodingModel(), scaler, {"scope": "ticker"})
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before
    assert sorted(p.name for p in copy.parent.iterdir()) == ["walk"]  # no temporary left
    artifacts.load(copy)


class _CopyModel:
    """Saves an existing model.h5, to exercise replacing an artifact."""

    def __init__(self, source):
        self.source = source

    def save(self, path):
        shutil.copyfile(self.source, path)


def test_save_replaces_an_existing_artifact_whole(copy, tiny_artifact):
    meta = {k: v for k, v in tiny_artifact.metadata.items() if k != "files"}
    meta["tickers"] = ["NEW"]
    artifacts.save(copy, _CopyModel(tiny_artifact.path / "model.h5"),
                   tiny_artifact.windowing.scaler_, meta)
    assert artifacts.load(copy).tickers == ["NEW"]
    assert sorted(p.name for p in copy.parent.iterdir()) == ["walk"]


def test_update_metadata_adds_an_entry_and_still_verifies(copy):
    before = json.loads((copy / "model.json").read_text())
    meta = artifacts.update_metadata(copy, backtest={"horizon": 5, "mae_vs_naive": [0.99]})
    after = json.loads((copy / "model.json").read_text())
    assert after == meta and after["backtest"] == {"horizon": 5, "mae_vs_naive": [0.99]}
    assert {k: v for k, v in after.items() if k != "backtest"} == before
    assert artifacts.verify(copy)["files"] == before["files"]
    assert artifacts.load(copy).metadata["backtest"]["horizon"] == 5
    assert sorted(p.name for p in copy.iterdir()) == ["model.h5", "model.json", "scaler.pkl"]
    assert (copy / "model.json").stat().st_mode & 0o444 == 0o444  # readable by the web process


def test_update_metadata_refuses_checksums_and_damaged_artifacts(copy):
    before = (copy / "model.json").read_bytes()
    with pytest.raises(ArtifactError, match="files"):
        artifacts.update_metadata(copy, files={})
    with open(copy / "model.h5", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactError, match="model.h5"):
        artifacts.update_metadata(copy, backtest={})
    assert (copy / "model.json").read_bytes() == before


def test_interrupted_metadata_update_keeps_the_old_model_json(copy, monkeypatch):
    before = (copy / "model.json").read_bytes()

    def half_written(meta, fh):
        fh.write('{"half": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts, "_dump", half_written)
    with pytest.raises(KeyboardInterrupt):
        artifacts.update_metadata(copy, backtest={"horizon": 5})
    assert (copy / "model.json").read_bytes() == before
    assert sorted(p.name for p in copy.iterdir()) == ["model.h5", "model.json", "scaler.pkl"]
    artifacts.load(copy)

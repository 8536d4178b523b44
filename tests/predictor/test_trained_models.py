"""Trained models reach a process from the database: polled, verified before unpickling, served."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update
from stockPredictor import store
from stockPredictor.model import artifacts
from stockPredictor.model.registry import Registry
from stockPredictor.store import model_versions
from stockPredictor.store.models import ModelVersion
from stockPredictor.store.trained import TrainedModels

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "Flask_webapp" / "models"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store.upgrade(url)
    engine = store.engine_for(url)
    yield engine
    engine.dispose()


@pytest.fixture
def registry():
    return Registry(COMMITTED).load()


def save_copy(engine, tmp_path: Path, name: str, ticker: str = "MSFT", is_default: bool = True,
              **meta) -> model_versions.Version:
    """A version in the database: the committed IBM model's files under ``name``."""
    folder = tmp_path / "made" / name
    shutil.copytree(COMMITTED / "ibm", folder)
    if meta:
        artifacts.update_metadata(folder, **meta)
    return model_versions.save(engine, folder, name=name, job_token=None, ticker=ticker,
                               scope="ticker", is_default=is_default,
                               summary={"arch": "lstm", "tickers": [ticker]}, keep=50)


def test_a_saved_version_is_served_after_a_refresh_and_routes_its_ticker(
        engine, registry, tmp_path):
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=5.0)
    assert registry.model_for("MSFT").name == "general"
    save_copy(engine, tmp_path, "msft-lstm-aaaaaa")
    assert trained.refresh(registry, force=True) is True
    assert registry.trained == {"msft-lstm-aaaaaa"}
    assert registry.model_for("msft").name == "msft-lstm-aaaaaa"
    assert registry.model_for("IBM").name == "ibm"  # committed models still serve their own
    assert registry.get("msft-lstm-aaaaaa").metadata["files"] == \
        artifacts.read_metadata(COMMITTED / "ibm")["files"]
    # Materialised under the folder, by name, with no temporary folder left behind.
    assert sorted(p.name for p in (tmp_path / "trained").iterdir()) == ["msft-lstm-aaaaaa"]
    artifacts.verify(tmp_path / "trained" / "msft-lstm-aaaaaa")
    assert trained.refresh(registry, force=True) is False  # nothing new


def test_a_model_that_is_not_a_default_is_chosen_by_name_only(engine, registry, tmp_path):
    save_copy(engine, tmp_path, "msft-lstm-bbbbbb", is_default=False)
    TrainedModels(engine, tmp_path / "trained", poll_s=5.0).refresh(registry, force=True)
    assert registry.get("msft-lstm-bbbbbb").name == "msft-lstm-bbbbbb"
    assert registry.model_for("MSFT").name == "general"
    # A trained copy of a per-ticker model never takes over its ticker without the flag.
    save_copy(engine, tmp_path, "ibm-lstm-cccccc", ticker="IBM", is_default=False)
    TrainedModels(engine, tmp_path / "trained", poll_s=5.0).refresh(registry, force=True)
    assert registry.model_for("IBM").name == "ibm"


def test_the_database_is_asked_at_most_every_poll_interval(engine, registry, tmp_path,
                                                           monkeypatch):
    clock = Clock()
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=5.0, clock=clock)
    asked = []
    real = model_versions.fingerprints
    monkeypatch.setattr(model_versions, "fingerprints", lambda e: asked.append(1) or real(e))
    trained.refresh(registry)
    save_copy(engine, tmp_path, "msft-lstm-dddddd")
    clock.now += 4.9
    assert trained.refresh(registry) is False and len(asked) == 1
    assert "msft-lstm-dddddd" not in registry.artifacts
    clock.now += 0.2
    assert trained.refresh(registry) is True and len(asked) == 2
    assert registry.model_for("MSFT").name == "msft-lstm-dddddd"
    assert trained.refresh(registry, force=True) is False and len(asked) == 3


def test_a_refresh_in_progress_is_never_waited_for(engine, registry, tmp_path):
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=0.0)
    save_copy(engine, tmp_path, "msft-lstm-eeeeee")
    with trained._lock:  # another thread refreshing now
        assert trained.refresh(registry, force=True) is False
    assert trained.refresh(registry, force=True) is True


def test_a_changed_version_is_reloaded_and_a_deleted_one_leaves(engine, registry, tmp_path):
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=5.0)
    save_copy(engine, tmp_path, "msft-lstm-ffffff")
    trained.refresh(registry, force=True)
    assert "note" not in registry.get("msft-lstm-ffffff").metadata
    # The same name with new files (model.json changed), and no longer MSFT's default.
    folder = tmp_path / "changed"
    shutil.copytree(COMMITTED / "ibm", folder)
    artifacts.update_metadata(folder, note="retrained")
    meta = (folder / artifacts.META_FILE).read_bytes()
    with store.writing(engine).begin() as connection:
        connection.execute(update(ModelVersion).where(ModelVersion.name == "msft-lstm-ffffff")
                           .values(model_json=meta, is_default=False,
                                   sha256_json=hashlib.sha256(meta).hexdigest()))
    assert trained.refresh(registry, force=True) is True
    assert registry.get("msft-lstm-ffffff").metadata["note"] == "retrained"
    assert registry.model_for("MSFT").name == "general"
    assert "note" in artifacts.verify(tmp_path / "trained" / "msft-lstm-ffffff")
    # Default again: only the flag changed, so nothing is fetched, and MSFT is routed to it.
    with store.writing(engine).begin() as connection:
        connection.execute(update(ModelVersion).values(is_default=True))
    assert trained.refresh(registry, force=True) is True
    assert registry.model_for("MSFT").name == "msft-lstm-ffffff"
    with store.writing(engine).begin() as connection:
        connection.execute(ModelVersion.__table__.delete())
    assert trained.refresh(registry, force=True) is True
    assert "msft-lstm-ffffff" not in registry.artifacts and not registry.trained
    assert registry.model_for("MSFT").name == "general"
    assert not (tmp_path / "trained" / "msft-lstm-ffffff").exists()


class _Payload:
    """Unpickling this runs code: it writes the file ``path``."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').close()",)


def test_tampered_bytes_are_refused_and_never_unpickled(engine, registry, tmp_path, caplog,
                                                        monkeypatch):
    # The payload does run when unpickled (in another process, on a file of its own), so the
    # marker below would exist had the tampered scaler been loaded.
    proof = tmp_path / "proof"
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer"
                    ".read())"], input=pickle.dumps(_Payload(proof)), check=True)
    assert proof.exists()
    marker = tmp_path / "marker"
    save_copy(engine, tmp_path, "msft-lstm-999999")
    with store.writing(engine).begin() as connection:
        connection.execute(update(ModelVersion).values(scaler_pkl=pickle.dumps(_Payload(marker))))
    fetched = []
    real = model_versions.files
    monkeypatch.setattr(model_versions, "files", lambda e, n: fetched.append(n) or real(e, n))
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=5.0)
    with caplog.at_level(logging.WARNING, logger="stockPredictor.store.trained"):
        assert trained.refresh(registry, force=True) is False
    assert not marker.exists()
    assert "msft-lstm-999999" not in registry.artifacts
    assert registry.model_for("MSFT").name == "general"
    assert "msft-lstm-999999" in caplog.text and "SHA-256" in caplog.text
    assert not (tmp_path / "trained" / "msft-lstm-999999").exists()
    # Refused once by its checksum: not fetched again on every poll.
    assert trained.refresh(registry, force=True) is False and fetched == ["msft-lstm-999999"]
    assert not marker.exists()


def test_a_model_json_that_does_not_match_its_row_is_refused(engine, registry, tmp_path):
    save_copy(engine, tmp_path, "msft-lstm-888888")
    with store.writing(engine).begin() as connection:
        connection.execute(update(ModelVersion).values(sha256_json="0" * 64))
    assert TrainedModels(engine, tmp_path / "t", 5.0).refresh(registry, force=True) is False
    assert "msft-lstm-888888" not in registry.artifacts


def test_a_trained_model_never_shadows_a_committed_one(engine, registry, tmp_path):
    committed = registry.get("ibm")
    save_copy(engine, tmp_path, "ibm", ticker="IBM")
    TrainedModels(engine, tmp_path / "trained", poll_s=5.0).refresh(registry, force=True)
    assert registry.get("ibm") is committed and not registry.trained
    assert registry.model_for("IBM") is committed


def test_a_database_that_is_down_fails_no_refresh(registry, tmp_path, caplog, free_port):
    engine = store.engine_for(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=0.0)
    with caplog.at_level(logging.WARNING, logger="stockPredictor.store.trained"):
        for _ in range(3):
            assert trained.refresh(registry, force=True) is False
    assert caplog.text.count("not refreshed") == 1  # logged once, not on every poll
    assert registry.model_for("IBM").name == "ibm" and registry.model_for("X").name == "general"


def test_models_loaded_stay_while_the_database_is_down(engine, registry, tmp_path,
                                                       monkeypatch):
    trained = TrainedModels(engine, tmp_path / "trained", poll_s=0.0)
    save_copy(engine, tmp_path, "msft-lstm-777777")
    trained.refresh(registry, force=True)
    engine.dispose()
    (tmp_path / "store.db").unlink()
    (tmp_path / "store.db").mkdir()  # no database file can be opened there now
    assert trained.refresh(registry, force=True) is False
    assert registry.model_for("MSFT").name == "msft-lstm-777777"


def test_registry_add_and_remove_swap_whole_states(registry):
    before = registry.artifacts
    copy = registry.get("ibm")
    other = dataclasses.replace(copy, name="goog-lstm-123456")
    assert registry.add(other, default_for="goog") is True
    assert before is not registry.artifacts and "goog-lstm-123456" not in before
    assert registry.defaults == {"GOOG": "goog-lstm-123456"}
    assert registry.model_for("GOOG") is other
    assert registry.remove("ibm") is False and registry.get("ibm") is copy
    assert registry.remove("goog-lstm-123456") is True
    assert registry.defaults == {} and registry.model_for("GOOG").name == "general"

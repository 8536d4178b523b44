"""Trained models kept in the database (SQLite and a real PostgreSQL): stored only when their
checksums hold, one default per ticker, at most ``keep`` of them, listed without their bytes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import event

from stockPredictor.errors import ArtifactError, JobEndedError
from stockPredictor.jobs.spec import JobSpec
from stockPredictor.model import artifacts
from stockPredictor.store import jobs, model_versions
from stockPredictor.store.model_versions import NAME, new_name

COMMITTED = Path(__file__).resolve().parents[2] / "Flask_webapp" / "models" / "ibm"
SUMMARY = {"arch": "lstm", "window": 60, "tickers": ["IBM"], "record": {"validation": 0.98}}


@pytest.fixture
def folder(tmp_path) -> Path:
    """A real artifact (the committed IBM model) in a folder of its own."""
    return Path(shutil.copytree(COMMITTED, tmp_path / "trained"))


def _save(engine, folder, name, ticker="IBM", is_default=False, keep=10, job_token=None,
          incumbent=None):
    return model_versions.save(engine, folder, name=name, job_token=job_token, ticker=ticker,
                               scope="ticker", is_default=is_default, summary=SUMMARY, keep=keep,
                               incumbent=incumbent)


def _running(engine, client: str = "client") -> str:
    token = jobs.create(engine, JobSpec(ticker="IBM"), client, queue_size=5).token
    jobs.start(engine, token)
    return token


def test_a_saved_version_gives_back_the_same_files(engine, folder):
    version = _save(engine, folder, "ibm-lstm-000001", is_default=True)
    json_bytes = (folder / "model.json").read_bytes()
    assert version.sha256_json == hashlib.sha256(json_bytes).hexdigest()
    assert version.size == sum((folder / f).stat().st_size
                               for f in ("model.h5", "scaler.pkl", "model.json"))
    assert version.is_default and version.ticker == "IBM" and version.summary == SUMMARY
    stored = model_versions.files(engine, "ibm-lstm-000001")
    assert set(stored) == {"model.h5", "scaler.pkl", "model.json"}
    for name, data in stored.items():
        assert data == (folder / name).read_bytes()
    assert model_versions.fingerprints(engine) == {
        "ibm-lstm-000001": (version.sha256_json, True, "IBM")}


def test_what_comes_back_loads_as_an_artifact(engine, folder, tmp_path):
    _save(engine, folder, "ibm-lstm-000002")
    out = tmp_path / "materialised" / "ibm-lstm-000002"
    out.mkdir(parents=True)
    for name, data in model_versions.files(engine, "ibm-lstm-000002").items():
        (out / name).write_bytes(data)
    assert artifacts.load(out).tickers == ["IBM"]


@pytest.mark.parametrize("damaged", ["scaler.pkl", "model.h5"])
def test_a_tampered_file_is_refused_and_nothing_is_stored(engine, folder, damaged):
    path = folder / damaged
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match="does not match the SHA-256"):
        _save(engine, folder, "ibm-lstm-000003")
    assert model_versions.listing(engine) == []


def test_a_folder_that_is_no_artifact_is_refused(engine, tmp_path):
    with pytest.raises(ArtifactError, match="missing"):
        _save(engine, tmp_path, "ibm-lstm-000004")


@pytest.mark.parametrize("name", ["IBM-LSTM", "-ibm", "a/b", "x" * 65, "", "ibm lstm"])
def test_a_name_outside_the_pattern_is_refused(engine, folder, name):
    with pytest.raises(ArtifactError, match="not valid"):
        _save(engine, folder, name)


def test_the_default_moves_to_the_new_version_of_the_same_ticker(engine, folder):
    _save(engine, folder, "ibm-old", is_default=True)
    _save(engine, folder, "msft-one", ticker="MSFT", is_default=True)
    _save(engine, folder, "ibm-new", is_default=True, incumbent="ibm-old")
    _save(engine, folder, "ibm-kept")  # not better: kept, not the default
    defaults = {name: (default, ticker)
                for name, (_, default, ticker) in model_versions.fingerprints(engine).items()}
    assert defaults == {"ibm-old": (False, "IBM"), "msft-one": (True, "MSFT"),
                        "ibm-new": (True, "IBM"), "ibm-kept": (False, "IBM")}


def test_an_upload_without_a_ticker_is_never_a_default(engine, folder):
    assert _save(engine, folder, "upload-lstm-1", ticker=None, is_default=True).is_default \
        is False


def test_past_keep_the_oldest_non_defaults_go_first(engine, folder):
    _save(engine, folder, "ibm-a", is_default=True, keep=3)
    _save(engine, folder, "msft-b", ticker="MSFT", keep=3)
    _save(engine, folder, "ibm-c", keep=3)
    _save(engine, folder, "ibm-d", keep=3)  # one too many: msft-b, the oldest non-default
    assert [v.name for v in model_versions.listing(engine)] == ["ibm-d", "ibm-c", "ibm-a"]
    _save(engine, folder, "ibm-e", keep=2)  # the bound lowered: ibm-c and ibm-d go
    assert [v.name for v in model_versions.listing(engine)] == ["ibm-e", "ibm-a"]


def test_the_bound_holds_even_when_every_version_is_a_default(engine, folder):
    for ticker in ("IBM", "MSFT", "AAPL"):
        _save(engine, folder, f"{ticker.lower()}-x", ticker=ticker, is_default=True, keep=2)
    assert [v.name for v in model_versions.listing(engine)] == ["aapl-x", "msft-x"]


def test_listing_is_newest_first_and_never_reads_the_bytes(engine, folder):
    for name in ("ibm-1", "ibm-2", "ibm-3"):
        _save(engine, folder, name)
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        listed = model_versions.listing(engine)
        model_versions.fingerprints(engine)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [v.name for v in listed] == ["ibm-3", "ibm-2", "ibm-1"]
    assert all(v.job_token is None for v in listed)
    assert statements and not any(column in s for s in statements
                                  for column in ("model_h5", "scaler_pkl", "model_json"))


def test_delete_for_job_removes_only_that_job_s_model(engine, folder):
    token, other = _running(engine), _running(engine, "client-2")
    mine = _save(engine, folder, "ibm-mine", job_token=token)
    _save(engine, folder, "ibm-theirs", job_token=other)
    assert mine.job_token == token
    assert model_versions.delete_for_job(engine, token) == "ibm-mine"
    assert model_versions.delete_for_job(engine, token) is None
    assert model_versions.delete_for_job(engine, "never-issued") is None
    assert [v.name for v in model_versions.listing(engine)] == ["ibm-theirs"]
    with pytest.raises(ArtifactError, match="no stored model version"):
        model_versions.files(engine, "ibm-mine")


@pytest.mark.parametrize("ticker, arch, start", [("IBM", "lstm", "ibm-lstm-"),
                                                 ("BRK.B", "attention", "brk-b-attention-"),
                                                 ("^GSPC", "lstm", "gspc-lstm-"),
                                                 (None, "lstm", "upload-lstm-")])
def test_new_names_fit_the_pattern_and_differ(ticker, arch, start):
    names = {new_name(ticker, arch) for _ in range(20)}
    assert len(names) > 15
    assert all(NAME.fullmatch(n) and n.startswith(start) and len(n) == len(start) + 6
               for n in names)


def test_a_default_stored_meanwhile_is_not_replaced_by_a_model_never_compared_with_it(
        engine, folder):
    # Judged against the committed "ibm", but another worker stored a better default meanwhile.
    assert _save(engine, folder, "ibm-first", is_default=True, incumbent="ibm").is_default
    late = _save(engine, folder, "ibm-late", is_default=True, incumbent="ibm")
    assert late.is_default is False
    fingerprints = model_versions.fingerprints(engine)
    assert fingerprints["ibm-first"][1] is True and fingerprints["ibm-late"][1] is False
    # Judged against the default that serves now, it takes over.
    assert _save(engine, folder, "ibm-next", is_default=True, incumbent="ibm-first").is_default


def test_a_job_that_ended_meanwhile_stores_no_model(engine, folder):
    token = _running(engine)
    jobs.cancel(engine, token)  # asked while running: the worker has not seen it yet
    jobs.finish(engine, token, "cancelled", "cancelled")
    with pytest.raises(JobEndedError, match="cancelled"):
        _save(engine, folder, "ibm-too-late", job_token=token)
    assert model_versions.listing(engine) == []

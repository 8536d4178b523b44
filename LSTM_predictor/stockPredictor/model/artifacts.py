"""Model artifacts on disk: one folder holding model.h5, scaler.pkl and model.json.

Saving writes a temporary sibling folder and renames it into place, so an
interrupted save never leaves half an artifact nor damages the previous one.
Loading verifies the SHA-256 of every file against model.json before anything
is unpickled, because a pickle runs code when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import joblib
import numpy as np
import pandas as pd

from ..errors import ArtifactError
from . import runtime
from .config import ModelConfig
from .windowing import Windowing

FORMAT_VERSION = 1
MODEL_FILE = "model.h5"
SCALER_FILE = "scaler.pkl"
META_FILE = "model.json"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(directory: str | Path, model, scaler, metadata: dict,
         finish: Callable[[Path], dict] | None = None) -> Path:
    """Write an artifact atomically; ``model`` is anything with ``save(path)`` (a Keras model).

    ``finish``, when given, is called with the complete temporary folder (loadable with
    ``load``) before it is moved into place, and the entries it returns are added to
    model.json: whatever is fitted on the saved model (its point policy) lands in the same
    atomic rename, so a crash never leaves a model without it.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp",
                                dir=directory.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a served model must be readable
    try:
        model.save(tmp / MODEL_FILE)
        joblib.dump(scaler, tmp / SCALER_FILE)
        meta = dict(metadata, format_version=FORMAT_VERSION,
                    files={name: sha256(tmp / name) for name in (MODEL_FILE, SCALER_FILE)})
        with open(tmp / META_FILE, "w") as fh:
            _dump(meta, fh)
        if finish is not None:
            meta.update(finish(tmp))
            with open(tmp / META_FILE, "w") as fh:
                _dump(meta, fh)
        _swap_into_place(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _dump(meta: dict, fh) -> None:
    json.dump(meta, fh, indent=2, sort_keys=True)
    fh.write("\n")
    fh.flush()
    os.fsync(fh.fileno())


def update_metadata(directory: str | Path, **entries) -> dict:
    """Set top-level entries of a verified artifact's model.json atomically; returns the result.

    The new model.json is written beside the old one and renamed over it, so a reader sees the
    old file or the new one, never half of either. The checksums cover model.h5 and scaler.pkl
    only, so the artifact still verifies; ``files`` and ``format_version`` cannot be set here.
    """
    directory = Path(directory)
    fixed = sorted({"files", "format_version"} & set(entries))
    if fixed:
        raise ArtifactError(f"{', '.join(fixed)} in {META_FILE} are written only by save()")
    meta = dict(verify(directory), **entries)  # never annotate a damaged artifact
    fd, tmp = tempfile.mkstemp(prefix=f".{META_FILE}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o644)  # mkstemp makes it private; it must stay readable
            _dump(meta, fh)
        os.replace(tmp, directory / META_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return meta


def _swap_into_place(tmp: Path, directory: Path) -> None:
    # A folder cannot be renamed over a non-empty one, so the old artifact is
    # moved aside first and deleted only once the new one is in place.
    old = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        directory.rename(old)
    try:
        tmp.rename(directory)
    except BaseException:
        if old is not None:
            old.rename(directory)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_metadata(directory: str | Path) -> dict:
    """model.json of an artifact, checked for format version and file list (no checksums)."""
    path = Path(directory) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: {Path(directory).name!r} is not an artifact")
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is not readable JSON: {exc}") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path} has format_version {meta.get('format_version')!r}; "
                            f"this version reads {FORMAT_VERSION}")
    files = meta.get("files")
    if not isinstance(files, dict) or set(files) != {MODEL_FILE, SCALER_FILE}:
        raise ArtifactError(f"{path} must list the checksums of {MODEL_FILE} and {SCALER_FILE}")
    return meta


def verify(directory: str | Path) -> dict:
    """Metadata of an artifact whose files all match their recorded SHA-256."""
    directory = Path(directory)
    meta = read_metadata(directory)
    for name, expected in meta["files"].items():
        path = directory / name
        if not path.is_file():
            raise ArtifactError(f"{path} is missing")
        if sha256(path) != expected:
            raise ArtifactError(f"{path} does not match the SHA-256 in {META_FILE}: "
                                f"the file was changed or damaged, refusing to load it")
    return meta


@dataclass(frozen=True)
class Artifact:
    """A verified artifact, ready to serve through the NumPy runtime."""

    name: str
    path: Path
    metadata: dict
    model: runtime.RuntimeModel
    windowing: Windowing

    @property
    def config(self) -> ModelConfig:
        """The model settings it was built with."""
        return ModelConfig.from_dict(self.metadata["model"])

    @property
    def scope(self) -> str:
        """"general" for a model meant for any ticker, "ticker" for a per-ticker one."""
        return self.metadata.get("scope", "general")

    @property
    def tickers(self) -> list[str]:
        """Tickers it was trained on."""
        return list(self.metadata.get("tickers", []))

    def trained_until(self, ticker: str | None = None) -> pd.Timestamp | None:
        """Last day of the data that shaped the weights (training and validation splits).

        For a ticker it was not trained on, the latest such day over all its tickers: the
        model has seen the market of those dates through them. The test split after it was
        held out. None when model.json does not say.
        """
        data = self.metadata.get("data") or {}
        rows = [data[ticker]] if ticker in data else list(data.values())
        ends = [row.get("val_end") or row.get("train_end") for row in rows]
        ends = [pd.Timestamp(e) for e in ends if e]
        if not ends and self.metadata.get("date_range", {}).get("end"):
            ends = [pd.Timestamp(self.metadata["date_range"]["end"])]
        return max(ends) if ends else None

    def trained_from(self, ticker: str | None = None) -> pd.Timestamp | None:
        """First day of the data that shaped the weights: the start of ``trained_until``'s range.

        For a ticker it was trained on, that ticker's first row (``data.<ticker>.start``, or
        the whole date range's start in artifacts that predate it); for any other ticker the
        earliest first row over all of them. None when model.json does not say.
        """
        data = self.metadata.get("data") or {}
        rows = [data[ticker]] if ticker in data else list(data.values())
        starts = [pd.Timestamp(row["start"]) for row in rows if row.get("start")]
        if not starts and self.metadata.get("date_range", {}).get("start"):
            starts = [pd.Timestamp(self.metadata["date_range"]["start"])]
        return min(starts) if starts else None

    def in_training(self, dates, ticker: str | None = None):
        """True for each of ``dates`` inside the range of data that shaped the weights."""
        dates = pd.DatetimeIndex(dates)
        start, end = self.trained_from(ticker), self.trained_until(ticker)
        if end is None:
            return np.zeros(len(dates), bool)
        inside = np.asarray(dates <= end)
        return inside if start is None else inside & np.asarray(dates >= start)

    def summary(self) -> dict:
        """Short description for listings: name, scope, architecture, data trained on."""
        cfg = self.config
        until = self.trained_until()
        return {"name": self.name, "scope": self.scope, "arch": cfg.arch, "target": cfg.target,
                "window": cfg.window, "tickers": self.tickers,
                "trained_from": self.metadata.get("date_range", {}).get("start"),
                "trained_to": None if until is None else until.strftime("%Y-%m-%d"),
                "data_to": self.metadata.get("date_range", {}).get("end")}


def load(directory: str | Path) -> Artifact:
    """Verify, then load an artifact for serving (no TensorFlow involved)."""
    directory = Path(directory)
    meta = verify(directory)
    try:
        config = ModelConfig.from_dict(meta["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{directory / META_FILE} has no valid model settings: {exc}") from exc
    try:
        scaler = joblib.load(directory / SCALER_FILE)
    except Exception as exc:  # a verified but unreadable pickle: report, never crash the registry
        raise ArtifactError(f"{directory / SCALER_FILE} could not be loaded: {exc}") from exc
    model = runtime.load_model(directory / MODEL_FILE)
    return Artifact(directory.name, directory, meta, model, Windowing.from_config(config, scaler))

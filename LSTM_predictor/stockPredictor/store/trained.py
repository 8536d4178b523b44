"""Trained models from the database, served by every process: each notices new ones by polling.

A worker saves a trained model as a version in ``model_versions`` (its three files and their
checksums). Every web process calls ``TrainedModels.refresh`` before a request, which asks the
database for the versions' fingerprints (one small query) at most every ``poll_s`` seconds; a
new or changed version is written to ``<folder>/<name>`` through a temporary sibling and
loaded with ``artifacts.load``, which verifies the SHA-256 of every file before anything is
unpickled. The name comes from the database and must match ``model_versions.NAME``: no path is
ever built from a request. A failing database never fails a request: the models loaded so far
keep serving, and the failure is logged once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseUnavailableError, StockPredictorError
from ..model import artifacts
from ..model.registry import Registry
from . import model_versions
from .db import reason

log = logging.getLogger(__name__)

# A hidden folder older than this is a write some process abandoned (it was killed mid-way).
ABANDONED_S = 3600.0
RETRY_DOWN_S = 15.0  # seconds between polls while the database does not answer
Fingerprint = tuple[str, bool, "str | None"]  # (sha256 of model.json, is_default, ticker)


class TrainedModels:
    """This process's view of the trained models in the database, kept in a Registry."""

    def __init__(self, engine: Engine, folder: str | os.PathLike, poll_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.engine, self.folder, self.poll_s, self.clock = engine, Path(folder), poll_s, clock
        self._lock = threading.Lock()
        self._due: float | None = None  # when the next poll may run; None: at once
        self._served: dict[str, Fingerprint] = {}  # what the registry holds, by name
        self._refused: dict[str, str] = {}  # name -> sha256 of a version that did not load
        self._failure: str | None = None  # the database failure logged last
        self._swept = False

    @property
    def names(self) -> list[str]:
        """Names of the trained models this process serves, sorted."""
        return sorted(self._served)

    def refresh(self, registry: Registry, force: bool = False) -> bool:
        """Bring ``registry`` up to the database's versions; True when it changed.

        At most every ``poll_s`` seconds unless ``force``; a call while another thread
        refreshes returns at once (False) rather than wait for it.
        """
        if not force and self._due is not None and self.clock() < self._due:
            return False
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._due = self.clock() + self.poll_s
            try:
                wanted = model_versions.fingerprints(self.engine)
            except (SQLAlchemyError, DatabaseUnavailableError) as exc:
                self._database_failed(exc)
                return False
            if self._failure is not None:
                log.info("trained models: the database answers again")
                self._failure = None
            if not self._swept:
                self._sweep(wanted)
            return self._apply(registry, wanted)
        finally:
            self._lock.release()

    def _apply(self, registry: Registry, wanted: dict[str, Fingerprint]) -> bool:
        changed = False
        self._refused = {name: sha for name, sha in self._refused.items() if name in wanted}
        for name in [name for name in self._served if name not in wanted]:
            registry.remove(name)
            del self._served[name]
            shutil.rmtree(self.folder / name, ignore_errors=True)
            log.info("trained model %s removed", name)
            changed = True
        for name, fingerprint in wanted.items():
            sha, is_default, ticker = fingerprint
            default_for = ticker if is_default else None
            served = self._served.get(name)
            if served == fingerprint or self._refused.get(name) == sha:
                continue
            if served is not None and served[0] == sha:  # only its default flag changed
                registry.add(registry.get(name), default_for)
                self._served[name] = fingerprint
                changed = True
                continue
            try:
                artifact = self._materialise(name, sha)
                if not registry.add(artifact, default_for):
                    self._refused[name] = sha  # a committed model's name: not asked again
                    continue
            except (SQLAlchemyError, DatabaseUnavailableError) as exc:
                # The database went away mid-refresh: the next poll tries again.
                self._database_failed(exc)
                break
            except (StockPredictorError, OSError, ValueError, LookupError) as exc:
                # Damaged or tampered files (artifacts.load refused them before unpickling):
                # remembered by checksum, so the next poll does not fetch them again.
                log.warning("trained model %s not loaded: %s", name, exc)
                self._refused[name] = sha
                continue
            self._refused.pop(name, None)
            self._served[name] = fingerprint
            log.info("trained model %s loaded%s", name,
                     f" (default for {ticker})" if default_for else "")
            changed = True
        return changed

    def _materialise(self, name: str, sha: str) -> artifacts.Artifact:
        # The name was written by a worker, but it is checked all the same before it becomes
        # part of a path: one path component of the pattern model_versions.NAME, nothing else.
        if not model_versions.NAME.fullmatch(name):
            raise ValueError(f"name {name!r} does not match {model_versions.NAME.pattern}")
        files = model_versions.files(self.engine, name)
        if set(files) != {artifacts.MODEL_FILE, artifacts.SCALER_FILE, artifacts.META_FILE}:
            raise ValueError(f"version {name!r} holds {sorted(files)}, not the three files")
        if hashlib.sha256(files[artifacts.META_FILE]).hexdigest() != sha:
            raise ValueError(f"{artifacts.META_FILE} of {name!r} does not match its SHA-256 in "
                             "the database: refusing to load it")
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=self.folder))
        try:
            for file_name, content in files.items():
                (tmp / file_name).write_bytes(content)
            # Loaded from this process's own folder, which nothing else writes to: the files
            # verified are the files unpickled. artifacts.load verifies before it unpickles.
            artifact = artifacts.load(tmp)
            self._into_place(tmp, self.folder / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dataclasses.replace(artifact, name=name, path=self.folder / name)

    def _into_place(self, tmp: Path, directory: Path) -> None:
        # Other processes on this machine may write the same version at the same moment: the
        # folder is for people and tools to read, the process serves what it loaded, so a
        # rename lost to another process's identical files is no failure.
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        try:
            directory.rename(old)
        except OSError:
            old = None
        try:
            tmp.rename(directory)
        except OSError:
            pass
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _sweep(self, wanted: dict[str, Fingerprint]) -> None:
        # Once per process: folders of versions deleted while no process ran, and writes that
        # a killed process abandoned, so the folder holds what the database holds.
        self._swept = True
        if not self.folder.is_dir():
            return
        now = time.time()
        for path in self.folder.iterdir():
            try:
                hidden = path.name.startswith(".")
                if (hidden and now - path.stat().st_mtime > ABANDONED_S) or (
                        not hidden and path.name not in wanted):
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:  # removed by another process meanwhile
                continue

    def _database_failed(self, exc: Exception) -> None:
        # Asked again less often while it fails: each try may cost a request a connect timeout.
        self._due = self.clock() + max(self.poll_s, RETRY_DOWN_S)
        detail = reason(exc)
        if detail != self._failure:  # polled every few seconds: logged once per failure
            self._failure = detail
            log.warning("trained models not refreshed, the database does not answer: %s "
                        "(the models loaded so far keep serving)", detail)

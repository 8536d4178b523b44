"""Trained models kept in the database, so every web process and every dyno serves them.

A version is an artifact's three files (model.h5, scaler.pkl, model.json) as bytes, with the
SHA-256 of model.json (which itself holds the other two files' checksums): a web process polls
``fingerprints`` (no bytes), fetches ``files`` of what is new, writes them into a folder and
loads it through ``artifacts.load``, which verifies every checksum before unpickling anything.
At most ``keep`` (TRAINED_MODELS_MAX) versions are kept: past it the oldest go, a ticker's
default last.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session, load_only

from ..errors import ArtifactError, JobEndedError, excerpt
from ..model import artifacts
from .db import guarded, writing
from .models import Job, ModelVersion

__all__ = ["NAME", "Version", "delete_for_job", "files", "fingerprints", "listing", "new_name",
           "save"]

MODELS = "trained models"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# Saves take this PostgreSQL advisory lock (SQLite's write lock does the same): two workers
# never both move a ticker's default, nor both evict past ``keep``.
LOCK_KEY = 0x4D6F_6465_6C73  # "Models"
FILES = {artifacts.MODEL_FILE: "model_h5", artifacts.SCALER_FILE: "scaler_pkl",
         artifacts.META_FILE: "model_json"}
_COLUMNS = ("id", "name", "ticker", "scope", "is_default", "created_at", "sha256_json", "size",
            "summary")


@dataclass(frozen=True)
class Version:
    """A stored model version, without its bytes."""

    id: int
    name: str
    ticker: str | None  # the ticker it serves; None for an upload without one
    scope: str
    is_default: bool  # what serves ``ticker`` unless a request names another model
    created_at: dt.datetime
    sha256_json: str
    size: int  # the three files' bytes
    summary: dict  # what /models lists
    job_token: str | None = None  # only from ``save``: a listing never carries it


def _version(row: ModelVersion, job_token: str | None = None) -> Version:
    created = row.created_at
    if created.tzinfo is None:  # SQLite gives back what it stored (UTC) without its zone
        created = created.replace(tzinfo=dt.timezone.utc)
    return Version(row.id, row.name, row.ticker, row.scope, bool(row.is_default), created,
                   row.sha256_json, row.size, row.summary, job_token)


def new_name(ticker: str | None, arch: str) -> str:
    """A fresh version name such as "ibm-lstm-3f9a1c" ("upload-lstm-..." without a ticker)."""
    stem = re.sub(r"[^a-z0-9]+", "-", (ticker or "upload").lower()).strip("-") or "model"
    name = f"{stem}-{re.sub(r'[^a-z0-9]+', '-', arch.lower())}-{secrets.token_hex(3)}"
    return name if NAME.fullmatch(name) else f"model-{secrets.token_hex(3)}"


def _read(folder: Path) -> dict[str, bytes]:
    # The bytes stored are the bytes checked: read once, then held to model.json's checksums.
    contents = {}
    for name in FILES:
        try:
            contents[name] = (folder / name).read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{name} of the trained model cannot be read: "
                                f"{type(exc).__name__}") from None
    meta = json.loads(contents[artifacts.META_FILE])
    for name, expected in meta["files"].items():
        if hashlib.sha256(contents[name]).hexdigest() != expected:
            raise ArtifactError(f"{name} of the trained model changed after it was verified; "
                                f"refusing to store it")
    return contents


@guarded(MODELS)
def save(engine: Engine, folder: Path, *, name: str, job_token: str | None, ticker: str | None,
         scope: str, is_default: bool, summary: dict, keep: int,
         incumbent: str | None = None, now: dt.datetime | None = None) -> Version:
    """Store the artifact in ``folder`` as version ``name``, in one transaction.

    Its checksums are verified first (ArtifactError otherwise). When ``is_default``, the
    ticker's other versions stop being its default. Then, past ``keep`` versions, the oldest
    that are no ticker's default are deleted (and, only if that is not enough, the oldest
    defaults: the bound holds whatever was trained); the new one never is.

    ``incumbent`` names the model the new one was judged against: it becomes the default only
    while the ticker's trained default is still that one (or none), so a default another worker
    stored meanwhile is never replaced by a model that was not compared with it (the returned
    version says which). A job that is no longer running (cancelled, failed as stale) stores
    nothing: JobEndedError.
    """
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ArtifactError(f"model name {excerpt(name)} is not valid: expected lower-case "
                            f"letters, digits and '-' (pattern {NAME.pattern})")
    if keep < 1:
        raise ValueError(f"keep={keep!r} must be at least 1")
    folder = Path(folder)
    artifacts.verify(folder)
    contents = _read(folder)
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    with Session(writing(engine), expire_on_commit=False) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        job_id = None
        if job_token is not None:
            job_id, status = session.execute(select(Job.id, Job.status).where(
                Job.token == job_token)).one_or_none() or (None, None)
            if status != "running":
                raise JobEndedError(f"the job is {status or 'gone'}, so its model was not kept")
        is_default = bool(is_default and ticker)
        if is_default:
            current = session.scalar(select(ModelVersion.name).where(
                ModelVersion.ticker == ticker, ModelVersion.is_default.is_(True)))
            is_default = current is None or current == incumbent
        if is_default:
            session.execute(update(ModelVersion).where(
                ModelVersion.ticker == ticker, ModelVersion.is_default.is_(True)).values(
                is_default=False))
        row = ModelVersion(
            name=name, job_id=job_id, ticker=ticker, scope=scope, is_default=is_default,
            created_at=now, sha256_json=hashlib.sha256(contents[artifacts.META_FILE]).hexdigest(),
            size=sum(len(data) for data in contents.values()), summary=summary,
            **{column: contents[file] for file, column in FILES.items()})
        session.add(row)
        session.flush()
        _evict(session, keep, row.id)
        return _version(row, job_token)


def _evict(session: Session, keep: int, new_id: int) -> None:
    extra = (session.scalar(select(func.count()).select_from(ModelVersion)) or 0) - keep
    if extra <= 0:
        return
    # Oldest first, the non-defaults before any default; never the version just stored.
    doomed = list(session.scalars(
        select(ModelVersion.id).where(ModelVersion.id != new_id)
        .order_by(ModelVersion.is_default, ModelVersion.created_at, ModelVersion.id)
        .limit(extra)))
    session.execute(delete(ModelVersion).where(ModelVersion.id.in_(doomed)))


@guarded(MODELS)
def listing(engine: Engine) -> list[Version]:
    """Every stored version, newest first, without its bytes (nor its job's token)."""
    with Session(engine) as session:
        rows = session.scalars(select(ModelVersion).options(
            load_only(*(getattr(ModelVersion, column) for column in _COLUMNS)))
            .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc()))
        return [_version(row) for row in rows]


@guarded(MODELS)
def fingerprints(engine: Engine) -> dict[str, tuple[str, bool, str | None]]:
    """name -> (SHA-256 of model.json, is_default, ticker) of every version: the web's poll."""
    with Session(engine) as session:
        rows = session.execute(select(ModelVersion.name, ModelVersion.sha256_json,
                                      ModelVersion.is_default, ModelVersion.ticker))
        return {name: (digest, bool(default), ticker) for name, digest, default, ticker in rows}


@guarded(MODELS)
def files(engine: Engine, name: str) -> dict[str, bytes]:
    """The three files of version ``name``: {"model.h5", "scaler.pkl", "model.json"} -> bytes;
    ArtifactError when no version has that name (deleted since the poll)."""
    with Session(engine) as session:
        row = session.execute(select(ModelVersion.model_h5, ModelVersion.scaler_pkl,
                                     ModelVersion.model_json).where(
            ModelVersion.name == name)).one_or_none()
    if row is None:
        raise ArtifactError(f"no stored model version is named {excerpt(name, 70)}")
    return {file: bytes(data) for file, data in zip(FILES, row)}


@guarded(MODELS)
def delete_for_job(engine: Engine, job_token: str) -> str | None:
    """Delete the version the job ``job_token`` made; its name, or None when there is none."""
    with Session(writing(engine)) as session, session.begin():
        job_id = session.scalar(select(Job.id).where(Job.token == job_token))
        if job_id is None:
            return None
        name = session.scalar(select(ModelVersion.name).where(ModelVersion.job_id == job_id)
                              .order_by(ModelVersion.id.desc()).limit(1))
        if name is not None:
            session.execute(delete(ModelVersion).where(ModelVersion.name == name))
        return name

"""Uploaded price files kept for their permanent link, once per content, purged when unviewed.

Files live in the database, never on disk: no path is ever built from an id or a file name.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from ..errors import DataError, UnknownUploadError
from .models import Upload

# The web app refuses bodies over 5 MB before this is reached; the store holds its own bound.
MAX_UPLOAD_BYTES = 5_000_000
MAX_NAME_CHARS = 80
DEFAULT_RETENTION_DAYS = 90


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def save(engine: Engine, content: bytes, file_name: str | None = None,
         options: dict | None = None, now: dt.datetime | None = None) -> int:
    """The id of the upload holding ``content``: the one stored before, or a new one."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise DataError(f"the file is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB, the most an "
                        f"upload may be")
    digest = hashlib.sha256(content).hexdigest()
    now = now or _now()
    with Session(engine) as session, session.begin():
        found = session.scalar(select(Upload.id).where(Upload.sha256 == digest))
        if found is not None:
            session.execute(update(Upload).where(Upload.id == found).values(viewed_at=now))
            return found
        upload = Upload(sha256=digest, file_name=(file_name or None) and file_name[:MAX_NAME_CHARS],
                        content=content, options=options or {}, created_at=now, viewed_at=now)
        session.add(upload)
        session.flush()
        return upload.id


def load(engine: Engine, upload_id: int, now: dt.datetime | None = None) -> Upload:
    """The upload ``upload_id``, marked as viewed now; UnknownUploadError when it is gone."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise UnknownUploadError(f"upload {upload_id} does not exist, or was removed after "
                                     f"{DEFAULT_RETENTION_DAYS} days without a visit")
        upload.viewed_at = now or _now()
        return upload


def purge(engine: Engine, days: int = DEFAULT_RETENTION_DAYS,
          now: dt.datetime | None = None) -> int:
    """Delete the uploads nobody viewed in ``days`` days; how many went."""
    cutoff = (now or _now()) - dt.timedelta(days=days)
    with Session(engine) as session, session.begin():
        return session.execute(delete(Upload).where(Upload.viewed_at < cutoff)).rowcount

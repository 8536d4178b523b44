"""Uploaded price files kept for their permanent link, once per content, name and options,
purged when nobody has viewed them for a while.

Files live in the database, never on disk: no path is ever built from an id or a file name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..data.csv import MAX_UPLOAD_BYTES
from ..errors import DataError, UnknownUploadError
from .db import guarded, writing
from .models import Upload

UPLOADS = "stored uploads"
MAX_NAME_CHARS = 80
DEFAULT_RETENTION_DAYS = 90


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@guarded(UPLOADS)
def save(engine: Engine, content: bytes, file_name: str | None = None,
         options: dict | None = None, now: dt.datetime | None = None) -> int:
    """The id of the upload of ``content`` under ``file_name`` with ``options``: the one stored
    before, or a new one.

    One upload per content, name and options: the same file sent with another ticker (a file
    of several symbols) or under another name (which titles the forecast) is another forecast,
    and gets a link of its own.
    """
    if len(content) > MAX_UPLOAD_BYTES:
        raise DataError(f"the file is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB, the most an "
                        f"upload may be")
    name = (file_name or None) and file_name[:MAX_NAME_CHARS]
    options = options or {}
    described = json.dumps({"file_name": name, "options": options}, sort_keys=True)
    digest = hashlib.sha256(content + b"\0" + described.encode()).hexdigest()
    now = now or _now()
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    # One statement: two workers saving the same upload at once get the same id, never an
    # IntegrityError for the second.
    statement = insert(Upload).values(sha256=digest, file_name=name, content=content,
                                      options=options, created_at=now, viewed_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["sha256"], set_={"viewed_at": now}).returning(Upload.id)
    with writing(engine).begin() as connection:
        return int(connection.execute(statement).scalar_one())


@guarded(UPLOADS)
def load(engine: Engine, upload_id: int, now: dt.datetime | None = None) -> Upload:
    """The upload ``upload_id``, marked as viewed now; UnknownUploadError when it is gone."""
    with Session(writing(engine), expire_on_commit=False) as session, session.begin():
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise UnknownUploadError(f"upload {upload_id} does not exist, or was removed after "
                                     f"{DEFAULT_RETENTION_DAYS} days without a visit")
        upload.viewed_at = now or _now()
        return upload


@guarded(UPLOADS)
def purge(engine: Engine, days: int = DEFAULT_RETENTION_DAYS,
          now: dt.datetime | None = None) -> int:
    """Delete the uploads nobody viewed in ``days`` days; how many went."""
    cutoff = (now or _now()) - dt.timedelta(days=days)
    with Session(writing(engine)) as session, session.begin():
        return session.execute(delete(Upload).where(Upload.viewed_at < cutoff)).rowcount

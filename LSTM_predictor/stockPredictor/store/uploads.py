"""Uploaded price files kept for their permanent links, within a total and a per-client byte
budget, removed when nobody has viewed them for a while.

The bytes of a file are stored once (``UploadContent``, keyed by their SHA-256); each link
(``Upload``: the file name and options that title and read it) points at them. A new upload
that would take the store past a budget first removes the least recently used links: the
sender's own for the per-client budget, anyone's for the total. A removed link keeps a short
row saying why (space or time), so its visitor is told it expired; ids are issued in order, so
an id at or below the largest issued that has no row left expired too, and one above it never
existed. Files live in the database, never on disk: no path is built from an id or a name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, exists, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import settings as settings_module
from ..data.csv import MAX_UPLOAD_BYTES
from ..errors import DataError, ExpiredUploadError, UnknownUploadError
from .db import guarded, reason, writing
from .models import Upload, UploadContent

log = logging.getLogger(__name__)

UPLOADS = "stored uploads"
MAX_NAME_CHARS = 80
DEFAULT_RETENTION_DAYS = 90
MB = 1_000_000
# What a link row costs beside its file (its columns and four index entries, rounded up):
# counted in the budgets, so a flood of one small file under many names is bounded too.
LINK_BYTES = 1_000
# Expired links kept to tell their visitors why (~0.5 kB each: ~10 MB); older ones say less.
MAX_EXPIRED = 20_000
# A view moves an upload's purge clock at most this often: most views write nothing.
VIEW_REFRESH = dt.timedelta(days=1)
# Saves take this PostgreSQL advisory lock (SQLite's write lock does the same): two workers
# never both see room for their upload and overshoot a budget together.
LOCK_KEY = 0x5570_6C6F_6164  # "Upload"
PAGE = 500  # links read at a time while choosing what to remove


@dataclass(frozen=True)
class Budgets:
    """The bytes uploads may take in all and per client, and the days an unviewed one stays."""

    total_bytes: int
    client_bytes: int
    retention_days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def of(cls, settings: settings_module.Settings | None = None) -> "Budgets":
        """The budgets ``settings`` (default: the process's) set."""
        settings = settings or settings_module.current()
        return cls(settings.upload_budget_mb * MB, settings.upload_client_budget_mb * MB,
                   settings.upload_retention_days)


@dataclass(frozen=True)
class Stored:
    """An upload as its link gives it: the file's bytes, its name and options."""

    id: int
    file_name: str | None
    options: dict
    content: bytes
    viewed_at: dt.datetime


def sender(address: str) -> str:
    """The client at ``address``: the address itself, an IPv4 one mapped into IPv6 as IPv4,
    and an IPv6 one as its /64, which one subscriber usually holds whole. The rate limits
    count by it too."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


def client_key(address: str | None, secret: str) -> str | None:
    """A keyed hash naming the sender at ``address`` (None when unknown), never the address."""
    if not address:
        return None
    return hmac.new(secret.encode(), sender(address).encode(), hashlib.sha256).hexdigest()[:32]


def _utc(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back what it stored (UTC) without its zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@guarded(UPLOADS)
def save(engine: Engine, content: bytes, file_name: str | None = None,
         options: dict | None = None, client: str | None = None,
         budgets: Budgets | None = None, now: dt.datetime | None = None) -> int:
    """The id of the link to ``content`` under ``file_name`` with ``options``: the one stored
    before (a link that expired comes back with its id), or a new one.

    One link per content, name and options: the same file under another name (which titles
    the forecast) or another ticker (a file of several symbols) is another forecast with a link
    of its own, and the bytes are stored once. Room is made first, least recently used links
    going; a file that cannot fit a budget at all is a DataError. Uploads nobody viewed for the
    retention period are removed here too.
    """
    if len(content) > MAX_UPLOAD_BYTES:
        raise DataError(f"the file is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB, the most an "
                        f"upload may be")
    budgets, now = budgets or Budgets.of(), _utc(now)
    name = (file_name or None) and file_name[:MAX_NAME_CHARS]
    options = options or {}
    described = json.dumps({"file_name": name, "options": options}, sort_keys=True)
    key = hashlib.sha256(content + b"\0" + described.encode()).hexdigest()
    with Session(writing(engine)) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        upload_id, removed = _save(session, content, key, name, options, client, budgets, now)
    if removed:
        _vacuum(engine)
    return upload_id


def _save(session: Session, content: bytes, key: str, name: str | None, options: dict,
          client: str | None, budgets: Budgets, now: dt.datetime) -> tuple[int, int]:
    # The link's id, and how many files were removed to make room or for time.
    digest = hashlib.sha256(content).hexdigest()
    removed = _expire_unviewed(session, budgets.retention_days, now, keep=digest)[1]
    link = session.scalars(select(Upload).where(Upload.sha256 == key)).one_or_none()
    if link is not None and link.expired is None:
        link.viewed_at = now
        return link.id, removed
    stored = session.scalar(select(UploadContent.size).where(
        UploadContent.sha256 == digest)) is not None
    room = [(None, budgets.total_bytes, 0 if stored else len(content))]
    if client is not None:
        mine = session.scalar(select(exists().where(
            Upload.client == client, Upload.content_sha256 == digest)))
        room.insert(0, (client, budgets.client_bytes, 0 if mine else len(content)))
    for sender, budget, added in room:
        removed += _make_room(session, sender, budget, LINK_BYTES + added, digest, now)
    if not stored:
        session.add(UploadContent(sha256=digest, content=content, size=len(content),
                                  created_at=now))
        session.flush()  # before the link that points at it
    if link is None:
        link = Upload(sha256=key, file_name=name, options=options, created_at=now)
        session.add(link)
    link.content_sha256, link.client, link.viewed_at = digest, client, now
    link.expired = link.expired_at = None
    session.flush()
    _prune(session, budgets.retention_days, now)
    return link.id, removed


def _vacuum(engine: Engine) -> None:
    # PostgreSQL keeps a deleted file's pages until a VACUUM marks them free; autovacuum may
    # wait minutes, and a flood would grow the database by every file it pushed out. Once
    # marked, the next files reuse those pages: the database stays near the budget. SQLite
    # reuses freed pages by itself.
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM upload_contents"))
    except SQLAlchemyError as exc:  # kept all the same; autovacuum will come
        log.warning("VACUUM upload_contents failed: %s", reason(exc))


@guarded(UPLOADS)
def load(engine: Engine, upload_id: int, now: dt.datetime | None = None, touch: bool = False,
         days: int | None = None) -> Stored:
    """The upload ``upload_id``; ExpiredUploadError when its file was removed (saying why),
    UnknownUploadError when it never existed.

    ``touch`` (a person viewing its page) moves its purge clock to ``now``, at most once every
    ``VIEW_REFRESH``: other reads write nothing.
    """
    now = _utc(now)
    with Session(engine) as session:
        found = session.execute(
            select(Upload.file_name, Upload.options, Upload.expired, Upload.viewed_at,
                   UploadContent.content)
            .outerjoin(UploadContent, Upload.content_sha256 == UploadContent.sha256)
            .where(Upload.id == upload_id)).one_or_none()
        if found is None:
            top = session.scalar(select(func.max(Upload.id)))
            if top is not None and upload_id <= top:
                raise ExpiredUploadError(expired_message(upload_id, None, days))
            raise UnknownUploadError(f"upload {upload_id} does not exist")
    if found.content is None:
        raise ExpiredUploadError(expired_message(upload_id, found.expired, days))
    viewed = _aware(found.viewed_at)
    if touch and now - viewed >= VIEW_REFRESH:
        with writing(engine).begin() as connection:
            connection.execute(update(Upload).where(
                Upload.id == upload_id, Upload.expired.is_(None),
                Upload.viewed_at <= now - VIEW_REFRESH).values(viewed_at=now))
        viewed = now
    return Stored(upload_id, found.file_name, dict(found.options or {}), bytes(found.content),
                  viewed)


def expired_message(upload_id: int, why: str | None, days: int | None = None) -> str:
    """The sentence for a link whose file was removed: for space, for time, or either."""
    days = days or settings_module.current().upload_retention_days
    because = {"space": "to make room for newer uploads",
               "time": f"after {days} days without a visit"}.get(
        why, f"to make room for newer uploads or after {days} days without a visit")
    return (f"the link to upload {upload_id} has expired: its file was removed {because}; "
            f"upload the file again to forecast it")


@guarded(UPLOADS)
def purge(engine: Engine, days: int = DEFAULT_RETENTION_DAYS,
          now: dt.datetime | None = None) -> int:
    """Remove the uploads nobody viewed in ``days`` days, and the files no link points at;
    how many links expired. Every save does this too."""
    with Session(writing(engine)) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        expired, removed = _expire_unviewed(session, days, _utc(now))
        _prune(session, days, _utc(now))
    if removed:
        _vacuum(engine)
    return expired


@guarded(UPLOADS)
def usage(engine: Engine, client: str | None = None) -> int:
    """The bytes counted against the total budget, or ``client``'s."""
    with Session(engine) as session:
        return _used(session, client)


def _used(session: Session, client: str | None) -> int:
    # Each file once (a sender's: each file it links once), and LINK_BYTES per live link.
    links = select(Upload.content_sha256).where(Upload.content_sha256.is_not(None))
    if client is not None:
        links = links.where(Upload.client == client)
    files = select(func.coalesce(func.sum(UploadContent.size), 0))
    if client is not None:
        files = files.where(UploadContent.sha256.in_(links))
    count = select(func.count()).select_from(links.subquery())
    return int(session.scalar(files)) + LINK_BYTES * int(session.scalar(count))


def _make_room(session: Session, client: str | None, budget: int, needed: int, keep: str,
               now: dt.datetime) -> int:
    # Expire the least recently used links (``client``'s, or anyone's) until ``needed`` bytes
    # fit in ``budget``. ``keep``, the file being linked, is never removed, so what it frees
    # is not counted.
    if needed > budget:
        whose = "one sender's uploads" if client else "uploads"
        raise DataError(f"the file needs {needed / MB:.1f} MB, more than the {budget / MB:g} MB "
                        f"{whose} may take; it is forecast but not kept")
    over = _used(session, client) + needed - budget
    if over <= 0:
        return 0
    chosen, freed, links, offset = [], 0, {}, 0
    candidates = (select(Upload.id, Upload.content_sha256, UploadContent.size)
                  .join(UploadContent, Upload.content_sha256 == UploadContent.sha256)
                  .order_by(Upload.viewed_at, Upload.id))
    counts = select(Upload.content_sha256, func.count()).where(
        Upload.content_sha256.is_not(None)).group_by(Upload.content_sha256)
    if client is not None:
        candidates, counts = (query.where(Upload.client == client)
                              for query in (candidates, counts))
    while freed < over:
        rows = session.execute(candidates.limit(PAGE).offset(offset)).all()
        if not rows:
            raise DataError(f"there is no room to keep this file within the {budget / MB:g} "
                            f"MB uploads may take; it is forecast but not kept")
        offset += len(rows)
        new = {row.content_sha256 for row in rows} - links.keys()
        links.update(session.execute(counts.where(Upload.content_sha256.in_(new))).all())
        for row in rows:
            chosen.append(row.id)
            freed += LINK_BYTES
            links[row.content_sha256] -= 1
            if links[row.content_sha256] == 0 and row.content_sha256 != keep:
                freed += row.size  # its last link (the sender's last) goes: so do its bytes
            if freed >= over:
                break
    return _expire(session, chosen, "space", now, keep)


def _expire_unviewed(session: Session, days: int, now: dt.datetime,
                     keep: str | None = None) -> tuple[int, int]:
    # How many links expired, and how many files went with them.
    cutoff = now - dt.timedelta(days=days)
    ids = session.scalars(select(Upload.id).where(
        Upload.expired.is_(None), Upload.viewed_at < cutoff)).all()
    return len(ids), _expire(session, ids, "time", now, keep)


def _prune(session: Session, days: int, now: dt.datetime) -> None:
    # Expired links past the retention period, or past MAX_EXPIRED, go for good; never the
    # newest link, which says which ids were issued.
    cutoff = now - dt.timedelta(days=days)
    top = select(func.max(Upload.id)).scalar_subquery()
    surplus = select(Upload.id).where(Upload.expired.is_not(None)).order_by(
        Upload.expired_at.desc(), Upload.id.desc()).offset(MAX_EXPIRED)
    session.execute(delete(Upload).where(
        Upload.expired.is_not(None), Upload.id < top,
        (Upload.expired_at < cutoff) | Upload.id.in_(surplus.scalar_subquery())),
        execution_options={"synchronize_session": False})


def _expire(session: Session, ids: list[int], why: str, now: dt.datetime,
            keep: str | None) -> int:
    # The links lose their file and say why; files no link points at any more are deleted:
    # how many.
    removed = 0
    for start in range(0, len(ids), PAGE):
        part = ids[start:start + PAGE]
        files = set(session.scalars(select(Upload.content_sha256).where(Upload.id.in_(part))))
        session.execute(update(Upload).where(Upload.id.in_(part)).values(
            content_sha256=None, expired=why, expired_at=now),
            execution_options={"synchronize_session": False})
        orphans = and_(UploadContent.sha256.in_(files - {keep, None}), ~exists().where(
            Upload.content_sha256 == UploadContent.sha256))
        removed += session.execute(delete(UploadContent).where(orphans),
                                   execution_options={"synchronize_session": False}).rowcount
    return removed

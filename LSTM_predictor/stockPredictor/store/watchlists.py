"""Watchlists: named lists of tickers reached through an unguessable token (issue 22, A).

No accounts: whoever holds a list's token may read, change and delete it. Every bound is checked
here, where the rows are written, so the pages and the API refuse alike: tickers per list, the
name's length, lists made per client in any 24 hours (counted in the database, so every web
process and dyno shares the count), lists in all (past ``max_lists`` the least recently read
go) and one refresh or cold job per list at a time: a claim holds while its job is queued or
running, the job gives it back (``finish``) when it ends, and a claim older than its stale guard
(a job lost with its worker) is taken again.

A deleted list leaves a tombstone for a day: its name, tickers and token are erased (the token is
replaced by a fresh one nobody was given), only its client and creation time stay, so deleting
lists does not give back room under the per-day bound. ``create`` purges tombstones a day old and
lists unread for ``keep_days``, as jobs and uploads purge on each write.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, or_, select, text, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from ..data.tickers import check_ticker
from ..errors import DataError, StockPredictorError, excerpt
from .db import guarded, writing
from .jobs import aware as _aware
from .jobs import utc as _utc
from .models import Watchlist as Row

__all__ = ["COLUMNS", "DEFAULT_NAME", "TOKEN", "Watchlist", "WatchlistBoundError",
           "WatchlistNotFound", "add_ticker", "claim", "clean_name", "clean_tickers", "create",
           "delete", "finish", "get", "purge", "release", "replace", "require_claim",
           "CLAIM_STALE_S"]

WATCHLISTS = "watchlists"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), as store.jobs.TOKEN
DEFAULT_NAME = "Watchlist"  # a list made without a name ("Add to watchlist" with none yet)
UNKNOWN_CLIENT = "unknown"  # senders whose address is not known share one count
COLUMNS = {"refresh": "refresh_requested_at", "cold": "cold_queued_at"}
DAY = dt.timedelta(days=1)
# A visit moves a list's purge clock at most this often: most reads write nothing.
READ_REFRESH = dt.timedelta(days=1)
# Creation takes this PostgreSQL advisory lock for its transaction (SQLite's write lock, taken
# at BEGIN, does the same): two web workers never both count a client's lists and both insert.
LOCK_KEY = 0x5761_7463_68  # "Watch"
TOMBSTONE = ""  # the name of a deleted list's row; a live list's name is never empty
# A cold job's claim older than this is taken again (its job was lost with its worker): longer
# than a list's cold pass (~170 ms a ticker: 85 s for 500) plus a wait in the queue.
CLAIM_STALE_S = 900


class WatchlistNotFound(StockPredictorError, LookupError):
    """No watchlist has this token."""


class WatchlistBoundError(DataError):
    """A bound was passed (``bound``: tickers, name, per_day, refresh; ``status``: HTTP code)."""

    def __init__(self, message: str, bound: str, limit: float, status: int,
                 retry_after: int | None = None):
        super().__init__(message)
        self.bound, self.limit, self.status, self.retry_after = bound, limit, status, retry_after


@dataclass(frozen=True)
class Watchlist:
    """A stored watchlist (never its client)."""

    token: str
    name: str
    tickers: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    read_at: dt.datetime | None = None
    refresh_requested_at: dt.datetime | None = None  # the last refresh job's claim
    cold_queued_at: dt.datetime | None = None  # the last cold job's claim


def _record(row: Row) -> Watchlist:
    return Watchlist(row.token, row.name, tuple(row.tickers), _aware(row.created_at),
                     _aware(row.updated_at), _aware(row.read_at),
                     _aware(row.refresh_requested_at), _aware(row.cold_queued_at))


def _unknown(token: object) -> WatchlistNotFound:
    return WatchlistNotFound(f"no watchlist has the token {excerpt(token, 50)}: it was never "
                             f"made, was deleted, or went unread too long")


def _check_token(token: object) -> str:
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise _unknown(token)
    return token


def _row(session: Session, token: str, lock: bool = False) -> Row:
    query = select(Row).where(Row.token == _check_token(token), Row.name != TOMBSTONE)
    row = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise _unknown(token)
    return row


def clean_name(name: object, max_name: int) -> str:
    """The name stripped (DEFAULT_NAME when empty), or WatchlistBoundError (422) past
    ``max_name`` characters."""
    if name is None:
        return DEFAULT_NAME
    if not isinstance(name, str):
        raise DataError(f"name {excerpt(name)} is not valid: expected text of at most "
                        f"{max_name} characters")
    cleaned = " ".join(name.split())  # no line breaks or runs of spaces in a table's title
    if len(cleaned) > max_name:
        raise WatchlistBoundError(f"a watchlist's name holds at most {max_name} characters; "
                                  f"this one has {len(cleaned)}", "name", max_name, 422)
    return cleaned or DEFAULT_NAME


def clean_tickers(tickers: object, max_tickers: int, where: str = "") -> list[str]:
    """The tickers checked, upper-cased, each kept once in the order given; DataError naming a
    bad one, WatchlistBoundError (413) past ``max_tickers`` (``where``: " through the API")."""
    if not isinstance(tickers, (list, tuple)):
        raise DataError(f"tickers {excerpt(tickers)} is not valid: expected a list of tickers "
                        f"such as [\"IBM\", \"MSFT\"]")
    kept = list(dict.fromkeys(check_ticker(ticker) for ticker in tickers))
    if len(kept) > max_tickers:
        raise _too_many(max_tickers, len(kept), where)
    return kept


def _too_many(limit: int, count: int, where: str) -> WatchlistBoundError:
    return WatchlistBoundError(f"a watchlist holds at most {limit} tickers{where}; this one has "
                               f"{count}", "tickers", limit, 413)


@guarded(WATCHLISTS)
def create(engine: Engine, name: str, tickers: list[str], client: str | None, *,
           max_tickers: int, max_name: int, per_day: int, now: dt.datetime | None = None,
           keep_days: int | None = None, max_lists: int | None = None,
           where: str = "") -> Watchlist:
    """A new watchlist, or WatchlistBoundError naming the bound passed.

    ``client`` (store.uploads.client_key; None: an unknown sender) may make ``per_day`` lists
    in any 24 hours. With ``keep_days``, lists unread that long are purged in the same
    transaction; with ``max_lists`` (WATCHLISTS_MAX), the least recently read lists go so that
    at most that many are kept, the new one included.
    """
    now, client = _utc(now), client or UNKNOWN_CLIENT
    name, tickers = clean_name(name, max_name), clean_tickers(tickers, max_tickers, where)
    with Session(writing(engine), expire_on_commit=False) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        if keep_days is not None:
            _purge(session, keep_days, now)
        made = list(session.scalars(select(Row.created_at).where(
            Row.client == client, Row.created_at > now - DAY).order_by(
            Row.created_at).limit(per_day)))
        if len(made) >= per_day:
            wait = math.ceil((_aware(made[0]) + DAY - now).total_seconds())
            raise WatchlistBoundError(
                f"you made {per_day} watchlists in the last 24 hours, the most a client may "
                f"(WATCHLISTS_PER_DAY={per_day}); add to one of them, or try again in "
                f"{_hours(wait)}", "per_day", per_day, 429, max(1, wait))
        if max_lists is not None:
            _make_room(session, max_lists - 1)
        row = Row(token=secrets.token_urlsafe(32), client=client, name=name, tickers=tickers,
                  created_at=now, updated_at=now, read_at=now)
        session.add(row)
        session.flush()
        return _record(row)


def _make_room(session: Session, keep: int) -> int:
    # The least recently read live lists past ``keep`` go (tombstones stay: they count for
    # the per-day bound, and go themselves after a day); how many went.
    live = Row.name != TOMBSTONE
    excess = (session.scalar(select(func.count()).select_from(Row).where(live)) or 0) - keep
    if excess <= 0:
        return 0
    oldest = select(Row.id).where(live).order_by(Row.read_at, Row.id).limit(excess)
    session.execute(sql_delete(Row).where(Row.id.in_(list(session.scalars(oldest)))))
    return excess


def _hours(seconds: int) -> str:
    if seconds < 3600:
        minutes = max(1, math.ceil(seconds / 60))
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = math.ceil(seconds / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


@guarded(WATCHLISTS)
def get(engine: Engine, token: str, *, touch: bool = False,
        now: dt.datetime | None = None) -> Watchlist:
    """The watchlist ``token`` names, or WatchlistNotFound; ``touch`` (a person reading it)
    moves its purge clock, at most once a day."""
    with Session(engine) as session:
        record = _record(_row(session, token))
    now = _utc(now)
    if touch and (record.read_at is None or now - record.read_at >= READ_REFRESH):
        with writing(engine).begin() as connection:
            connection.execute(update(Row).where(Row.token == token).values(read_at=now))
        record = Watchlist(**{**record.__dict__, "read_at": now})
    return record


@guarded(WATCHLISTS)
def replace(engine: Engine, token: str, name: str, tickers: list[str], *, max_tickers: int,
            max_name: int, now: dt.datetime | None = None, where: str = "") -> Watchlist:
    """Replace the list's name and tickers, within the same bounds as ``create``."""
    name, tickers = clean_name(name, max_name), clean_tickers(tickers, max_tickers, where)
    now = _utc(now)
    with Session(writing(engine), expire_on_commit=False) as session, session.begin():
        row = _row(session, token, lock=True)
        row.name, row.tickers, row.updated_at = name, tickers, now
        session.flush()
        return _record(row)


@guarded(WATCHLISTS)
def add_ticker(engine: Engine, token: str, ticker: str, *, max_tickers: int,
               now: dt.datetime | None = None, where: str = "") -> Watchlist:
    """Append ``ticker`` (kept once) to the list; WatchlistBoundError (413) when it is full."""
    ticker = check_ticker(ticker)
    with Session(writing(engine), expire_on_commit=False) as session, session.begin():
        row = _row(session, token, lock=True)  # read, then write: nobody appends between
        if ticker in row.tickers:
            return _record(row)
        if len(row.tickers) >= max_tickers:
            raise _too_many(max_tickers, len(row.tickers) + 1, where)
        row.tickers, row.updated_at = [*row.tickers, ticker], _utc(now)
        session.flush()
        return _record(row)


@guarded(WATCHLISTS)
def delete(engine: Engine, token: str) -> None:
    """Remove the list, or WatchlistNotFound; a tombstone counts it for the per-day bound."""
    with Session(writing(engine)) as session, session.begin():
        row = _row(session, token, lock=True)
        row.name, row.tickers = TOMBSTONE, []
        row.token = secrets.token_urlsafe(32)  # the old token now reaches nothing
        row.refresh_requested_at = row.cold_queued_at = None


@guarded(WATCHLISTS)
def claim(engine: Engine, token: str, column: str, min_interval_s: float,
          now: dt.datetime | None = None) -> bool:
    """True when no job of ``column`` ("refresh" or "cold") is queued or running for the list:
    its claim was given back (``finish``, ``release``) or is older than ``min_interval_s``, the
    stale guard (for "cold", ``CLAIM_STALE_S``). One atomic UPDATE, so of two web processes
    asking at once only one is granted."""
    now = _utc(now)
    field = getattr(Row, COLUMNS[column])
    with writing(engine).begin() as connection:
        granted = connection.execute(update(Row).where(
            Row.token == _check_token(token), Row.name != TOMBSTONE,
            or_(field.is_(None), field <= now - dt.timedelta(seconds=min_interval_s))
        ).values({field: now})).rowcount
    return granted == 1


def require_claim(engine: Engine, token: str, column: str, min_interval_s: float,
                  now: dt.datetime | None = None) -> None:
    """``claim``, or WatchlistNotFound, or WatchlistBoundError (429, Retry-After) saying when
    the list may be refreshed again."""
    now = _utc(now)
    if claim(engine, token, column, min_interval_s, now):
        return
    last = getattr(get(engine, token), COLUMNS[column]) or now  # unknown: WatchlistNotFound
    wait = max(1, math.ceil(min_interval_s - (now - last).total_seconds()))
    raise WatchlistBoundError(
        f"this watchlist's prices were refreshed less than {min_interval_s:g} seconds ago "
        f"(WATCHLIST_REFRESH_S={min_interval_s:g}); try again in {wait} seconds", "refresh",
        min_interval_s, 429, wait)


@guarded(WATCHLISTS)
def release(engine: Engine, token: str, column: str) -> None:
    """Give back a claim whose job could not be queued, or whose job ended (``finish``), so the
    next ask is granted."""
    with writing(engine).begin() as connection:
        connection.execute(update(Row).where(Row.token == token).values(
            {getattr(Row, COLUMNS[column]): None}))


finish = release  # what a job calls when it ends: the list may queue the next one


def _purge(session: Session, keep_days: int, now: dt.datetime) -> int:
    unread = and_(Row.name != TOMBSTONE, Row.read_at < now - dt.timedelta(days=keep_days))
    removed = session.scalar(select(func.count()).select_from(Row).where(unread)) or 0
    session.execute(sql_delete(Row).where(or_(
        unread, and_(Row.name == TOMBSTONE, Row.created_at <= now - DAY))))
    return removed


@guarded(WATCHLISTS)
def purge(engine: Engine, keep_days: int, now: dt.datetime | None = None) -> int:
    """Remove lists unread for ``keep_days`` (and tombstones a day old); how many lists went."""
    with Session(writing(engine)) as session, session.begin():
        return _purge(session, keep_days, _utc(now))

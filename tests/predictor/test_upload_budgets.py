"""Upload budgets: one copy per content, a total and a per-client byte budget with the least
recently used going first, expired links told apart from unknown ids, the view clock, and
migration 0004 on uploads stored before it; on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from stockPredictor.errors import DataError, ExpiredUploadError, UnknownUploadError
from stockPredictor.store import engine_for, upgrade, uploads
from stockPredictor.store.models import Upload, UploadContent

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
KB = 1_000
LINK = uploads.LINK_BYTES


def _file(tag: str, size: int = 10 * KB) -> bytes:
    # Distinct bytes of exactly ``size``: what is counted is the file's length.
    head = f"Date,Close\n# {tag}\n".encode()
    return head + b"x" * (size - len(head))


def _rows(engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.scalar(select(func.count()).select_from(Upload).where(
                    Upload.expired.is_(None))),
                session.scalar(select(func.count()).select_from(UploadContent)))


def _budgets(total: int, client: int | None = None) -> uploads.Budgets:
    return uploads.Budgets(total_bytes=total, client_bytes=client or total, retention_days=90)


def _live(engine, *ids: int) -> list[bool]:
    found = []
    for upload_id in ids:
        try:
            uploads.load(engine, upload_id, now=DAY)
        except ExpiredUploadError:
            found.append(False)
        else:
            found.append(True)
    return found


def test_one_file_under_several_names_and_options_is_stored_once(engine):
    content = _file("one", 50 * KB)
    ids = {uploads.save(engine, content, name, {"ticker": ticker}, now=DAY)
           for name in ("a.csv", "b.csv", "c.csv") for ticker in (None, "IBM")}
    assert len(ids) == 6  # six links, each its own forecast
    assert _rows(engine) == (6, 1)  # one copy of the bytes
    assert uploads.usage(engine) == 50 * KB + 6 * LINK
    for upload_id in ids:
        assert uploads.load(engine, upload_id, now=DAY).content == content


def test_the_total_budget_removes_the_least_recently_used_first(engine):
    budgets = _budgets(3 * (10 * KB + LINK))  # room for three files
    a, b, c = (uploads.save(engine, _file(tag), f"{tag}.csv", client=tag, budgets=budgets,
                            now=DAY + i * HOUR) for i, tag in enumerate("abc"))
    # A visit the next day makes a more recent than b, the oldest now.
    uploads.load(engine, a, now=DAY + dt.timedelta(days=1), touch=True)
    d = uploads.save(engine, _file("d"), "d.csv", client="d", budgets=budgets,
                     now=DAY + dt.timedelta(days=1, hours=1))
    assert _live(engine, a, b, c, d) == [True, False, True, True]
    assert uploads.usage(engine) <= budgets.total_bytes
    assert _rows(engine) == (3, 3)  # b's bytes are gone, not only its link
    with pytest.raises(ExpiredUploadError, match=f"upload {b} has expired: its file was "
                       "removed to make room for newer uploads; upload the file again"):
        uploads.load(engine, b)


def test_a_client_over_its_budget_loses_its_own_oldest_never_anothers(engine):
    budgets = _budgets(total=1_000 * KB, client=2 * (10 * KB + LINK))  # two files a client
    other = uploads.save(engine, _file("other"), client="other", budgets=budgets, now=DAY)
    mine = [uploads.save(engine, _file(f"mine{i}"), client="me", budgets=budgets,
                         now=DAY + (i + 1) * HOUR) for i in range(3)]
    # The other client's upload is the oldest of all, and stays.
    assert _live(engine, other, *mine) == [True, False, True, True]
    assert uploads.usage(engine, "me") <= budgets.client_bytes
    assert uploads.usage(engine, "other") == 10 * KB + LINK


def test_a_file_shared_by_two_clients_stays_while_one_still_links_it(engine):
    budgets = _budgets(total=1_000 * KB, client=10 * KB + LINK)  # one file a client
    shared = _file("shared")
    first = uploads.save(engine, shared, "mine.csv", client="me", budgets=budgets, now=DAY)
    theirs = uploads.save(engine, shared, "theirs.csv", client="you", budgets=budgets,
                          now=DAY + HOUR)
    replaced = uploads.save(engine, _file("new"), client="me", budgets=budgets,
                            now=DAY + 2 * HOUR)
    assert _live(engine, first, theirs, replaced) == [False, True, True]
    assert uploads.load(engine, theirs).content == shared
    assert _rows(engine) == (2, 2)


def test_many_links_to_one_small_file_are_bounded_too(engine):
    budgets = _budgets(total=1 * KB + 5 * LINK)
    ids = [uploads.save(engine, b"Date,Close\n", f"{i}.csv", budgets=budgets,
                        now=DAY + i * HOUR) for i in range(20)]
    assert _live(engine, *ids).count(True) == 5
    assert _live(engine, *ids[-5:]) == [True] * 5  # the newest five
    assert uploads.usage(engine) <= budgets.total_bytes


def test_a_file_no_budget_can_hold_is_refused_and_nothing_is_removed(engine):
    budgets = _budgets(total=100 * KB, client=20 * KB)
    kept = uploads.save(engine, _file("kept"), client="me", budgets=budgets, now=DAY)
    with pytest.raises(DataError, match="more than the 0.02 MB one sender's uploads may take"):
        uploads.save(engine, _file("big", 30 * KB), client="me", budgets=budgets, now=DAY)
    with pytest.raises(DataError, match="more than the 0.1 MB uploads may take"):
        uploads.save(engine, _file("huge", 200 * KB), budgets=budgets, now=DAY)
    assert _live(engine, kept) == [True] and _rows(engine) == (1, 1)


def test_saving_again_moves_an_upload_to_the_front_and_revives_an_expired_link(engine):
    budgets = _budgets(2 * (10 * KB + LINK))
    a = uploads.save(engine, _file("a"), "a.csv", budgets=budgets, now=DAY)
    b = uploads.save(engine, _file("b"), "b.csv", budgets=budgets, now=DAY + HOUR)
    assert uploads.save(engine, _file("a"), "a.csv", budgets=budgets, now=DAY + 2 * HOUR) == a
    c = uploads.save(engine, _file("c"), "c.csv", budgets=budgets, now=DAY + 3 * HOUR)
    assert _live(engine, a, b, c) == [True, False, True]
    # The person told to upload the file again gets the same link back.
    assert uploads.save(engine, _file("b"), "b.csv", budgets=budgets, now=DAY + 4 * HOUR) == b
    assert _live(engine, a, b, c) == [False, True, True]


def test_an_expired_id_is_told_apart_from_one_never_issued(engine):
    a = uploads.save(engine, _file("a"), now=DAY)
    b = uploads.save(engine, _file("b"), now=DAY)
    with Session(engine) as session, session.begin():  # a row pruned long ago
        session.execute(text("DELETE FROM uploads WHERE id = :id"), {"id": a})
    with pytest.raises(ExpiredUploadError, match=f"upload {a} has expired: its file was removed "
                       "to make room for newer uploads or after 30 days without a visit"):
        uploads.load(engine, a, days=30)
    with pytest.raises(UnknownUploadError) as unknown:
        uploads.load(engine, b + 1)
    assert not isinstance(unknown.value, ExpiredUploadError)
    assert str(unknown.value) == f"upload {b + 1} does not exist"


def _viewed(engine, upload_id: int) -> dt.datetime:
    with Session(engine) as session:
        moment = session.scalar(select(Upload.viewed_at).where(Upload.id == upload_id))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def test_a_view_moves_the_purge_clock_at_most_once_a_day(engine):
    upload_id = uploads.save(engine, _file("a"), now=DAY)
    uploads.load(engine, upload_id, now=DAY + 23 * HOUR, touch=True)
    assert _viewed(engine, upload_id) == DAY
    uploads.load(engine, upload_id, now=DAY + 30 * HOUR)  # not a view: never a write
    assert _viewed(engine, upload_id) == DAY
    seen = uploads.load(engine, upload_id, now=DAY + 25 * HOUR, touch=True)
    assert _viewed(engine, upload_id) == DAY + 25 * HOUR == seen.viewed_at
    uploads.load(engine, upload_id, now=DAY + 40 * HOUR, touch=True)
    assert _viewed(engine, upload_id) == DAY + 25 * HOUR


def test_saving_purges_the_unviewed_and_the_files_nobody_links(engine):
    old = uploads.save(engine, _file("old"), now=DAY - dt.timedelta(days=100))
    new = uploads.save(engine, _file("new"), budgets=_budgets(10**6), now=DAY)
    assert _live(engine, old, new) == [False, True]
    assert _rows(engine) == (1, 1)
    with pytest.raises(ExpiredUploadError, match="after 90 days without a visit"):
        uploads.load(engine, old, days=90)


def test_expired_links_are_kept_within_a_bound(engine, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_EXPIRED", 3)
    budgets = _budgets(10 * KB + LINK)  # one file: each save expires the one before
    ids = [uploads.save(engine, _file(str(i)), budgets=budgets, now=DAY + i * HOUR)
           for i in range(8)]
    with Session(engine) as session:
        kept = session.scalars(select(Upload.id).order_by(Upload.id)).all()
    assert kept == ids[-4:]  # three expired links and the live one
    with pytest.raises(ExpiredUploadError):  # pruned, yet below the newest id: expired
        uploads.load(engine, ids[0])


def test_concurrent_saves_never_overshoot_the_total_budget(url):
    budgets = _budgets(2 * (10 * KB + LINK))
    engines = [engine_for(url) for _ in range(4)]
    barrier, errors = threading.Barrier(4), []

    def save(engine, tag):
        try:
            barrier.wait(timeout=10)
            for i in range(3):
                uploads.save(engine, _file(f"{tag}{i}"), budgets=budgets, now=DAY)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(engine, tag))
               for engine, tag in zip(engines, "wxyz")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert uploads.usage(engines[0]) <= budgets.total_bytes
        assert _rows(engines[0]) == (2, 2)
    finally:
        for engine in engines:
            engine.dispose()


def test_the_client_key_is_a_keyed_hash_not_the_address():
    key = uploads.client_key("203.0.113.7", "secret")
    assert len(key) == 32 and "203" not in key
    assert key == uploads.client_key("203.0.113.7", "secret")
    assert key != uploads.client_key("203.0.113.8", "secret")
    assert key != uploads.client_key("203.0.113.7", "another secret")
    # One IPv6 subscriber holds a /64: every address in it is one sender.
    assert uploads.client_key("2001:db8:1:2::1", "s") == uploads.client_key(
        "2001:db8:1:2:ffff::9", "s") != uploads.client_key("2001:db8:1:3::1", "s")
    assert uploads.client_key("::ffff:203.0.113.7", "secret") == key
    assert uploads.client_key(None, "secret") is None


def test_migration_0004_moves_existing_uploads_once_per_content(empty_url):
    upgrade(empty_url, "0003")
    engine = engine_for(empty_url)
    shared, other = b"Date,Close\n2013-01-02,10.5\n", b"Date,Close\n2013-01-03,11\n"
    sent = [(shared, "a.csv"), (shared, "b.csv"), (other, "c.csv"), (other, "d.csv"),
            (other, "a.csv")]
    rows = [(1, shared, "a.csv"), (2, shared, "b.csv"), (5, other, "a.csv")]
    try:
        with engine.begin() as connection:
            for number, (content, name) in enumerate(sent):
                connection.execute(text(
                    "INSERT INTO uploads (sha256, file_name, content, options, created_at, "
                    "viewed_at) VALUES (:sha, :name, :content, :options, :now, :now)"),
                    dict(sha=f"{number:064d}", name=name, content=content,
                         options='{"ticker": null}', now=DAY))
            connection.execute(text("DELETE FROM uploads WHERE id IN (3, 4)"))  # purged by 0003
        upgrade(empty_url)
        assert _rows(engine) == (3, 2)
        for upload_id, content, name in rows:
            stored = uploads.load(engine, upload_id, now=DAY)
            assert (stored.content, stored.file_name, stored.options) == (
                content, name, {"ticker": None})
        # Ids go on from the largest: an old link is never issued again.
        assert uploads.save(engine, b"Date,Close\n2013-01-04,12\n", now=DAY) > 5
        with pytest.raises(ExpiredUploadError):
            uploads.load(engine, 3)  # a gap below the largest id: removed before
    finally:
        engine.dispose()


def test_postgresql_reuses_the_pages_of_removed_files(postgres_url):
    # A deleted file's pages stay in PostgreSQL's tables until a VACUUM marks them free: without
    # it a flood grows the database by every file it pushes out, whatever the budget says.
    upgrade(postgres_url)
    engine = engine_for(postgres_url)
    budgets = _budgets(2_000 * KB)
    noise = random.Random(20)
    try:
        for i in range(12):  # 6 MB sent, of files that do not compress (as a gzip upload)
            uploads.save(engine, noise.randbytes(500 * KB), budgets=budgets,
                         now=DAY + i * HOUR)
        with engine.connect() as connection:
            taken = connection.execute(text(
                "SELECT pg_total_relation_size('upload_contents') + "
                "pg_total_relation_size('uploads')")).scalar()
        assert uploads.usage(engine) <= budgets.total_bytes
        # The budget, one file about to replace another, and the tables' own pages.
        assert taken < budgets.total_bytes + 500 * KB + 500 * KB, taken
    finally:
        engine.dispose()

"""Uploads kept once per content for their permanent link, and purged when nobody looks."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from stockPredictor.errors import DataError, ExpiredUploadError, UnknownUploadError
from stockPredictor.store import engine_for, uploads

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def test_the_same_upload_is_kept_once_and_survives_a_restart(url, engine):
    content = b"Date,Close\n2013-01-02,10.5\n"
    first = uploads.save(engine, content, "a.csv", {"ticker": None}, now=DAY)
    again = uploads.save(engine, content, "a.csv", {"ticker": None}, now=DAY)
    assert first == again
    restarted = engine_for(url)  # a new engine: what a restarted worker has
    try:
        stored = uploads.load(restarted, first, now=DAY)
        assert stored.content == content and stored.file_name == "a.csv"
        assert stored.options == {"ticker": None}
        # Another name, other options or other content: another upload with its own link.
        others = {uploads.save(restarted, content, "renamed.csv", {"ticker": None}, now=DAY),
                  uploads.save(restarted, content, "a.csv", {"ticker": "IBM"}, now=DAY),
                  uploads.save(restarted, content + b"2013-01-03,11\n", "a.csv", now=DAY)}
        assert len(others) == 3 and first not in others
    finally:
        restarted.dispose()


def test_two_workers_saving_the_same_upload_at_once_get_one_id(engine):
    content = b"Date,Close\n2013-01-02,10.5\n2013-01-03,10.75\n"
    barrier, ids, errors = threading.Barrier(4), [], []

    def save():
        try:
            barrier.wait(timeout=10)
            ids.append(uploads.save(engine, content, "same.csv", now=DAY))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(ids) == 4 and len(set(ids)) == 1


def test_an_unknown_id_is_a_clear_404_error(engine):
    with pytest.raises(UnknownUploadError, match="upload 999999 does not exist"):
        uploads.load(engine, 999999)


def test_too_large_an_upload_is_refused(engine):
    with pytest.raises(DataError, match="larger than 5 MB"):
        uploads.save(engine, b"x" * (uploads.MAX_UPLOAD_BYTES + 1))


def test_uploads_not_viewed_for_the_retention_period_are_purged(engine):
    old = uploads.save(engine, b"old file", now=DAY - dt.timedelta(days=100))
    seen = uploads.save(engine, b"seen file", now=DAY - dt.timedelta(days=100))
    uploads.load(engine, old, now=DAY - dt.timedelta(days=5))  # a download: no visit
    uploads.load(engine, seen, now=DAY - dt.timedelta(days=5), touch=True)  # a visit keeps it
    assert uploads.purge(engine, days=90, now=DAY) == 1
    with pytest.raises(ExpiredUploadError, match="after 90 days without a visit"):
        uploads.load(engine, old, days=90)
    assert uploads.load(engine, seen).content == b"seen file"

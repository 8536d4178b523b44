"""Uploads kept once per content for their permanent link, and purged when nobody looks."""

from __future__ import annotations

import datetime as dt

import pytest

from stockPredictor.errors import DataError, UnknownUploadError
from stockPredictor.store import engine_for, upgrade, uploads

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def url(empty_url):
    """A migrated database of each kind."""
    upgrade(empty_url)
    return empty_url


def test_the_same_content_is_kept_once_and_survives_a_restart(url):
    content = b"Date,Close\n2013-01-02,10.5\n"
    first = uploads.save(engine_for(url), content, "a.csv", {"horizon": 4}, now=DAY)
    again = uploads.save(engine_for(url), content, "renamed.csv", now=DAY)
    assert first == again
    restarted = engine_for(url)  # a new engine: what a restarted worker has
    stored = uploads.load(restarted, first, now=DAY)
    assert stored.content == content and stored.file_name == "a.csv"
    assert stored.options == {"horizon": 4}
    other = uploads.save(restarted, content + b"2013-01-03,11\n", "b.csv", now=DAY)
    assert other != first


def test_an_unknown_id_is_a_clear_404_error(url):
    with pytest.raises(UnknownUploadError, match="upload 999999 does not exist"):
        uploads.load(engine_for(url), 999999)


def test_too_large_an_upload_is_refused(url):
    with pytest.raises(DataError, match="larger than 5 MB"):
        uploads.save(engine_for(url), b"x" * (uploads.MAX_UPLOAD_BYTES + 1))


def test_uploads_not_viewed_for_the_retention_period_are_purged(url):
    engine = engine_for(url)
    old = uploads.save(engine, b"old file", now=DAY - dt.timedelta(days=100))
    seen = uploads.save(engine, b"seen file", now=DAY - dt.timedelta(days=100))
    uploads.load(engine, seen, now=DAY - dt.timedelta(days=5))  # a visit keeps it
    assert uploads.purge(engine, days=90, now=DAY) >= 1
    with pytest.raises(UnknownUploadError):
        uploads.load(engine, old)
    assert uploads.load(engine, seen).content == b"seen file"

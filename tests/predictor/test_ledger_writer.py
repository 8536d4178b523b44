"""The ledger writer through database outages, on SQLite and a real PostgreSQL: a failed batch is
kept and written when the database returns; an overflow is dropped, counted and logged once."""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stockPredictor.forecast import report
from stockPredictor.store import db, engine_for, upgrade
from stockPredictor.store.models import LedgerForecast
from stockPredictor.store.writer import LedgerWriter

OUTAGE_S = 3.0  # "a database outage of a few seconds"


def _reports(frame, artifact, start: int, count: int, horizon: int = 2) -> list[report.Report]:
    """``count`` forecasts with distinct ledger keys (one as_of each)."""
    return [report.build(frame, artifact, horizon, frame.index[i])
            for i in range(start, start + count)]


def _recorded(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(LedgerForecast))


def _until(condition, seconds: float = 30.0) -> bool:
    """Poll ``condition`` every 0.05 s until it holds or ``seconds`` pass (bounded both ways)."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05) + 1):
        if condition():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return condition()


@contextmanager
def outage(url: str):
    """The database refuses the writer for as long as the block runs, then takes writes again:
    SQLite's write lock held by another connection; PostgreSQL's server stopped and started."""
    if make_url(url).get_backend_name() == "sqlite":
        holder = sqlite3.connect(make_url(url).database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a long write by another process
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        from tests.postgres import stopped

        with stopped(url):
            yield


@pytest.fixture
def quick_engine(url, monkeypatch):
    """An engine whose SQLite writes give up on a held lock after 0.2 s (not 10 s)."""
    monkeypatch.setattr(db, "SQLITE_BUSY_MS", 200)
    engine = engine_for(url)
    yield engine
    engine.dispose()


def test_a_batch_is_kept_through_an_outage_and_written_when_the_database_returns(
        url, quick_engine, walk, tiny_artifact):
    writer = LedgerWriter(quick_engine, interval=0.1, retry_max=0.5)
    made = _reports(walk, tiny_artifact, 300, 5)
    try:
        with outage(url):
            assert all(writer.submit(one, "live") for one in made[:3])
            assert _until(lambda: writer.health()["status"] == "failing", 15)
            time.sleep(OUTAGE_S)  # several tries fail meanwhile
            # New forecasts queue behind the kept batch.
            assert all(writer.submit(one, "live") for one in made[3:])
            health = writer.health()
            assert health["queued"] == 5 and health["dropped"] == 0
            assert health["failing_since"] is not None
            assert health["reason"] in (db.LOCKED, db.NO_ANSWER + ": connection refused")
        assert _until(lambda: writer.health()["status"] == "ok", 30)
        # The kept batch goes first; the two queued behind it follow a tick later.
        assert _until(lambda: _recorded(quick_engine) == 5, 30), _recorded(quick_engine)
        health = writer.health()
        assert health["queued"] == 0 and health["dropped"] == 0 and health["last_write"]
        assert "reason" not in health and health["failing_since"] is None
    finally:
        writer.close()


def test_an_overflow_during_an_outage_is_dropped_counted_and_logged_once(
        url, quick_engine, walk, tiny_artifact, caplog):
    writer = LedgerWriter(quick_engine, interval=0.1, capacity=4, retry_max=0.5)
    made = _reports(walk, tiny_artifact, 300, 10)
    try:
        with caplog.at_level(logging.WARNING, logger="stockPredictor.store.writer"):
            with outage(url):
                assert all(writer.submit(one, "live") for one in made[:4])
                assert _until(lambda: writer.health()["status"] == "failing", 15)
                # The queue is full: the newest are dropped, the kept batch is not cut.
                assert [writer.submit(one, "live") for one in made[4:]] == [False] * 6
                # A repeat of a queued forecast takes no place and is not a drop.
                assert writer.submit(made[0], "live")
                assert writer.health()["queued"] == 4 and writer.dropped == 6
            assert _until(lambda: writer.health()["status"] == "ok", 30)
        assert _recorded(quick_engine) == 4
        assert writer.health()["dropped"] == 6
        full = [r for r in caplog.records if "ledger queue full" in r.getMessage()]
        assert len(full) == 1  # once per outage, not once per forecast
        recovered = [r.getMessage() for r in caplog.records if "succeed again" in r.getMessage()]
        assert len(recovered) == 1 and "6 forecasts were dropped" in recovered[0]
        # After the outage there is room again.
        assert writer.submit(made[4], "live") and writer.flush() == 1
    finally:
        writer.close()


def test_a_database_that_refuses_writes_is_failing_with_the_kind_alone(
        tmp_path, walk, tiny_artifact):
    url = f"sqlite:///{tmp_path / 'full.db'}"
    upgrade(url)
    engine = engine_for(url)
    # The disk is full: SQLite may not grow the file by a page ("database or disk is full").
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _full(connection, _record):
        connection.execute("PRAGMA max_page_count = 1")

    writer = LedgerWriter(engine, interval=60.0, retry_max=0.5)
    try:
        # More than the free room in the tables' pages: the file would have to grow.
        made = _reports(walk, tiny_artifact, 300, 40, horizon=5)
        assert all(writer.submit(one, "live") for one in made)
        assert writer.flush() == 0
        health = writer.health()
        assert health["status"] == "failing" and health["queued"] == 40
        assert health["reason"] == "the database refuses writes: disk full"
        assert str(tmp_path) not in str(health)
    finally:
        writer.close()
        engine.dispose()
    assert writer.dropped == 40  # what close() could not write is counted, not lost silently


def test_backoff_doubles_is_capped_and_jittered():
    from sqlalchemy.exc import OperationalError

    writer = LedgerWriter(None, retry_max=4.0)  # no write is tried: only the pauses are read
    pauses = []
    for _ in range(8):
        now = time.monotonic()
        writer._failed(OperationalError("INSERT", {}, Exception("database is locked")), 1)
        pauses.append(writer._retry_at - now)
    # 0.5, 1, 2, 4, 4, ... each drawn between half and all of it.
    for pause, full in zip(pauses, [0.5, 1, 2, 4, 4, 4, 4, 4]):
        assert full / 2 - 0.01 <= pause <= full + 0.01
    assert len({round(p, 6) for p in pauses[3:]}) > 1  # jittered: not all the same


def test_a_full_batch_wakes_the_writer_long_before_its_interval(engine, walk, tiny_artifact):
    writer = LedgerWriter(engine, batch=2, interval=60.0)
    try:
        assert all(writer.submit(one, "live") for one in _reports(walk, tiny_artifact, 300, 2))
        assert _until(lambda: _recorded(engine) == 2, 10)
        assert writer.health()["last_write"] is not None
    finally:
        writer.close()


def test_tables_missing_are_logged_kept_and_written_once_migrated(
        empty_url, walk, tiny_artifact, caplog):
    engine = engine_for(empty_url)  # never migrated: no ledger tables
    writer = LedgerWriter(engine, interval=60.0)
    try:
        with caplog.at_level(logging.WARNING, logger="stockPredictor.store.writer"):
            assert writer.submit(_reports(walk, tiny_artifact, 300, 1)[0], "live")
            assert writer.flush() == 0  # never raised
        assert "not recorded yet" in caplog.text
        assert writer.health()["reason"] == "the database is not migrated: a table is missing"
        upgrade(empty_url)
        assert writer.flush() == 1 and _recorded(engine) == 1
    finally:
        writer.close()
        engine.dispose()


def test_one_entry_the_database_refuses_costs_only_itself(
        engine, walk, tiny_artifact, monkeypatch, caplog):
    import dataclasses

    from stockPredictor.store import ledger

    writer = LedgerWriter(engine, interval=60.0)
    good, bad = _reports(walk, tiny_artifact, 300, 2), _reports(walk, tiny_artifact, 310, 1)[0]
    made = ledger.entry
    # An entry the database refuses on its own (a NOT NULL column left empty).
    monkeypatch.setattr(ledger, "entry", lambda one, kind=None: dataclasses.replace(
        made(one, kind), values={**made(one, kind).values, "model_sha256": None}))
    assert writer.submit(bad, "live")
    monkeypatch.setattr(ledger, "entry", made)
    try:
        assert all(writer.submit(one, "live") for one in good)
        with caplog.at_level(logging.WARNING, logger="stockPredictor.store.writer"):
            assert writer.flush() == 2
        assert "the forecast of WALK not recorded" in caplog.text
        health = writer.health()
        assert health["status"] == "ok" and health["dropped"] == 1 and health["queued"] == 0
    finally:
        writer.close()
    assert _recorded(engine) == 2

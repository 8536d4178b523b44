"""The ledger's writer: forecasts queued by requests, written in batches by a thread of each worker.

A request never waits on the database: it builds its live forecast's ledger entry (about 15 kB
in memory for a 30-step path with its bands) and queues it. Each worker's thread writes the
queue every ``interval`` seconds (sooner once ``batch`` are waiting) and at exit, as one insert
of the batch (``ledger.write``).

Nothing is lost silently. A batch the database does not take (down, locked, full, read-only)
stays queued and is tried again with capped, jittered backoff while new forecasts queue behind
it; once ``capacity`` entries wait, a new one is dropped and counted, and the outage
is logged once, not once per forecast. ``health()`` says whether writes succeed, since when they
fail and why (the kind alone), how many wait and how many were dropped since start.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from ..forecast.report import Report
from . import ledger
from .db import failure_kind, reason

log = logging.getLogger(__name__)

# A failed write is tried again after FIRST_RETRY_S, then twice as long each time up to
# ``retry_max`` seconds, each pause drawn between half and all of that (jitter): every worker
# of every dyno must not knock on a database coming back at the same instant.
FIRST_RETRY_S = 0.5
# close() waits this long for the thread's write in progress: a database that does not answer
# gives up after db.CONNECT_TIMEOUT_S (5 s), SQLite's lock after 10 s; gunicorn's graceful stop
# allows 30 s.
CLOSE_WAIT_S = 12.0


class LedgerWriter:
    """Queues ledger entries in memory and writes them in batches from a background thread.

    A request only builds the entry and queues it: a repeat of a queued key (ticker, model,
    day, source) changes nothing, as the ledger keeps the first; a new one takes a place, and
    when ``capacity`` places are taken the new one is dropped (the newest, so that what waits
    keeps its order and the batch being retried is never cut) and counted in ``dropped``.
    Database errors are logged, never raised: the ledger never slows or fails a forecast. The
    thread starts on the first submit, so a gunicorn worker forked after import gets its own.
    """

    def __init__(self, engine: Engine, batch: int = 50, interval: float = 2.0,
                 capacity: int = 1000, retry_max: float = 15.0) -> None:
        self.engine, self.batch, self.interval = engine, batch, interval
        self.capacity, self.retry_max = capacity, retry_max
        self.dropped = 0  # entries never recorded since start: queue full, refused, or exit
        self.failure: str | None = None  # the kind of the current write failure
        self.failing_since: dt.datetime | None = None
        self.last_write: dt.datetime | None = None
        self._queue: dict[tuple, ledger.Entry] = {}  # by ledger key, in the order queued
        self._mutex = threading.Lock()  # the queue and the counters
        self._lock = threading.Lock()  # one write at a time: the thread's, flush's or close's
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._attempts, self._retry_at, self._outage_dropped = 0, 0.0, 0

    @property
    def queued(self) -> int:
        """How many entries wait to be written."""
        return len(self._queue)

    def submit(self, report: Report, kind: str | None = None) -> bool:
        """Queue ``report``'s forecast for the ledger; False when it was dropped."""
        try:
            item = ledger.entry(report, kind)
        except Exception as error:  # a malformed forecast must not fail the request serving it
            log.warning("ledger entry for %s not built: %s", report.ticker, error)
            return False
        key, first = item.key, False
        with self._mutex:
            if key not in self._queue and len(self._queue) >= self.capacity:
                self.dropped += 1
                self._outage_dropped += 1
                first = self._outage_dropped == 1
            else:
                self._queue.setdefault(key, item)  # the first queued wins, as in the database
            kept, size = key in self._queue, len(self._queue)
        if not kept:
            if first:  # once per outage; the count goes on in health() and the recovery line
                log.warning("ledger queue full (%d entries): new forecasts are dropped and "
                            "counted until the database takes writes again (%s)",
                            self.capacity, self.failure or "writes are slow")
            return False
        self._start()
        if size >= self.batch and self.failing_since is None:
            self._wake.set()
        return True

    def flush(self) -> int:
        """Write every queued entry now, backoff or not (tests, shutdown); entries written."""
        with self._lock:  # the thread and a caller never write the same entries twice
            with self._mutex:
                batch = list(self._queue.items())
            if not batch:
                return 0
            try:
                written = self._write(batch)
            except SQLAlchemyError as error:  # down, locked, full, read-only: kept for later
                self._failed(error, len(batch))
                return 0
            self._succeeded()
            return written

    def _write(self, batch: list[tuple[tuple, ledger.Entry]]) -> int:
        try:
            ledger.write(self.engine, [item for _, item in batch])
        except (IntegrityError, DataError) as error:  # an entry the database refuses
            if len(batch) > 1:
                return sum(self._write([one]) for one in batch)  # the rest are kept
            self._refused(batch[0], error)
            return 0
        except SQLAlchemyError:
            raise
        except Exception as error:  # a bug in one entry must cost only that entry
            if len(batch) > 1:
                return sum(self._write([one]) for one in batch)
            self._refused(batch[0], error)
            return 0
        with self._mutex:
            for key, _ in batch:
                self._queue.pop(key, None)
        return len(batch)

    def _refused(self, one: tuple[tuple, ledger.Entry], error: Exception) -> None:
        key, item = one
        log.warning("ledger: the forecast of %s not recorded: %s", item.values["ticker"],
                    reason(error))
        with self._mutex:
            self._queue.pop(key, None)
            self.dropped += 1

    def _failed(self, error: SQLAlchemyError, waiting: int) -> None:
        kind = failure_kind(error)
        with self._mutex:
            first = self.failing_since is None
            if first:
                self.failing_since = _now()
            self.failure, self._attempts = kind, self._attempts + 1
            pause = min(self.retry_max, FIRST_RETRY_S * 2 ** min(self._attempts - 1, 30))
            self._retry_at = time.monotonic() + random.uniform(pause / 2, pause)
        if first:  # the detail goes to the log only; answers name the kind
            log.warning("ledger: %d forecasts not recorded yet (%s): kept, and tried again with "
                        "backoff; %s", waiting, kind, reason(error))
        else:
            log.debug("ledger: write failed again (%s): %s", kind, reason(error))

    def _succeeded(self) -> None:
        with self._mutex:
            since, dropped = self.failing_since, self._outage_dropped
            self.last_write, self.failing_since, self.failure = _now(), None, None
            self._attempts, self._outage_dropped = 0, 0
        if since is not None or dropped:
            seconds = 0.0 if since is None else (_now() - since).total_seconds()
            log.warning("ledger: writes succeed again after %.0f s; %d forecasts were dropped "
                        "meanwhile", seconds, dropped)

    def health(self) -> dict:
        """Whether ledger writes succeed: status "ok" or "failing" (and why: the kind alone),
        since when, the time of the last write, the forecasts queued and dropped since start."""
        with self._mutex:
            answer = {"status": "ok" if self.failing_since is None else "failing",
                      "queued": len(self._queue), "dropped": self.dropped,
                      "last_write": _iso(self.last_write),
                      "failing_since": _iso(self.failing_since)}
            if self.failure:
                answer["reason"] = self.failure
        return answer

    def close(self, wait: float = CLOSE_WAIT_S) -> int:
        """Stop the thread and write what is left, once, whatever the database's state;
        entries written. What could not be written is logged and counted as dropped."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait)
        written = self.flush()
        with self._mutex:
            left = len(self._queue)
            self._queue.clear()
            self.dropped += left
        if left:
            log.warning("ledger: %d forecasts not recorded at exit (%s)", left,
                        self.failure or "the write did not finish")
        return written

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._mutex:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="ledger-writer",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            failing = self.failing_since is not None
            self._wake.wait(max(0.0, self._retry_at - time.monotonic()) if failing
                            else self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self.failing_since is not None and time.monotonic() < self._retry_at:
                continue  # woken early while backing off: wait for the retry's time
            try:
                self.flush()
            except Exception:  # never let the thread die: the queue would only grow
                log.exception("ledger: the writer's thread failed; it goes on")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")

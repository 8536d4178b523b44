"""The ledger's writer: forecasts queued by requests, written in batches by a thread of each worker.

A request never waits on the database: it builds its forecast report's ledger entry (a few
hundred bytes, where the report with its track record is tens of kB) and queues it. Each worker's
thread writes the queue every ``interval`` seconds (sooner once ``batch`` are waiting) and at exit,
as one upsert of the batch (``ledger.write``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from ..forecast.report import Report
from . import ledger

log = logging.getLogger(__name__)

RETRIES, RETRY_PAUSE = 1, 0.5  # a failed batch is tried once more, half a second later


class LedgerWriter:
    """Queues ledger entries in memory and writes them in batches from a background thread.

    A request only builds the entry and puts it on a bounded queue; a full queue drops the entry
    with a warning, and a database error is logged: the ledger never slows or fails a forecast.
    The thread starts on the first submit, so a gunicorn worker forked after import gets its own.
    """

    def __init__(self, engine: Engine, batch: int = 50, interval: float = 2.0,
                 capacity: int = 1000) -> None:
        self.engine, self.batch, self.interval = engine, batch, interval
        self.dropped = 0
        self._queue: queue.Queue[ledger.Entry] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, report: Report, kind: str | None = None) -> bool:
        """Queue ``report``'s forecast for the ledger; False when it was dropped."""
        try:
            item = ledger.entry(report, kind)
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            log.warning("ledger queue full (%d entries): forecast of %s not recorded",
                        self._queue.maxsize, report.ticker)
            return False
        except Exception as error:  # a malformed forecast must not fail the request serving it
            log.warning("ledger entry for %s not built: %s", report.ticker, error)
            return False
        self._start()
        if self._queue.qsize() >= self.batch:
            self._wake.set()
        return True

    def flush(self) -> int:
        """Write every queued entry now (tests, shutdown); how many were written."""
        with self._lock:  # the thread and a caller never write the same entries twice
            items = []
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            return self._write(items) if items else 0

    def _write(self, items: list[ledger.Entry]) -> int:
        # Errors are logged, never raised: serving never depends on the ledger.
        for attempt in range(RETRIES + 1):
            try:
                ledger.write(self.engine, items)  # repeats of a forecast: one row, served += n
                return len(items)
            except OperationalError as error:  # down, or locked: it may pass in a moment
                if attempt == RETRIES:
                    log.warning("ledger: %d forecasts not recorded: %s", len(items),
                                _first_line(error))
                    return 0
                time.sleep(RETRY_PAUSE)
            except Exception as error:  # one entry the database refuses: the rest are kept
                if len(items) == 1:
                    log.warning("ledger: the forecast of %s not recorded: %s",
                                items[0].values["ticker"], _first_line(error))
                    return 0
                return sum(self._write([item]) for item in items)
        return 0

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="ledger-writer",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]

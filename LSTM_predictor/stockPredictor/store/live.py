"""Live records as pages read them: each ticker and model's read from the ledger at most once per
``ttl`` seconds per worker.

A record reads every scored row of a ticker's live forecasts, and changes only as closes arrive
(at most once per PRICE_TTL per ticker), while a forecast page shows it on every view.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..errors import DatabaseUnavailableError
from ..lru import BoundedCache
from . import ledger

RECORD_TTL, RECORDS_KEPT = 60.0, 256  # seconds a live record is reused; records kept per worker


class LiveRecords:
    """The live records of one database, kept per worker for ``ttl`` seconds each."""

    def __init__(self, ttl: float = RECORD_TTL, size: int = RECORDS_KEPT,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._kept = BoundedCache(size)

    def every(self, engine: Engine) -> list[dict]:
        """The record of every ticker and model with live forecasts; DatabaseUnavailableError
        when the database does not answer."""
        with Session(engine) as session:
            return [self._read(session, ticker, model)
                    for ticker, model in ledger.recorded_models(session)]

    def get(self, engine: Engine | None, ticker: str, model: str) -> dict | None:
        """The live record of ``ticker`` by ``model`` when any of its forecasts is scored.

        None otherwise, and while the database is down: a forecast page is served either way.
        """
        if engine is None:
            return None
        try:
            with Session(engine) as session:
                record = self._read(session, ticker, model)
        except DatabaseUnavailableError:
            return None
        return record if record["scored"] else None

    def _read(self, session: Session, ticker: str, model: str) -> dict:
        found = self._kept.get((ticker, model))
        if found is not None and self.clock() - found[0] < self.ttl:
            return found[1]
        record = ledger.live_record(session, ticker, model)
        if record["scored"]:  # an empty one is not kept, so the first scores show at once
            self._kept.put((ticker, model), (self.clock(), record))
        return record

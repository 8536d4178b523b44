"""What bounds the price store: the tickers it keeps, and the fetch state of tickers it has not.

A stored ticker's whole daily history stays in ``prices`` (up to ~15,000 rows for one listed in
the 1960s), so a crawl over thousands of real tickers could fill a small database. The store keeps
at most ``bound`` tickers per source; past it, the least recently *read* go first, rows and fetch
state together, and come back whole from Yahoo if anyone reads them again. A read is recorded at
most once a day per ticker (``read_on``), so reading costs no write. The ledger keeps its own
scored outcomes, so dropping a ticker's prices loses no score already made; a forecast still
waiting for its closes is scored when the ticker is read, and fetched, again.

A ``fetch_state`` row with no stored prices (a claim whose fetch failed) lives only while its
back-off does; ``sweep`` removes the rest, so random tickers leave no rows behind.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from .models import FetchState, Price

# fetch_state's row for the source itself (no ticker matches "*"): its retry_after and failure
# back off every worker from the whole source at once, as a hanging Yahoo is no one ticker's.
SOURCE_ROW = "*"


def mark_read(connection: Connection, ticker: str, source: str, today: dt.date) -> None:
    """Record that ``ticker`` was read ``today`` (callers skip this when already recorded)."""
    connection.execute(update(FetchState).where(
        FetchState.ticker == ticker, FetchState.source == source,
        or_(FetchState.read_on.is_(None), FetchState.read_on < today)).values(read_on=today))


def evict(connection: Connection, source: str, bound: int, keep: str) -> list[str]:
    """Drop the least recently read tickers of ``source`` past ``bound``, never ``keep``;
    returns the tickers dropped."""
    stored = and_(FetchState.source == source, FetchState.last_day.is_not(None),
                  FetchState.ticker != SOURCE_ROW)
    count = connection.execute(select(func.count()).select_from(FetchState).where(stored))
    excess = count.scalar_one() - bound
    if excess <= 0:
        return []
    # Never read first (NULL), then the oldest read; of equals, the one checked longest ago.
    oldest = (select(FetchState.ticker).where(stored, FetchState.ticker != keep)
              .order_by(FetchState.read_on.is_not(None), FetchState.read_on,
                        FetchState.checked_at).limit(excess))
    dropped = list(connection.execute(oldest).scalars())
    if dropped:
        connection.execute(delete(Price).where(Price.source == source,
                                               Price.ticker.in_(dropped)))
        connection.execute(delete(FetchState).where(FetchState.source == source,
                                                    FetchState.ticker.in_(dropped)))
    return dropped


def sweep(connection: Connection, source: str, now: dt.datetime, lease: dt.timedelta) -> int:
    """Delete fetch state that holds no prices and no live back-off or claim; returns how many."""
    idle = and_(FetchState.source == source, FetchState.ticker != SOURCE_ROW,
                FetchState.last_day.is_(None),
                or_(FetchState.checked_at.is_(None), FetchState.checked_at <= now - lease),
                or_(FetchState.retry_after.is_(None), FetchState.retry_after <= now))
    return connection.execute(delete(FetchState).where(idle)).rowcount or 0

"""Many tickers' prices at once: stored frames for a page, one batched Yahoo download to refresh
(issue 22, C).

``stored_frames`` never asks Yahoo: it reads what the shared price store holds, in one query for
the fetch state and, for the tickers whose rows changed since this process last read them, one
for the rows; the frames stay in the store's byte-bounded ``frames`` LRU, keyed on each
ticker's (checked_at, last_day), which every save moves. A poll of an unchanged list reads no
price rows, and writes nothing but ``read_on``, at most once a day per ticker.

``refresh_many`` fetches the due tickers with one ``yf.download`` per attempt and saves each
through the price store itself (a ``PriceStore`` whose fetch answers from the download), so
its rules all still hold: one claim per ticker across workers, the continuity check that
refetches a re-adjusted history whole, the ticker and source back-off, the ledger's scoring and
the ticker bound.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import time
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from sqlalchemy import String, select, type_coerce

from ..data.frame import finish
from ..data.sample import SAMPLE_TICKERS
from ..data.sources import PriceCache, sample_only
from ..data.tickers import check_ticker
from ..data.yahoo import YahooBusyError
from ..data.yahoo_batch import RATE_LIMITED, download_many, failure_error
from ..errors import SourceUnavailableError, StockPredictorError, UnknownTickerError
from .models import FetchState, Price
from .price_bounds import SOURCE_ROW
from .price_refresh import OVERLAP, VALUES
from .prices import UNKNOWN, PriceStore, aware, seconds

__all__ = ["NotStoredError", "due", "refresh_many", "stored_frames"]

# Back-off on a rate limit: the limited tickers only are asked again after
# min(CAP_S, BASE_S * 2**attempt) * uniform(0.5, 1.5) seconds, ATTEMPTS downloads in all.
BASE_S, CAP_S, ATTEMPTS = 2.0, 60.0, 4
# Tickers one YAHOO_DEADLINE covers: yfinance asks for them in parallel threads.
PER_DEADLINE = 10


class NotStoredError(SourceUnavailableError):
    """No prices of this ticker are stored yet: the refresh job fetches them."""


class Held:
    """A stored ticker's finished frame as the store's ``frames`` LRU keeps it, with the
    (checked_at, last_day) it was read under and its bytes (what the LRU weighs)."""

    def __init__(self, frame: pd.DataFrame, stamp: tuple):
        self.frame, self.stamp = frame, stamp
        self.nbytes = int(frame.memory_usage(index=True).sum())


def stamp(state) -> tuple:
    """What changes in a ticker's fetch state whenever its stored rows change."""
    return (aware(state.checked_at), state.last_day)


def due(frames: dict[str, pd.DataFrame | Exception]) -> list[str]:
    """The tickers of ``stored_frames``' answer that a refresh would fetch: not stored yet,
    stale, or checked longer ago than the store's recheck."""
    return [ticker for ticker, frame in frames.items()
            if isinstance(frame, NotStoredError) or (isinstance(frame, pd.DataFrame) and (
                frame.attrs.get("stale") or frame.attrs.get("refresh_due")))]


def stored_frames(cache: PriceCache, tickers: Iterable[str]
                  ) -> dict[str, pd.DataFrame | Exception]:
    """Each ticker's stored prices (never Yahoo), or the error saying why there are none.

    A frame carries the store's attrs (source, ticker, fetched_at, stale, name), and
    ``refresh_due`` when the store last checked it longer ago than its recheck. Frames share
    their data with this process's LRU: read them, never write into them.
    """
    answer: dict[str, pd.DataFrame | Exception] = {}
    wanted = []
    for ticker in tickers:
        try:
            wanted.append(check_ticker(ticker))
        except StockPredictorError as exc:
            answer[str(ticker)] = exc
    wanted = list(dict.fromkeys(wanted))
    if cache.source == "sample":
        for ticker in wanted:
            try:
                answer[ticker] = sample_only(ticker)
            except StockPredictorError as exc:
                answer[ticker] = exc
        return answer
    store = cache.store
    if store is None:
        for ticker in wanted:
            answer[ticker] = SourceUnavailableError(
                f"prices of {ticker!r} for a list are read from the price store, which needs "
                f"the database")
        return answer
    now = store.clock()
    states, down = _states(store, wanted)
    held = _held(store, [t for t in wanted if t in states and states[t].last_day is not None],
                 states)
    for ticker in wanted:
        answer[ticker] = _frame_or_error(cache, store, ticker, states.get(ticker), down,
                                         held.get(ticker), now)
    today = now.astimezone(dt.timezone.utc).date()
    store.mark_read([t for t in held if t in answer and isinstance(answer[t], pd.DataFrame)
                     and (states[t].read_on is None or states[t].read_on < today)], today)
    return answer


def _held(store: PriceStore, tickers: list[str], states: dict) -> dict[str, pd.DataFrame]:
    """Each stored ticker's finished frame: from the LRU when its stamp still holds, else read
    (all the misses in one query) and kept."""
    found, missing = {}, []
    for ticker in tickers:
        entry = store.frames.get(ticker)
        if entry is not None and entry.stamp == stamp(states[ticker]):
            found[ticker] = entry.frame
        else:
            missing.append(ticker)
    for ticker, rows in _rows(store, missing).items():
        frame = finish(rows, ticker, store.source)
        store.frames.put(ticker, Held(frame, stamp(states[ticker])))
        found[ticker] = frame
    return found


def _states(store: PriceStore, tickers: list[str]) -> tuple[dict, object | None]:
    with store.engine.connect() as connection:
        found = connection.execute(select(FetchState).where(
            FetchState.ticker.in_([*tickers, SOURCE_ROW]),
            FetchState.source == store.source)).all()
    states = {row.ticker: row for row in found}
    return states, states.pop(SOURCE_ROW, None)


def _rows(store: PriceStore, tickers: list[str]) -> dict[str, pd.DataFrame]:
    if not tickers:
        return {}
    # The day as the driver hands it (SQLite's ISO text, PostgreSQL's date), parsed by numpy at
    # once rather than by SQLAlchemy row by row.
    query = (select(Price.ticker, type_coerce(Price.day, String),
                    *(getattr(Price, c) for c in VALUES))
             .where(Price.ticker.in_(tickers), Price.source == store.source)
             .order_by(Price.ticker, Price.day))
    with store.engine.connect() as connection:
        records = connection.execute(query).tuples().all()  # plain tuples: no Row objects
    if not records:
        return {}
    names, days, *values = zip(*records)
    names = np.asarray(names, dtype=object)
    index = pd.DatetimeIndex(np.asarray(days, dtype="datetime64[D]"), name="date")
    table = pd.DataFrame(dict(zip(VALUES, (np.asarray(v, dtype=np.float64) for v in values))),
                         index=index)
    cuts = [0, *(np.flatnonzero(names[1:] != names[:-1]) + 1), len(names)]  # sorted by ticker
    return {str(names[a]): table.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:])}


def _frame_or_error(cache: PriceCache, store: PriceStore, ticker: str, state, down,
                    held: pd.DataFrame | None, now: dt.datetime) -> pd.DataFrame | Exception:
    unknown = store.unknown.get(ticker)
    if unknown is not None and now < unknown[0]:
        return UnknownTickerError(unknown[1])
    if held is None or held.empty:
        failure = state.failure if state is not None else None
        if failure and failure.startswith(UNKNOWN):
            return UnknownTickerError(failure[len(UNKNOWN):])
        yahoo_down = failure or _backed_off(down, now)
        if yahoo_down and cache.source == "auto" and ticker in SAMPLE_TICKERS:
            return sample_only(ticker)  # what PriceCache.load serves while Yahoo fails
        if yahoo_down:
            return SourceUnavailableError(f"{yahoo_down}; no prices of {ticker!r} are stored")
        return NotStoredError(f"prices of {ticker!r} are not stored yet; they are being fetched")
    frame = held.copy(deep=False)  # this call's attrs on the kept data
    frame.attrs = dict(held.attrs)
    checked = aware(state.checked_at)
    if checked is not None:  # when Yahoo last answered, as the store's own frames say
        frame.attrs["fetched_at"] = checked.isoformat(timespec="seconds")
    if state.name:
        frame.attrs["name"] = state.name
    frame.attrs["refresh_due"] = checked is None or now - checked >= store.recheck
    # Stale as the store's load would serve it: the ticker backed off, or due while Yahoo is.
    failure = _backed_off(state, now) or (_backed_off(down, now) if frame.attrs["refresh_due"]
                                          else None)
    frame.attrs["stale"] = failure is not None
    if failure is not None:
        age = (f"{(now - checked) // dt.timedelta(minutes=1)} minutes" if checked
               else "unknown")
        frame.attrs["notice"] = (f"{failure}; showing stored prices to "
                                 f"{frame.index[-1].date()}, last updated {age} ago")
    return frame


def _backed_off(state, now: dt.datetime) -> str | None:
    """The failure that keeps Yahoo off this ``state``'s ticker (or source) now, else None."""
    retry = aware(state.retry_after) if state is not None else None
    if retry is None or retry <= now:
        return None
    return state.failure or "Yahoo Finance failed"


def refresh_many(cache: PriceCache, tickers: Iterable[str], *,
                 sleep: Callable[[float], None] | None = None,
                 rng: random.Random | None = None) -> dict[str, str | None]:
    """Refresh stale tickers with one yf.download per attempt, backing off with jitter on a rate
    limit; each ticker -> None when stored fresh, else the reason."""
    sleep = time.sleep if sleep is None else sleep
    rng = rng or random.Random()
    wanted = list(dict.fromkeys(check_ticker(t) for t in tickers))
    store = cache.store
    if cache.source == "sample" or store is None:
        why = ("live prices are off: the price source is the bundled sample"
               if cache.source == "sample" else "the price store needs the database")
        return {ticker: why for ticker in wanted}
    now = store.clock()
    states, down = _states(store, wanted)
    answer: dict[str, str | None] = {}
    groups: dict[str | None, list[str]] = {}  # None: nothing stored, fetched whole
    for ticker in wanted:
        state = states.get(ticker)
        retry = aware(state.retry_after) if state is not None else None
        if retry is not None and retry > now:
            answer[ticker] = f"{state.failure}; Yahoo will be asked again in " \
                             f"{seconds(retry - now)} s"
        elif state is not None and state.checked_at is not None and \
                now - aware(state.checked_at) < store.recheck:
            answer[ticker] = None  # checked lately, by this worker or another
        elif down is not None and down.retry_after and aware(down.retry_after) > now:
            answer[ticker] = f"{down.failure}; Yahoo will be asked again in " \
                             f"{seconds(aware(down.retry_after) - now)} s"
        else:
            last = state.last_day if state is not None else None
            groups.setdefault(None if last is None else "stored", []).append(ticker)
    for key, group in groups.items():
        start = None if key is None else min(states[t].last_day for t in group) - OVERLAP
        answer.update(_refresh_group(cache, store, group, start, sleep, rng))
    return {ticker: answer[ticker] for ticker in wanted}


def backoff_s(attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (0 for the first): jittered, capped."""
    return min(CAP_S, BASE_S * 2 ** attempt) * rng.uniform(0.5, 1.5)


def _refresh_group(cache: PriceCache, store: PriceStore, tickers: list[str],
                   start: dt.date | None, sleep: Callable[[float], None],
                   rng: random.Random) -> dict[str, str | None]:
    """Download ``tickers`` from ``start``, the rate-limited ones again, then save each."""
    deadline = float(cache.deadline or store.wait) * max(1.0, len(tickers) / PER_DEADLINE)
    frames: dict[str, pd.DataFrame] = {}
    failures: dict[str, str] = {}
    pending = tickers
    for attempt in range(ATTEMPTS):
        try:
            got, failed = download_many(pending, start, deadline=deadline)
        except YahooBusyError as exc:  # nothing was asked of Yahoo: no back-off is due
            return {**{t: None for t in frames}, **{t: str(exc) for t in tickers
                                                    if t not in frames}}
        frames.update(got)
        failures.update(failed)
        pending = [t for t in pending if failed.get(t) == RATE_LIMITED]
        if not pending or attempt == ATTEMPTS - 1:
            break
        sleep(backoff_s(attempt, rng))
    for ticker in frames:
        failures.pop(ticker, None)
    return _save_all(store, frames, failures, start)


def _save_all(store: PriceStore, frames: dict[str, pd.DataFrame], failures: dict[str, str],
              start: dt.date | None) -> dict[str, str | None]:
    """Each ticker through ``store.load`` with a fetch that answers from the download."""
    def fetch(ticker: str, start: dt.date | None = None, end=None) -> pd.DataFrame:
        if ticker in failures:
            raise failure_error(ticker, failures[ticker])
        if start is None and group_start is not None:
            # The store refetches a ticker whole when its history was re-adjusted (a split or
            # dividend): the download holds the recent days only, so Yahoo is asked for it.
            return store.fetch(ticker, start=None)
        frame = frames[ticker]
        return frame if start is None else frame[frame.index >= pd.Timestamp(start)]

    group_start = start
    batch = copy.copy(store)
    batch.fetch = fetch
    answer: dict[str, str | None] = {}
    # Successes first: a failure sets the source's back-off, after which the store would serve
    # the others stale without saving what was downloaded for them.
    for ticker in [*frames, *failures]:
        try:
            frame = batch.load(ticker)
        except StockPredictorError as exc:
            answer[ticker] = str(exc)
            continue
        answer[ticker] = frame.attrs.get("notice") if frame.attrs.get("stale") else None
    return answer

"""The watchlist jobs a worker runs: a list's cold tickers' summaries, a list's price refresh
(issue 22, C). Registered in queue.HANDLERS as "watch_cold" and "watch_refresh" by
``jobs.worker.install``.

Cold: the list's stored prices (never Yahoo) -> each ticker's model from the worker's registry,
trained models included -> ``forecast.watch.summarise`` for every key missing in
``watch_summaries``, with a table cache of the job's own -> each summary stored as soon as it is
computed, so the page fills its rows in one by one. Refresh: the list's due tickers through one
batched Yahoo download per attempt (``store.price_batch``), then the cold job for what changed.
Progress of either goes to the queue's store under ``"watch:" + token``. Neither ever raises: a
ticker whose summary fails gets its reason stored in its place (``watch_summaries.put_failure``),
so its row is an error row and no job is queued again for it. Each job gives back the list's
claim (``watchlists.finish``) when it ends having done its work, so the page may queue the next;
one that found nothing to do, or failed, keeps it until its stale guard, so a page polling rows
that no job can fill does not queue one every poll.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from ..errors import DataError, StockPredictorError
from ..forecast import watch
from ..lru import ByteBoundedLRU
from ..store import price_batch, watch_summaries, watchlists

log = logging.getLogger(__name__)

__all__ = ["PROGRESS", "install", "run_cold", "run_refresh"]

PROGRESS = "watch:"  # + the list's token: the key of its progress in the queue's store
# What a failed ticker's row says (never the exception's text, which may hold paths).
TOO_SHORT = ("its stored prices are too few or not valid for its model's forecast; it is tried "
             "again when they change")
NOT_COMPUTED = ("its forecast could not be computed; it is tried again when its prices or its "
                "model change")
_context: Any = None  # the worker's jobs.worker.Context (not imported: worker imports this)


def install(context: Any) -> None:
    """Make ``run_cold`` and ``run_refresh`` run with the worker's ``context``."""
    global _context
    _context = context


def _current(context: Any) -> Any:
    context = context or _context
    if context is None:
        raise RuntimeError("watchlist jobs need a worker Context: call jobs.worker.install first")
    return context


def _tickers(context: Any, token: str) -> tuple[str, ...] | None:
    try:
        return watchlists.get(context.engine, token).tickers
    except watchlists.WatchlistNotFound:
        log.info("watchlist %s is gone; nothing to do", token[:6])
    except StockPredictorError as exc:  # the database blinked: the page asks again later
        log.warning("watchlist %s not read: %s", token[:6], exc)
    return None


def run_cold(token: str, context: Any = None) -> int:
    """Compute and store the summaries of every cold ticker of list ``token``; how many."""
    context = _current(context)
    tickers = _tickers(context, token)
    if not tickers:
        return 0
    try:
        return _cold(context, token, tickers)
    except Exception:  # never the worker: the claim stays, the page asks again past its guard
        log.exception("watchlist %s: cold job failed", token[:6])
        return 0
    finally:
        context.queue.clear_progress(PROGRESS + token)


def _cold(context: Any, token: str, tickers: tuple[str, ...]) -> int:
    frames = price_batch.stored_frames(context.prices, tickers)
    if context.refresh is not None:
        context.refresh()  # the trained models that serve these tickers now
    models = {}
    for ticker, frame in frames.items():
        if isinstance(frame, pd.DataFrame):
            try:
                models[ticker] = context.registry.model_for(ticker)
            except StockPredictorError as exc:
                log.info("watchlist %s: no model for %s: %s", token[:6], ticker, exc)
    keys = watch.keys(frames, models)
    stored = watch_summaries.get_many(context.engine, keys.values())
    cold = [ticker for ticker, key in keys.items() if key not in stored]
    progress = {"phase": "cold", "done": 0, "total": len(cold)}
    context.queue.put_progress(PROGRESS + token, progress)
    tables = ByteBoundedLRU(context.settings.table_cache_bytes)  # this job's alone
    done = 0
    for ticker in cold:
        if context.stopping.is_set():  # the page queues what is left again
            log.info("watchlist %s: worker stopping after %d of %d", token[:6], done, len(cold))
            break
        try:
            summary = watch.summarise(frames[ticker], models[ticker], tables, ticker=ticker)
            watch_summaries.put(context.engine, summary,
                                context.settings.watchlist_summaries_max)
            done += 1
        except DataError as exc:  # too short, say: the row says so in a sentence of ours
            log.info("watchlist %s: %s not summarised: %s", token[:6], ticker, exc)
            _failed(context, keys[ticker], TOO_SHORT)
        except Exception:
            log.exception("watchlist %s: %s not summarised", token[:6], ticker)
            _failed(context, keys[ticker], NOT_COMPUTED)
        progress["done"] += 1
        context.queue.put_progress(PROGRESS + token, progress)
    log.info("watchlist %s: %d summaries stored for %d cold tickers", token[:6], done, len(cold))
    if cold:  # its work done (or the worker stopping): the page may queue the next
        _finish(context, token, "cold")
    return done


def _failed(context: Any, key: watch.SummaryKey, reason: str) -> None:
    try:
        watch_summaries.put_failure(context.engine, key, reason,
                                    context.settings.watchlist_summaries_max)
    except StockPredictorError as exc:  # the database blinked: tried again by the next job
        log.warning("failure of %s not stored: %s", key[1], exc)


def _finish(context: Any, token: str, column: str) -> None:
    try:
        watchlists.finish(context.engine, token, column)
    except StockPredictorError as exc:  # the claim's stale guard gives it back instead
        log.warning("watchlist %s: %s claim not given back: %s", token[:6], column, exc)


def run_refresh(token: str, context: Any = None) -> dict[str, str | None]:
    """Refresh the stale tickers of list ``token`` through the shared price store, then
    summarise what changed; each refreshed ticker -> None, or why it was not."""
    context = _current(context)
    tickers = _tickers(context, token)
    if not tickers:
        return {}
    try:
        frames = price_batch.stored_frames(context.prices, tickers)
        stale = price_batch.due(frames)
        if not stale:
            return {}
        context.queue.put_progress(PROGRESS + token,
                                   {"phase": "refresh", "done": 0, "total": len(stale)})
        result = price_batch.refresh_many(context.prices, stale)
        fresh = sum(reason is None for reason in result.values())
        log.info("watchlist %s: %d of %d due tickers refreshed", token[:6], fresh, len(stale))
    except Exception:  # the database or Yahoo: the next view of the page asks again
        log.exception("watchlist %s: refresh failed", token[:6])
        context.queue.clear_progress(PROGRESS + token)
        return {}
    if fresh:  # work done: the page may queue the next refresh (none fresh: the guard waits)
        _finish(context, token, "refresh")
        run_cold(token, context)  # new prices, new keys: their summaries, before a page asks
    else:
        context.queue.clear_progress(PROGRESS + token)
    return result

"""Racing writers: several engines on one database, each acting at the same instant."""

from __future__ import annotations

import threading
from typing import Callable

from sqlalchemy.engine import Engine
from stockPredictor.store import engine_for


def race(url: str, count: int, act: Callable[[Engine, int], None]) -> None:
    """Run ``act(engine, index)`` in ``count`` threads released together, each through its own
    engine on ``url`` (as separate gunicorn workers have); joined within 60 s, engines disposed.
    """
    engines = [engine_for(url) for _ in range(count)]
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        act(engines[index], index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for each in engines:
            each.dispose()

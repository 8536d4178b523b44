"""Least-recently-used caches, bounded by entry count or by the bytes their values hold."""

from __future__ import annotations

import threading
from collections import OrderedDict


class BoundedCache:
    """A thread-safe mapping that keeps the ``size`` most recently used entries."""

    def __init__(self, size: int):
        self.size = size
        self.used = 0  # in the unit ``_weigh`` returns: entries here, bytes below
        self.hits = self.misses = 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def _weigh(self, value) -> int:
        return 1

    def get(self, key, default=None):
        """The value under ``key`` (now the most recently used), else ``default``."""
        with self._lock:
            if key not in self._entries:
                self.misses += 1
                return default
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key, value) -> None:
        """Store ``value``, dropping least recently used entries until the total fits."""
        with self._lock:
            if key in self._entries:
                self.used -= self._weigh(self._entries.pop(key))
            self._entries[key] = value
            self.used += self._weigh(value)
            while self.used > self.size and len(self._entries) > 1:
                self.used -= self._weigh(self._entries.popitem(last=False)[1])

    def clear(self) -> None:
        """Drop every entry (the counts of hits and misses stay)."""
        with self._lock:
            self._entries.clear()
            self.used = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict:
        """Entries, the total held against the bound, and hits and misses so far."""
        return {"entries": len(self._entries), "used": self.used, "bound": self.size,
                "hits": self.hits, "misses": self.misses}


class ByteBoundedLRU(BoundedCache):
    """An LRU cache bounded by the bytes its values hold (their ``nbytes``), not their count."""

    def __init__(self, max_bytes: int):
        super().__init__(max_bytes)

    def _weigh(self, value) -> int:
        return int(value.nbytes)

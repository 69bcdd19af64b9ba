"""What a worker process has looked up in one Tryton database (configuration, journal, currencies,
taxes, products, parties...), shared by all its connectors to that database for a while.

Every push used to look these up again: about a dozen calls per batch, most of a small batch's
time in Tryton. Kept here, an entry is trusted for `TTL_SECONDS`; it is forgotten sooner when
- the connector logs in again (an expired session, or a restarted or restored server: the ids may
  belong to another database now), or
- Tryton refuses a create that used an entry looked up by an earlier push (a party merged away, a
  product or tax deleted): the connector forgets everything and tries once more with fresh ids.
Only what was found is kept: a customer or SKU that Tryton does not have is asked again each time,
so that nothing is created twice because of a stale "not there".
"""

from __future__ import annotations

import threading
import time
from typing import Any

TTL_SECONDS = 300.0


class LookupCache:
    """Entries by key, each with the monotonic time it was looked up."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, Any], tuple[float, Any]] = {}
        self._lock = threading.Lock()  # connectors of several worker threads share it

    def get(self, key: tuple[str, Any]) -> tuple[float, Any] | None:
        """(looked up at, value), or None when absent or older than the TTL."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] > self.ttl:
                del self._entries[key]
                return None
            return hit

    def put(self, key: tuple[str, Any], value: Any) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), value)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: dict[str, LookupCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(database_key: str) -> LookupCache:
    """The cache of one Tryton database as one user sees it (server URL, database, user)."""
    with _CACHES_LOCK:
        return _CACHES.setdefault(database_key, LookupCache())


def forget_all() -> None:
    """Forget every database's look-ups (a benchmark starting cold, tests)."""
    with _CACHES_LOCK:
        for cache in _CACHES.values():
            cache.forget()

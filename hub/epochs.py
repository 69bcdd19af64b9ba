"""Epochs: a value in Redis that every commit touching certain tables replaces, so that each worker
process can keep an answer built from those tables for as long as the epoch it was built under is
still the current one (the board and list answers in hub/api/answers.py, the API tokens in
hub/auth.py).

Every change to a watched table goes through the ORM (the few writes made with Core statements, a
product import's and a push's records, touch none; a token's `last_used_at`, stamped with Core by
hub/auth.py, is kept by its cache itself), so a session that flushed an instance of a watched
class sets a new epoch after its commit, before the writing request answers: whoever made the
change sees it on their next request. What the database changes by itself comes with a watched
row's change too: a deleted user's deals (ON DELETE SET NULL) with the User, a deleted stage's
totals with the Stage, stage_totals (kept by triggers) with the deals. One listener rather than a
call at each write, for the reason hub/audit.py gives for its own.

Without REDIS_URL (the embedded queue) there is no epoch and nothing may be cached: each process
would have an epoch of its own, and a change made through one would never reach the others. If
Redis cannot be reached there is no epoch either, so a cache is only as old as its own `max_age`
allows when a new epoch was lost to an outage during a commit.

A request reads every epoch at once, on its first look (one MGET: a kept page used to wait for two
round trips, its token's epoch and its own, about a quarter of its time), and reads them again
after a commit of its own has renewed any.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, Generic, TypeVar

from flask import Flask, current_app, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.sync import queue

log = logging.getLogger(__name__)

T = TypeVar("T")
_CHANGED = "hub.epochs.changed"
# In the request's WSGI environ (never shared, unlike flask.g when a test's app context is reused):
# this request's reading of every epoch.
_SEEN = "hub.epochs"
_EPOCHS: dict[str, Epoch] = {}


class Epoch:
    def __init__(self, name: str, watched: tuple[type, ...]) -> None:
        self.name, self.watched, self.key = name, watched, f"crmhub:epoch:{name}"
        self.caches: list[Cache] = []
        _EPOCHS[name] = self

    def current(self) -> str | None:
        """The epoch now, or None when nothing may be cached (no Redis, or Redis unreachable)."""
        if queue.is_embedded():
            return None
        if not has_request_context():
            return _read([self]).get(self.name)
        seen = request.environ.get(_SEEN)
        if seen is None:
            seen = request.environ[_SEEN] = _read(list(_EPOCHS.values()))
        return seen.get(self.name)


def _read(epochs: list[Epoch]) -> dict[str, str]:
    """The current value of each of `epochs` by name, in one round trip; {} if Redis is unreachable."""
    redis = queue.connection()
    try:
        values = redis.mget([e.key for e in epochs])
        if None in values:  # a new (or restarted) Redis: start epochs nobody has cached under
            with redis.pipeline(transaction=False) as pipe:
                for epoch, value in zip(epochs, values, strict=True):
                    if value is None:
                        pipe.set(epoch.key, uuid.uuid4().hex, nx=True)
                pipe.execute()
            values = redis.mget([e.key for e in epochs])
    except queue.RedisError:
        return {}
    return {e.name: v.decode() if isinstance(v, bytes) else v for e, v in zip(epochs, values, strict=True) if v}


class Cache(Generic[T]):
    """Values kept in this process under the epoch that was current when they were made."""

    def __init__(self, epoch: Epoch, max_age_s: float, max_entries: int = 256) -> None:
        self.epoch, self.max_age_s, self.max_entries = epoch, max_age_s, max_entries
        self.extension = f"hub_cache_{epoch.name}_{len(epoch.caches)}"
        epoch.caches.append(self)

    def get(self, key: Hashable, make: Callable[[], T], max_entries: int | None = None) -> T:
        """The value kept for `key` if it was made under the current epoch, else `make()`'s.
        `max_entries` overrides the cache's own bound; 0 keeps nothing (and asks Redis nothing)."""
        limit = self.max_entries if max_entries is None else max_entries
        if limit <= 0:
            return make()
        epoch = self.epoch.current()
        entries = self.entries()
        now = time.monotonic()
        if epoch is not None:
            hit = entries.get(key)
            if hit is not None and hit[0] == epoch and now - hit[1] < self.max_age_s:
                return hit[2]
        value = make()
        if epoch is not None:
            if len(entries) >= limit:
                entries.clear()
            # Stamped with the epoch read *before* making it: a change committed meanwhile has set
            # a newer epoch, so this value is never served in its place.
            entries[key] = (epoch, now, value)
        return value

    def entries(self, app: Flask | None = None) -> dict[Hashable, tuple[str, float, T]]:
        """This app's entries (one app per worker process; tests make many in one)."""
        return (app or current_app).extensions.setdefault(self.extension, {})


def _note_changes(session: Session, flush_context: Any) -> None:
    changed: set[str] = session.info.setdefault(_CHANGED, set())
    for name, epoch in _EPOCHS.items():
        if name not in changed and any(
            isinstance(o, epoch.watched) for o in chain(session.new, session.dirty, session.deleted)
        ):
            changed.add(name)


def _renew(session: Session) -> None:
    # A flush that was rolled back leaves its mark for the session's next commit: one needless
    # rebuild, where clearing it on a savepoint's rollback could lose a change committed after.
    changed = session.info.pop(_CHANGED, None)
    if not changed or not has_app_context() or queue.is_embedded():
        return
    if has_request_context():  # what this request read before its own change is not current now
        request.environ.pop(_SEEN, None)
    app = current_app._get_current_object()
    try:
        with queue.connection(app).pipeline(transaction=False) as pipe:
            for name in changed:
                pipe.set(_EPOCHS[name].key, uuid.uuid4().hex)
            pipe.execute()
    except queue.RedisError:
        log.warning("could not renew the epochs %s; other workers' caches may lag", sorted(changed))
        for name in changed:  # this process at least forgets at once
            for cache in _EPOCHS[name].caches:
                cache.entries(app).clear()


def install(session_target: Any) -> None:
    for name, listener in (("after_flush", _note_changes), ("after_commit", _renew)):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)

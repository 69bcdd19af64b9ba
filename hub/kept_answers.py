"""What each web worker keeps while nothing behind it has changed: the answers everyone opens over
and over (the pipeline board, the pages of the customers and deals lists) and the API tokens of
the requests (hub/auth.py).

What it keeps true: a kept value is the value the worker would build now (tests/
test_kept_answers_match_built.py compares them, page by page, before and after writes), because
- each table a value is made from is watched by an *epoch*, a value in Redis that every commit
  whose flushes touched an instance of a watched class replaces, after the commit and before the
  writing request answers: whoever made the change sees it on their next request, on any worker;
- a value is stamped with the epoch read *before* it was made, and served only while that epoch is
  current, and never after its cache's `max_age_s` (a change the ORM did not see, an epoch lost to
  a Redis outage during a commit);
- without REDIS_URL (the embedded queue) nothing is kept: each process would have an epoch of its
  own. If Redis cannot be reached there is no epoch, and nothing is served from what was kept.

Why it is here: built afresh on every request, the lists miss their target at 100k customers and
500k deals, and looking a token up costs a kept page three times its CPU (docs/performance.md,
"Mechanisms and what they pay"). HUB_CACHED_ANSWERS bounds how many answers each worker keeps of
each kind (0: none, the plain path); a page of 50 is 20–30 KB, so the default 512 is about 15 MB a
kind.

Every change to a watched table goes through the ORM (the few writes made with Core statements, a
product import's and a push's records, touch none; a token's `last_used_at`, stamped with Core by
hub/auth.py, is kept by its cache itself). What the database changes by itself comes with a watched
row's change too: a deleted user's deals (ON DELETE SET NULL) with the User, a deleted stage's
totals with the Stage, stage_totals (kept by triggers) with the deals. One listener rather than a
call at each write, for the reason hub/audit.py gives for its own. A request reads every epoch at
once, on its first look (one MGET: a kept page used to wait for two round trips, its token's epoch
and its own, about a quarter of its time), and again after a commit of its own has renewed any.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Hashable, Mapping
from itertools import chain
from typing import Any, Generic, TypeVar

import marshmallow as ma
from flask import Flask, Response, current_app, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.models import ApiToken, Contact, Customer, Deal, Pipeline, Stage, User
from hub.sync import queue

log = logging.getLogger(__name__)

T = TypeVar("T")
_CHANGED = "hub.kept_answers.changed"
# In the request's WSGI environ (never shared, unlike flask.g when a test's app context is reused):
# this request's reading of every epoch.
_SEEN = "hub.kept_answers"
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


# A deal's answers show its customer's, owner's and stage's names (the board its pipeline's too)
# and its contact's id. Deleting a contact or a user clears the deals' and customers' references in
# the database (ON DELETE SET NULL), out of the ORM's sight: their classes are watched for that.
DEALS = Epoch("deals", (Deal, Customer, Contact, User, Stage, Pipeline))
CUSTOMERS = Epoch("customers", (Customer, User))
# A revoked token, a deactivated user or a new role starts a new one.
TOKENS = Epoch("tokens", (User, ApiToken))

# No older than this even if a new epoch was lost to a Redis outage during a commit.
MAX_AGE_S = 30.0
BOARD_ANSWERS: Cache[bytes] = Cache(DEALS, MAX_AGE_S)
DEAL_PAGES: Cache[bytes] = Cache(DEALS, MAX_AGE_S)
CUSTOMER_PAGES: Cache[bytes] = Cache(CUSTOMERS, MAX_AGE_S)


def kept_answer(cache: Cache[bytes], key: Hashable, schema: ma.Schema, build: Callable[[], Any]) -> Response:
    """The JSON answer kept in `cache` under `key`, else `build()`'s object dumped by `schema` (the
    view's `@blp.response` schema: one serializer for the answer and its documentation) and kept."""
    body = cache.get(
        key,
        lambda: current_app.json.dump_bytes(schema.dump(build())),
        max_entries=current_app.config["HUB_CACHED_ANSWERS"],
    )
    return current_app.response_class(body, mimetype="application/json")


def args_key(args: Mapping[str, Any]) -> Hashable:
    """A list's parsed query arguments as a cache key: the same filters, sort and page in any order."""
    return tuple(sorted(args.items()))

"""The board's JSON answer kept by each worker process until something it shows changes.

Everyone opens the same board, and building it (stage totals, the latest cards of every column with
their customers and owners) costs ten times a cache look-up. What a board shows comes from deals,
customers, users, stages and pipelines, and every write to those goes through the ORM: a commit
whose flushes touched one of them sets a new *epoch* in Redis, and an answer is served from the
cache only while the epoch it was built under is still the current one.

The epoch is set before the writing request answers, so whoever changed a deal sees the change on
their next board. If Redis cannot be reached, the board is built fresh on every request (nothing
is cached); an answer is never older than MAX_AGE_S, which bounds what an epoch lost to a Redis
outage during a commit can cost. Without REDIS_URL (the embedded queue) nothing is cached: each
process would have an epoch of its own, and a change made through one would not reach the others.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.models import Customer, Deal, Pipeline, Stage, User
from hub.sync import queue

log = logging.getLogger(__name__)

SHOWN = (Deal, Customer, User, Stage, Pipeline)
EPOCH_KEY = "crmhub:board:epoch"
MAX_AGE_S = 30.0
MAX_ENTRIES = 256  # owners × page sizes × pipelines; beyond that the cache starts again
_CHANGED = "hub.board_cache.changed"
_EXTENSION = "hub_board_cache"


def answer(key: Hashable, build: Callable[[], bytes]) -> bytes:
    """The cached answer for `key` if it was built under the current epoch, else `build()`'s."""
    epoch = _current_epoch()
    entries: dict[Hashable, tuple[str, float, bytes]] = current_app.extensions.setdefault(_EXTENSION, {})
    now = time.monotonic()
    if epoch is not None:
        hit = entries.get(key)
        if hit is not None and hit[0] == epoch and now - hit[1] < MAX_AGE_S:
            return hit[2]
    body = build()
    if epoch is not None:
        if len(entries) >= MAX_ENTRIES:
            entries.clear()
        # Stamped with the epoch read *before* building: a change committed meanwhile has set a
        # newer epoch, so this answer is never served in its place.
        entries[key] = (epoch, now, body)
    return body


def _current_epoch() -> str | None:
    if queue.is_embedded():
        return None
    redis = queue.connection()
    try:
        epoch = redis.get(EPOCH_KEY)
        if epoch is None:  # a new (or restarted) Redis: start an epoch nobody has cached under
            redis.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
            epoch = redis.get(EPOCH_KEY)
    except queue.RedisError:
        return None
    return epoch.decode() if isinstance(epoch, bytes) else epoch


def _note_changes(session: Session, flush_context: Any) -> None:
    if not session.info.get(_CHANGED) and any(
        isinstance(o, SHOWN) for o in chain(session.new, session.dirty, session.deleted)
    ):
        session.info[_CHANGED] = True


def _new_epoch(session: Session) -> None:
    # A flush that was rolled back leaves the mark for the session's next commit: one needless
    # rebuild, where clearing it on a savepoint's rollback could lose a change committed after.
    if not session.info.pop(_CHANGED, False) or not has_app_context():
        return
    app = current_app._get_current_object()
    try:
        queue.connection(app).set(EPOCH_KEY, uuid.uuid4().hex)
    except queue.RedisError:
        log.warning("could not start a new board epoch; boards of other workers may lag for %.0f s", MAX_AGE_S)
        app.extensions.pop(_EXTENSION, None)


def install(session_target: Any) -> None:
    for name, listener in (("after_flush", _note_changes), ("after_commit", _new_epoch)):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)

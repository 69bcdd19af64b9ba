"""One `crmhub scheduler` dispatches at a time, however many run: the others stand by.

The lock is redis-py's `Lock`: a Redis key holding its holder's token (host:pid:random) with a TTL,
taken with SET NX PX, renewed and deleted by its scripts only while it holds that token. A thread
renews it every third of the TTL while the process lives. A scheduler that finds the key taken
waits, polling every second. When the holder dies without letting go (SIGKILL, a lost machine),
nothing renews the key: it expires and a waiter takes it within about TTL + a poll. A clean exit
deletes the key, so a waiter takes over at its next poll.

    waiting --acquire succeeds--> holding --release()--> released
                                 holding --key gone or another's, or Redis out of reach for a TTL--> lost

A scheduler that lost the lock stops dispatching and waits again. Two dispatching for a moment
(Redis lost the key, a renewal late) would double no work: dispatch claims each event with a
compare-and-set (hub.sync.outbox), and jobs have deterministic ids.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

from hub.sync.queue import RedisError

log = logging.getLogger(__name__)

LOCK_KEY = "hub:scheduler:lock"
TTL_SECONDS = 5.0
POLL_SECONDS = 1.0


class SchedulerLock:
    """The scheduler lock of one process. `held` is set while this process may dispatch."""

    def __init__(
        self, conn: redis.Redis, *, ttl: float = TTL_SECONDS, poll: float = POLL_SECONDS, key: str = LOCK_KEY
    ) -> None:
        self.conn = conn
        self.ttl = ttl
        self.poll = poll
        self.key = key
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.held = threading.Event()
        # Not thread-local: the renewing thread uses the token the scheduler's thread took.
        self._lock = conn.lock(key, timeout=ttl, blocking=False, thread_local=False)
        self._renewed_at = 0.0
        self._wake = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this process holds the lock (True) or `stop` is set (False)."""
        reported: str | None = None
        while not stop.is_set():
            try:
                if self._lock.acquire(token=self.token):
                    self._renewed_at = time.monotonic()
                    self.held.set()
                    self._wake.clear()
                    self._renewer = threading.Thread(target=self._renew, name="scheduler-lock", daemon=True)
                    self._renewer.start()
                    log.info("took the scheduler lock (%s)", self.token)
                    return True
                holder = self.conn.get(self.key)
                holder = holder.decode() if isinstance(holder, bytes) else holder
                if holder is not None and holder != reported:  # None: it expired just now
                    log.info("waiting for the scheduler lock held by %s", holder)
                    reported = holder
            except RedisError as exc:
                if reported != "":
                    log.warning("Redis unavailable for the scheduler lock (%s); retrying every %s s", exc, self.poll)
                    reported = ""
            stop.wait(self.poll)
        return False

    def release(self) -> None:
        """Stop renewing and delete the key if it is still ours, so a waiter takes over at once."""
        was_held = self.held.is_set()
        self.held.clear()
        self._wake.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.ttl)
            self._renewer = None
        try:
            self._lock.release()
        except LockError:
            pass  # never taken, expired, or another scheduler's now: nothing of ours to delete
        except RedisError as exc:
            log.warning("could not release the scheduler lock (%s); it expires within %s s", exc, self.ttl)
        else:
            if was_held:
                log.info("released the scheduler lock (%s)", self.token)

    def _renew(self) -> None:
        while not self._wake.wait(self.ttl / 3):
            try:
                self._lock.reacquire()  # the TTL back to its whole length
                self._renewed_at = time.monotonic()
            except LockNotOwnedError:
                self._lose("the key expired or another scheduler holds it")
                return
            except LockError:
                return  # released meanwhile
            except RedisError as exc:
                if time.monotonic() - self._renewed_at >= self.ttl:
                    self._lose(f"Redis out of reach for {self.ttl} s: {exc}")
                    return

    def _lose(self, why: str) -> None:
        if self.held.is_set():
            self.held.clear()
            log.warning("lost the scheduler lock (%s); stopping dispatch", why)

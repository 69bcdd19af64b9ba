"""Pacing a connection's requests inside its provider's published limits, for all workers at once.

Three Redis keys per connection, checked and taken in one Lua script (atomic, on Redis's clock so
that workers on several machines agree):
- `<key>:minute`, a sorted set of the requests started in the last 60 s (a sliding window): full
  at `Limits.per_minute`;
- `<key>:active`, a sorted set of the requests in flight, each scored with when its holder expires:
  full at `Limits.concurrent`. A worker killed mid-request stops counting once its entry expires,
  so it never leaks a place for good;
- `<key>:hold`, set by `hold()` after a 429 for as long as the provider asked: nobody sends.

A worker that would have to wait longer than `max_wait` does not sleep through it: it raises
RetryableError with the wait, and the engine retries the job then, so workers stay free.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from connectors.errors import RetryableError
from connectors.oauth import Limits, Pacer

OK, HELD, BUSY, SPENT = 0, 1, 2, 3
WHY = {
    HELD: "the provider asked to pause",
    BUSY: "the concurrent requests are all taken",
    SPENT: "the minute's budget is spent",
}

# KEYS: minute, active, hold. ARGV: token, per_minute, concurrent, holder_ttl_ms.
# Returns {code, ms to wait}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('PTTL', KEYS[3])
if held > 0 then return {1, held} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, math.max(1, math.min(tonumber(first[2]) - now, 100))}
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {3, math.max(1, tonumber(oldest[2]) + 60000 - now)}
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], 61000)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) + 1000)
return {0, 0}
"""

# KEYS: hold. ARGV: ms. A shorter pause never cuts a longer one short.
_HOLD = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


class RedisPacer(Pacer):
    """The Pacer of one connection, shared through Redis by every worker that calls it."""

    def __init__(
        self,
        redis_client: redis.Redis,
        key: str,
        limits: Limits,
        *,
        max_wait: float = 20.0,
        holder_seconds: float = 60.0,
    ) -> None:
        self.redis = redis_client
        self.keys = [f"{key}:minute", f"{key}:active", f"{key}:hold"]
        self.limits = limits
        self.max_wait = max_wait
        # Longer than any request takes (connector timeouts are 15 s): a live holder never expires.
        self.holder_ms = int(holder_seconds * 1000)
        self._acquire = redis_client.register_script(_ACQUIRE)
        self._hold = redis_client.register_script(_HOLD)

    @contextmanager
    def slot(self) -> Iterator[None]:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.max_wait
        while True:
            code, ms = self._call(
                self._acquire,
                args=[token, self.limits.per_minute, self.limits.concurrent, self.holder_ms],
            )
            if code == OK:
                break
            wait = ms / 1000
            if time.monotonic() + wait > deadline:
                raise RetryableError(f"not sent: {WHY[code]} (pacing)", wait=wait)
            time.sleep(wait)
        try:
            yield
        finally:
            with contextlib.suppress(redis.exceptions.RedisError):  # the entry expires by itself
                self.redis.zrem(self.keys[1], token)

    def hold(self, seconds: float) -> None:
        self._call(self._hold, keys=self.keys[2:], args=[max(1, int(seconds * 1000))])

    def _call(self, script, *, args: list, keys: list[str] | None = None):
        try:
            return script(keys=keys or self.keys, args=args)
        except redis.exceptions.RedisError as exc:
            raise RetryableError(f"pacing unavailable (Redis): {exc}") from exc

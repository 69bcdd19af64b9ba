"""Pacing a connection's requests inside its provider's published limits, for all workers at once.

Redis keys per connection, checked and taken in one Lua script (atomic, on Redis's clock so that
workers on several machines agree):
- `<key>:minute`, a sorted set of the requests started in the last 60 s (a sliding window): full
  at `Limits.per_minute`. A request of weight n (a QuickBooks batch of n items) takes n entries;
- `<key>:day`, the same over 24 hours when the provider has a daily limit (`Limits.per_day`: Xero
  5,000 a day per organisation);
- `<key>:batch`, the batch calls of the last 60 s, one entry each (`Limits.batches_per_minute`:
  QuickBooks 40);
- `<key>:second`, the requests of the last second, one entry each whatever their weight, when the
  provider also limits bursts (`Limits.per_second`: QuickBooks 10 a second besides 500 a minute);
- `<key>:active`, a sorted set of the requests in flight, each scored with when its holder expires:
  full at `Limits.concurrent`. A worker killed mid-request stops counting once its entry expires,
  so it never leaks a place for good;
- `<key>:hold`, set by `hold()` after a 429 for as long as the provider asked: nobody sends.

A worker that would have to wait longer than `max_wait` does not sleep through it: it raises
RetryableError with the wait, and the engine retries the job then, so workers stay free (a spent
day's budget makes the wait hours long).
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

OK, HELD, BUSY, SPENT, DAY_SPENT, BATCHES_SPENT, SECOND_SPENT = 0, 1, 2, 3, 4, 5, 6
WHY = {
    HELD: "the provider asked to pause",
    BUSY: "the concurrent requests are all taken",
    SPENT: "the minute's budget is spent",
    DAY_SPENT: "the day's budget is spent",
    BATCHES_SPENT: "the minute's batch calls are spent",
    SECOND_SPENT: "the second's budget is spent",
}

# KEYS: minute, active, hold, day, batch, second. ARGV: token, per_minute, concurrent, holder_ttl_ms,
# weight, per_day (0: none), batches_per_minute (0: none), is_batch (0/1), per_second (0: none).
# Returns {code, ms to wait}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local weight = tonumber(ARGV[5])
-- ms until `window` has room for `need` more entries under `limit`: when the entry that must
-- leave first leaves (0: room now).
local function room(key, limit, window, need)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local over = redis.call('ZCARD', key) + need - limit
  if over <= 0 then return 0 end
  local leaving = redis.call('ZRANGE', key, over - 1, over - 1, 'WITHSCORES')
  return math.max(1, tonumber(leaving[2]) + window - now)
end
local function take(key, window, need)
  for i = 1, need do redis.call('ZADD', key, now, ARGV[1] .. ':' .. i) end
  redis.call('PEXPIRE', key, window + 1000)
end
local held = redis.call('PTTL', KEYS[3])
if held > 0 then return {1, held} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, math.max(1, math.min(tonumber(first[2]) - now, 100))}
end
local per_second = tonumber(ARGV[9])
local wait = 0
if per_second > 0 then
  wait = room(KEYS[6], per_second, 1000, 1)
  if wait > 0 then return {6, wait} end
end
wait = room(KEYS[1], tonumber(ARGV[2]), 60000, weight)
if wait > 0 then return {3, wait} end
local per_day = tonumber(ARGV[6])
if per_day > 0 then
  wait = room(KEYS[4], per_day, 86400000, weight)
  if wait > 0 then return {4, wait} end
end
local batches = tonumber(ARGV[7])
local is_batch = tonumber(ARGV[8]) == 1 and batches > 0
if is_batch then
  wait = room(KEYS[5], batches, 60000, 1)
  if wait > 0 then return {5, wait} end
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) + 1000)
take(KEYS[1], 60000, weight)
if per_second > 0 then take(KEYS[6], 1000, 1) end
if per_day > 0 then take(KEYS[4], 86400000, weight) end
if is_batch then take(KEYS[5], 60000, 1) end
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
        self.keys = [f"{key}:{window}" for window in ("minute", "active", "hold", "day", "batch", "second")]
        self.limits = limits
        self.max_wait = max_wait
        # Longer than any request takes (connector timeouts are 15 s): a live holder never expires.
        self.holder_ms = int(holder_seconds * 1000)
        self._acquire = redis_client.register_script(_ACQUIRE)
        self._hold = redis_client.register_script(_HOLD)

    @contextmanager
    def slot(self, weight: int = 1, *, batch: bool = False) -> Iterator[None]:
        limits = self.limits
        if not 1 <= weight <= min(limits.per_minute, limits.per_day or limits.per_minute):
            raise ValueError(f"a request weighing {weight} can never fit in {limits}")
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.max_wait
        args = [
            token,
            limits.per_minute,
            limits.concurrent,
            self.holder_ms,
            weight,
            limits.per_day or 0,
            limits.batches_per_minute or 0,
            int(batch),
            limits.per_second or 0,
        ]
        while True:
            code, ms = self._call(self._acquire, args=args)
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
        self._call(self._hold, keys=self.keys[2:3], args=[max(1, int(seconds * 1000))])

    def _call(self, script, *, args: list, keys: list[str] | None = None):
        try:
            return script(keys=keys or self.keys, args=args)
        except redis.exceptions.RedisError as exc:
            raise RetryableError(f"pacing unavailable (Redis): {exc}") from exc

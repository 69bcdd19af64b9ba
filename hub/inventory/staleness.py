"""How old a connection's stock is, in one place: the stock list's badges, the `stale` filter and
the alerts' explanations all read it from here, so they never disagree.

A connection that has never pulled is treated as older than any threshold: its stock (if some
other route put any there) is not to be trusted.
"""

from __future__ import annotations

import enum
from datetime import datetime

from hub.models import Connection
from hub.models.base import utcnow


class Staleness(enum.StrEnum):
    NEVER = "never"  # never pulled
    FRESH = "fresh"
    STALE = "stale"  # past the connection's warn threshold
    EXPIRED = "expired"  # past its stop threshold: not fit to act on

    @property
    def stale(self) -> bool:
        return self is not Staleness.FRESH

    @property
    def unusable(self) -> bool:
        return self in (Staleness.EXPIRED, Staleness.NEVER)


def age_seconds(connection: Connection, now: datetime | None = None) -> float:
    """Seconds since the last good pull; infinite when there never was one."""
    if connection.stock_pulled_at is None:
        return float("inf")
    return ((now or utcnow()) - connection.stock_pulled_at).total_seconds()


def staleness(connection: Connection, now: datetime | None = None) -> Staleness:
    if connection.stock_pulled_at is None:
        return Staleness.NEVER
    age = age_seconds(connection, now)
    if age >= connection.stale_stop_seconds:
        return Staleness.EXPIRED
    return Staleness.STALE if age >= connection.stale_warn_seconds else Staleness.FRESH

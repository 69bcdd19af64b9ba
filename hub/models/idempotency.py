"""Idempotency keys: what a client's `Idempotency-Key` on a POST or PATCH of the API made, so that
the same request sent again gets the same answer instead of a second change (hub.api.idempotency).

A row is claimed when the request starts (no answer yet: in flight), marked in the request's own
transaction when that committed a change, and given the answer when the request ends. It counts
for 24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, delete
from sqlalchemy.orm import Mapped, mapped_column

from hub.extensions import db
from hub.models.base import UTCDateTime, utcnow


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of the method, the path with its query and the body: the same key with another
    # request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set in the request's transaction: the request changed something (its answer may be lost if
    # the process died before it was stored, but it must not run again).
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)  # None: in flight
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __audited__ = False  # machinery: the change it made is audited itself


def keep_period() -> timedelta:
    return timedelta(seconds=current_app.config["HUB_IDEMPOTENCY_KEEP_SECONDS"])


def purge_expired(now: datetime | None = None) -> int:
    """Delete keys older than the keep period (the scheduler runs this hourly); how many."""
    cutoff = (now or utcnow()) - keep_period()
    with db.engine.begin() as conn:
        return conn.execute(delete(IdempotencyKey.__table__).where(IdempotencyKey.created_at <= cutoff)).rowcount

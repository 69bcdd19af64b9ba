"""Where low-stock alerts are delivered besides the in-app inbox, and each delivery's progress.

A delivery row is written in the same transaction that opens the alert, one per enabled channel;
a job sends due deliveries, each channel on its own, with retries, so a broken mail server never
holds up a webhook or a stock pull.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, enum_column, utcnow
from hub.models.stock import StockAlert
from hub.sentences import said


class ChannelKind(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class AlertChannel(Timestamps, db.Model):
    __tablename__ = "alert_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind))
    # email: host, port, starttls, username, sender, recipients; webhook: url, timeout.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # email: password; webhook: signing secret. Encrypted like connector secrets.
    secrets_sealed: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    __audit_redact__ = ("secrets_sealed",)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt


class AlertDelivery(db.Model):
    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel_id", "event"),)
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("stock_alerts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(20), default="opened")
    state: Mapped[DeliveryState] = mapped_column(enum_column(DeliveryState), default=DeliveryState.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)  # in English
    # The same words as template and values (hub.sentences), said in the reader's language (0026).
    last_error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    alert: Mapped[StockAlert] = relationship()
    channel: Mapped[AlertChannel] = relationship()

    @property
    def last_error_text(self) -> str | None:
        """`last_error` in the reader's language: what the API shows."""
        return said(self.last_error_message, self.last_error)

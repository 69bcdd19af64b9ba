"""What the sync engine keeps: the outbox of events to send and the run history.

State transitions
- OutboxEvent: pending → dispatched (on the queue) → done | failed (parked) | discarded;
  failed → pending again on retry.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import UTCDateTime, enum_column, utcnow
from hub.models.connections import Connection
from hub.models.invoicing import HubInvoice
from hub.sentences import said

# Why an outbox event was parked, when something other than a person's retry must requeue it.
PARKED_FOR_REAUTHORISATION = "reauthorize"


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    DONE = "done"
    FAILED = "failed"
    DISCARDED = "discarded"


class OutboxEvent(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_available", "state", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))  # push_invoice | cancel_invoice
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    state: Mapped[OutboxState] = mapped_column(enum_column(OutboxState), default=OutboxState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker owns the event until this time; another worker (or a re-run job) keeps off it.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(40), index=True)
    job_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)  # in English
    # The same words as template and values (hub.sentences), said in the reader's language (0026).
    last_error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the event was parked for a reason that clears by itself (PARKED_FOR_REAUTHORISATION).
    parked_for: Mapped[str | None] = mapped_column(String(20))

    connection: Mapped[Connection] = relationship()
    invoice: Mapped[HubInvoice | None] = relationship()

    __audited__ = False  # machinery; its history is the sync runs

    @property
    def last_error_text(self) -> str | None:
        """`last_error` in the reader's language: what the failed queue and the API show."""
        return said(self.last_error_message, self.last_error)


class RunOutcome(enum.StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    UNCERTAIN = "uncertain"
    FAILED = "failed"
    SKIPPED = "skipped"


class SyncRun(db.Model):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    operation: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer, index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[RunOutcome | None] = mapped_column(enum_column(RunOutcome))
    request: Mapped[Any | None] = mapped_column(JSON)
    response: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # the hub's note, in English
    # The same words as template and values (hub.sentences), said in the reader's language (0026).
    error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    connection: Mapped[Connection] = relationship()

    __audited__ = False

    @property
    def error_text(self) -> str | None:
        """`error` in the reader's language: what the run pages and the API show."""
        return said(self.error_message, self.error)

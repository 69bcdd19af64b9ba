"""What the sync engine keeps: connections to target systems, the hub's own invoices (finance's
source of truth), their links to documents in the targets, the outbox, and the run history.

State transitions
- OutboxEvent: pending → dispatched (on the queue) → done | failed (parked) | discarded;
  failed → pending again on retry.
- HubInvoice.state: pending → sent | posted → partially_paid → paid; any → cancelled;
  failed while a push is parked.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, utcnow
from hub.models.crm import Customer
from hub.models.deals import Deal
from hub.money import ZERO, DecimalType


def _enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class DocumentMode(enum.StrEnum):
    DRAFT = "draft"
    POSTED = "posted"


class Authorisation(enum.StrEnum):
    """Where an OAuth connection stands (None on the row: never authorised)."""

    AUTHORISED = "authorised"
    # The provider refused the refresh token: nothing reaches it until an admin authorises again.
    REAUTHORIZE = "reauthorize"


# Why an outbox event was parked, when something other than a person's retry must requeue it.
PARKED_FOR_REAUTHORISATION = "reauthorize"


class Connection(Timestamps, db.Model):
    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets_sealed: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which stage kind makes an invoice (only "won" today; a per-connection choice by design).
    trigger: Mapped[str] = mapped_column(String(20), default="won")
    document_mode: Mapped[DocumentMode] = mapped_column(_enum(DocumentMode), default=DocumentMode.DRAFT)
    # Breaker: after consecutive failures the connection rests until this time.
    breaker_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # What an admin must know: e.g. "credentials refused: re-enter the password".
    attention: Mapped[str | None] = mapped_column(Text)
    # Stock pulls: how often, whether paused, and the age thresholds after which stock is stale
    # (warn) or no longer used for alerts without saying so (stop).
    stock_interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    stock_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    stale_warn_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    stale_stop_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    # When the last good pull began, and the newest `as_of` it saw (the next incremental pull's "since").
    stock_pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stock_cursor: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # OAuth types: the tokens (sealed like the secrets, written by the token store, never shown)
    # and the authorisation state with its reason and when it last changed.
    oauth_sealed: Mapped[str | None] = mapped_column(Text)
    oauth_state: Mapped[Authorisation | None] = mapped_column(_enum(Authorisation))
    oauth_reason: Mapped[str | None] = mapped_column(Text)
    oauth_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __audit_redact__ = ("secrets_sealed", "oauth_sealed")
    __audit_skip__ = ("breaker_open_until", "consecutive_failures", "attention", "stock_pulled_at", "stock_cursor")


class InvoiceState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    POSTED = "posted"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"
    FAILED = "failed"


class HubInvoice(Timestamps, db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        # One live invoice per deal: a second is refused whichever path writes it. A lost deal's
        # cancelled invoice stays beside the one it gets when won again.
        Index(
            "uq_invoices_live_per_deal",
            "deal_id",
            unique=True,
            sqlite_where=text("state != 'cancelled'"),
            postgresql_where=text("state != 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="RESTRICT"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    subtotal: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    tax_total: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    total: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    amount_paid: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    state: Mapped[InvoiceState] = mapped_column(_enum(InvoiceState), default=InvoiceState.PENDING, index=True)
    # The canonical document as it was when the deal was won: what every push sends.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)

    deal: Mapped[Deal] = relationship()
    customer: Mapped[Customer] = relationship()
    links: Mapped[list[ExternalLink]] = relationship(back_populates="invoice")

    # The snapshot is written once with the invoice and never changes; the invoice keeps it.
    __audit_skip__ = ("snapshot",)


class ExternalLink(Timestamps, db.Model):
    __tablename__ = "external_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        UniqueConstraint("connection_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    external_number: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20))
    amount_paid: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    status_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invoice: Mapped[HubInvoice] = relationship(back_populates="links")
    connection: Mapped[Connection] = relationship()

    __audited__ = False


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
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState), default=OutboxState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker owns the event until this time; another worker (or a re-run job) keeps off it.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(40), index=True)
    job_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when the event was parked for a reason that clears by itself (PARKED_FOR_REAUTHORISATION).
    parked_for: Mapped[str | None] = mapped_column(String(20))

    connection: Mapped[Connection] = relationship()
    invoice: Mapped[HubInvoice | None] = relationship()

    __audited__ = False  # machinery; its history is the sync runs


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
    outcome: Mapped[RunOutcome | None] = mapped_column(_enum(RunOutcome))
    request: Mapped[Any | None] = mapped_column(JSON)
    response: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    connection: Mapped[Connection] = relationship()

    __audited__ = False

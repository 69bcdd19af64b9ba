"""The hub's own invoices (finance's source of truth) and their links to documents in the targets.

State transitions
- HubInvoice.state: pending → sent | posted → partially_paid → paid; any → cancelled;
  failed while a push is parked.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, enum_column
from hub.models.connections import Connection
from hub.models.crm import Customer
from hub.models.deals import Deal
from hub.money import ZERO, DecimalType


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
    state: Mapped[InvoiceState] = mapped_column(enum_column(InvoiceState), default=InvoiceState.PENDING, index=True)
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


# A deal's invoices, oldest first, for its page. Declared here rather than on Deal: invoices are
# made from deals, and deals.py knows nothing of them.
Deal.invoices = relationship(HubInvoice, viewonly=True, order_by=HubInvoice.id)

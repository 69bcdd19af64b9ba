"""Credit notes: how a target settled an invoice it would not cancel.

When a won deal is lost, the hub cancels its invoice in every target; an invoice that was paid
there, in part or in full, is credited instead (hub.sync.cancel). The credit note belongs to the
invoice's link in that target: one per link, so a retried cancel finds it instead of recording a
second one."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps
from hub.models.invoicing import ExternalLink
from hub.money import DecimalType


class CreditNote(Timestamps, db.Model):
    __tablename__ = "credit_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("external_links.id", ondelete="CASCADE"), unique=True)
    external_id: Mapped[str] = mapped_column(String(100))
    external_number: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(500))
    # What it credits, in the invoice's currency: the invoice's whole total.
    amount: Mapped[Decimal] = mapped_column(DecimalType(18, 4))

    # Loaded with the links, in one query per batch of them: every list of invoices shows it.
    link: Mapped[ExternalLink] = relationship(
        backref=backref("credit_note", uselist=False, lazy="selectin", passive_deletes=True)
    )

    __audited__ = False

    @property
    def currency(self) -> str:
        """The credited invoice's currency (what the amount is in)."""
        return self.link.invoice.currency

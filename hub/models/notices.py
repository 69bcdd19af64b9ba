"""In-app notices to people: today, "your deal's invoice failed in <target>".

One row per parked push (an outbox event given up on), written in the transaction that parks it:
a retried push that fails again is a new failure and a new row; the attempts before a push is
parked write none. The row also keeps the explanation the deal page and the API show: the plain
sentence for sales, the target's own words for finance and admins, and which role to ask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import UTCDateTime, utcnow
from hub.models.connections import Connection
from hub.models.deals import Deal
from hub.models.invoicing import HubInvoice
from hub.models.sync import OutboxEvent
from hub.models.users import Role, User
from hub.sentences import render, said


class InvoiceNotice(db.Model):
    __tablename__ = "invoice_notices"
    # A user's unread notices, newest first (the top bar's count and the notices page).
    __table_args__ = (Index("ix_invoice_notices_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The deal's owner when the push was parked; None when the deal had no owner (the row still
    # explains the failure on the deal page).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(Text)  # for the salesperson, in English
    # The same sentence as its template and values (hub.sentences), said in the reader's language;
    # None in rows written before it was kept (0025): they show `reason`.
    reason_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)  # the target's words, for finance and admins
    # The outbox event's sentence around them (hub.sentences), said in the reader's language (0026).
    detail_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ask: Mapped[Role] = mapped_column(  # who can fix it
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship()
    deal: Mapped[Deal] = relationship()
    invoice: Mapped[HubInvoice] = relationship()
    connection: Mapped[Connection] = relationship()
    event: Mapped[OutboxEvent | None] = relationship()

    __audited__ = False  # machinery's message, not a record someone edits

    @property
    def reason_text(self) -> str:
        """`reason` in the reader's language: what the pages and the API show."""
        return render(self.reason_message, self.reason)

    @property
    def detail_text(self) -> str | None:
        """`detail` in the reader's language, the target's own words as they are."""
        return said(self.detail_message, self.detail)

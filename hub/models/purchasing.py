"""Purchase requests raised in a target system from a low-stock alert, and the link to them.

One per alert at most (`alert_id` is unique): the row is written (pending) before the target is
asked, so a second click or a concurrent request finds it instead of asking twice.

States: pending (claimed, the target is being asked) → requested (the target answered with its
id) | failed (the target refused or did not answer; asking again reuses the same reference, so
the target finds what an unanswered call may have created).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, enum_column
from hub.models.connections import Connection
from hub.models.stock import StockAlert
from hub.models.users import User
from hub.money import DecimalType
from hub.sentences import said


class PurchaseRequestState(enum.StrEnum):
    PENDING = "pending"
    REQUESTED = "requested"
    FAILED = "failed"


class PurchaseRequest(Timestamps, db.Model):
    __tablename__ = "purchase_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("stock_alerts.id", ondelete="CASCADE"), unique=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    # The target's warehouse code; None: the connection's default warehouse.
    warehouse_code: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    # What the target is told, stable across retries: how it recognises a repeated request.
    reference: Mapped[str] = mapped_column(String(100))
    state: Mapped[PurchaseRequestState] = mapped_column(
        enum_column(PurchaseRequestState), default=PurchaseRequestState.PENDING
    )
    external_id: Mapped[str | None] = mapped_column(String(100))
    external_number: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)  # in English
    # The same words as template and values (hub.sentences), said in the reader's language (0026).
    error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    alert: Mapped[StockAlert] = relationship(backref=backref("purchase_request", uselist=False))
    connection: Mapped[Connection] = relationship()
    created_by: Mapped[User | None] = relationship()

    __audit_skip__ = ("error_message",)  # the audit keeps the English `error`

    @property
    def error_text(self) -> str | None:
        """`error` in the reader's language, the target's own words as it wrote them."""
        return said(self.error_message, self.error)

"""Sessions of 1C's site exchange (CommerceML): 1C logs in with `mode=checkauth` and sends the
cookie it got on every later call. A session remembers which orders its last query sent (marked
exported only when 1C acknowledges them with `mode=success`), how far each import has read, and
how many bytes it has uploaded. Its files live in `<instance>/onec_exchange/<session id>/`.
Wrong passwords at `checkauth` are counted per connection and per calling address
(`ExchangeLoginFailures`, see hub/exchange/throttle.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import UTCDateTime, utcnow
from hub.models.connections import Connection
from hub.money import DecimalType


class ExchangeSession(db.Model):
    __tablename__ = "exchange_sessions"
    __audited__ = False  # machinery; each call is in the run history

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the cookie value: the value itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Hub invoice ids the last `type=sale&mode=query` answered with, until 1C acknowledges them.
    sent_invoice_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Per imported file name: {"position": items read and staged, "batches": staged batch files,
    # "resume": where the next call reads on (ReadPosition.to_json()), "done": bool}.
    imports: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    uploaded_bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    connection: Mapped[Connection] = relationship()


class ExchangeLoginFailures(db.Model):
    """Wrong passwords at the exchange's `checkauth` from one scope (`connection:<id>` or
    `address:<ip>`) since `first_failed_at`; `locked_until`: log-ins from the scope are refused
    until then."""

    __tablename__ = "exchange_login_failures"
    __audited__ = False  # machinery; each refusal is in the run history

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OneCPayment(db.Model):
    """A payment 1C sent for an exported order (a Документ of its own in a change file), kept so
    that each one counts once however often 1C sends it, and an undone one can be taken off again.
    `counted`: whether its amount went into the invoice's amount paid (not when the order was
    settled already); `undone_at`: 1C took it back after it was counted."""

    __tablename__ = "onec_payments"
    __table_args__ = (UniqueConstraint("link_id", "payment_key"),)
    __audited__ = False  # each change is a note on the deal and in the run history

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("external_links.id", ondelete="CASCADE"), index=True)
    # 1C's payment number («Номер оплаты по 1С»), else the document's Номер, else its Ид.
    payment_key: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    counted: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

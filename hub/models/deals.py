"""Deals, their lines and their stage history.

Totals are computed here, in Decimal, line by line: net = quantity × unit price less the
discount, rounded to the currency's minor unit; tax = net × rate, rounded per line. The deal's
totals are the sums, stored on the deal so that lists and the board can sort and add them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, utcnow
from hub.models.catalog import Product
from hub.models.crm import Contact, Customer
from hub.models.pipeline import Pipeline, Stage, StageKind
from hub.models.users import User
from hub.money import HUNDRED, ZERO, DecimalType, round_money


@dataclass(frozen=True)
class LineAmounts:
    gross: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(
    quantity: Decimal, unit_price: Decimal, discount_percent: Decimal, tax_rate: Decimal, currency: str
) -> LineAmounts:
    gross = round_money(quantity * unit_price, currency)
    net = round_money(quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED, currency)
    tax = round_money(net * tax_rate, currency)
    return LineAmounts(gross=gross, discount=gross - net, net=net, tax=tax, total=net + tax)


class Deal(Timestamps, db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        # The deals list (newest first) and the board (a stage's deals by last change).
        Index("ix_deals_created_at_id", "created_at", "id"),
        Index("ix_deals_stage_updated_at", "stage_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="RESTRICT"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="RESTRICT"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    # None means "the stage's probability".
    probability: Mapped[int | None] = mapped_column(Integer)
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lost_reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)

    subtotal: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    discount_total: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    tax_total: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    total: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)

    customer: Mapped[Customer] = relationship()
    contact: Mapped[Contact | None] = relationship()
    owner: Mapped[User | None] = relationship()
    pipeline: Mapped[Pipeline] = relationship()
    stage: Mapped[Stage] = relationship()
    lines: Mapped[list[DealLine]] = relationship(
        back_populates="deal", order_by="DealLine.position", cascade="all, delete-orphan"
    )
    stage_changes: Mapped[list[DealStageChange]] = relationship(
        back_populates="deal", order_by="DealStageChange.id", cascade="all, delete-orphan"
    )
    # `invoices` (the deal's invoices, oldest first) is declared in invoicing.py, with HubInvoice.

    @property
    def status(self) -> StageKind:
        return self.stage.kind

    @property
    def effective_probability(self) -> int:
        return self.stage.probability if self.probability is None else self.probability

    def recompute_totals(self) -> None:
        amounts = [line.amounts for line in self.lines]
        self.subtotal = sum((a.net for a in amounts), ZERO)
        self.discount_total = sum((a.discount for a in amounts), ZERO)
        self.tax_total = sum((a.tax for a in amounts), ZERO)
        self.total = self.subtotal + self.tax_total

    def tax_breakdown(self) -> list[dict[str, Decimal]]:
        """Net and tax per tax rate, in ascending rate order: what an invoice prints."""
        by_rate: dict[Decimal, list[Decimal]] = {}
        for line in self.lines:
            a = line.amounts
            net_tax = by_rate.setdefault(line.tax_rate.normalize(), [ZERO, ZERO])
            net_tax[0] += a.net
            net_tax[1] += a.tax
        return [{"rate": rate, "net": v[0], "tax": v[1]} for rate, v in sorted(by_rate.items())]


class DealLine(db.Model):
    __tablename__ = "deal_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    unit_price: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    discount_percent: Mapped[Decimal] = mapped_column(DecimalType(7, 4), default=ZERO)
    tax_rate: Mapped[Decimal] = mapped_column(DecimalType(7, 4), default=ZERO)

    deal: Mapped[Deal] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()

    @property
    def amounts(self) -> LineAmounts:
        return line_amounts(self.quantity, self.unit_price, self.discount_percent, self.tax_rate, self.deal.currency)


class DealStageChange(db.Model):
    __tablename__ = "deal_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id", ondelete="SET NULL"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="RESTRICT"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)

    deal: Mapped[Deal] = relationship(back_populates="stage_changes")
    from_stage: Mapped[Stage | None] = relationship(foreign_keys=[from_stage_id])
    to_stage: Mapped[Stage] = relationship(foreign_keys=[to_stage_id])
    changed_by: Mapped[User | None] = relationship()


class StageTotal(db.Model):
    """Per stage, owner and currency: how many deals and their total, kept up to date as deals change
    (hub.services.board), so the board never sums every deal. The total is in 1/10,000 of the currency: an
    integer, which both databases add exactly."""

    __tablename__ = "stage_totals"

    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"), primary_key=True)
    owner_key: Mapped[int] = mapped_column(Integer, primary_key=True)  # the owner's id; 0 for none
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    deal_count: Mapped[int] = mapped_column(Integer, default=0)
    total_units: Mapped[int] = mapped_column(BigInteger, default=0)

"""Stock pulled back from the targets, the reorder rules operations set, and the alerts they raise.

Stock rows are keyed by connection × warehouse × SKU, as the target reports them; `product_id`
links a row to the hub's catalogue when the SKU is known. Pulls write them in bulk (see
`hub.inventory.writers`), so these tables are not audited row by row; rules and alerts are.

Alert states: open → acknowledged | snoozed (until a date) → resolved; `open_key` is set while an
alert is not resolved and is unique, so there is at most one live alert per product × warehouse.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, enum_column, utcnow
from hub.models.catalog import Product
from hub.models.connections import Connection
from hub.models.users import User
from hub.money import ZERO, DecimalType
from hub.sentences import render


class Warehouse(db.Model):
    __tablename__ = "warehouses"
    __table_args__ = (UniqueConstraint("connection_id", "code"),)
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))

    connection: Mapped[Connection] = relationship()


class StockLevel(db.Model):
    __tablename__ = "stock_levels"
    # A full pull writes 200,000 rows, and a foreign key costs a trigger call per row (half of
    # PostgreSQL's time for them): the stock tables keep none. Their keys are kept by what writes
    # and deletes them instead (`hub.inventory.writers` takes each referred warehouse and product
    # FOR KEY SHARE, once per pull, as a foreign key would row by row; migration 0013's triggers
    # delete a warehouse's stock with it and unlink a deleted product). The unique constraint
    # serves look-ups by connection, so that column has no index of its own to keep up.
    __table_args__ = (UniqueConstraint("connection_id", "warehouse_id", "sku"),)
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column()
    warehouse_id: Mapped[int] = mapped_column(index=True)
    sku: Mapped[str] = mapped_column(String(64), index=True)
    product_id: Mapped[int | None] = mapped_column(index=True)
    on_hand: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    reserved: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    available: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    pulled_at: Mapped[datetime] = mapped_column(UTCDateTime)

    warehouse: Mapped[Warehouse] = relationship(primaryjoin="foreign(StockLevel.warehouse_id) == Warehouse.id")
    connection: Mapped[Connection] = relationship(
        primaryjoin="foreign(StockLevel.connection_id) == Connection.id", viewonly=True
    )
    product: Mapped[Product | None] = relationship(primaryjoin="foreign(StockLevel.product_id) == Product.id")


class StockHistory(db.Model):
    """One row each time a pull saw a level change: the data behind stock charts."""

    __tablename__ = "stock_history"
    # No foreign keys, as for stock_levels; a SKU's history indexed in the order it is read.
    __table_args__ = (Index("ix_stock_history_sku_as_of", "sku", "as_of", "id"),)
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(index=True)
    warehouse_id: Mapped[int] = mapped_column()
    sku: Mapped[str] = mapped_column(String(64))
    on_hand: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    available: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)


class ReorderRule(Timestamps, db.Model):
    """Below `reorder_point` (projected) an alert opens; it resolves above `reorder_point + margin`.
    Without a warehouse the rule applies to the product's stock summed over all warehouses."""

    __tablename__ = "reorder_rules"
    __table_args__ = (UniqueConstraint("product_id", "warehouse_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), index=True)
    reorder_point: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    target_level: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    margin: Mapped[Decimal] = mapped_column(DecimalType(18, 4), default=ZERO)
    # Also subtract open deals' quantities weighted by their probability.
    count_open_deals: Mapped[bool] = mapped_column(Boolean, default=False)

    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class StockAlert(Timestamps, db.Model):
    __tablename__ = "stock_alerts"
    __audit_skip__ = ("figures", "explanation", "explanation_message")

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("reorder_rules.id", ondelete="SET NULL"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), index=True)
    # "<product>:<warehouse or *>" while the alert is live, NULL once resolved: unique.
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    state: Mapped[AlertState] = mapped_column(enum_column(AlertState), default=AlertState.OPEN, index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    projected: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    # The numbers behind `projected`, refreshed at each evaluation; `explanation` says them in words.
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    explanation: Mapped[str] = mapped_column(Text, default="")  # in English
    # The same words as templates and figures (hub.sentences), said in the reader's language;
    # None in alerts last evaluated before it was kept (0025): they show `explanation`.
    explanation_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()
    rule: Mapped[ReorderRule | None] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()

    @property
    def explanation_text(self) -> str:
        """`explanation` in the reader's language: what the pages, the API and e-mails show."""
        return render(self.explanation_message, self.explanation)

"""Products that deals sell; the SKU is the key every back-office system knows them by."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from hub.extensions import db
from hub.models.base import Timestamps
from hub.money import DecimalType


class Product(Timestamps, db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(20), default="unit")
    list_price: Mapped[Decimal] = mapped_column(DecimalType(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    # A fraction: 0.2000 is 20 %.
    tax_rate: Mapped[Decimal] = mapped_column(DecimalType(7, 4), default=Decimal("0"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# SKUs are one regardless of case, so a product is looked up by lower(sku) (a new SKU's check, the
# 1C import's batches); not unique, as a database may hold case twins made before that rule.
Index("ix_products_lower_sku", func.lower(Product.sku))

"""What sales can promise: available stock per product (all warehouses and connections) and the
projection after the quantities already won, for deal lines and for the check when winning."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hub.extensions import db
from hub.inventory import projection
from hub.inventory.alerts import freshness
from hub.locale_numbers import quantity_text
from hub.models import Deal, StockLevel
from hub.models.base import utcnow

ZERO = Decimal(0)


@dataclass(frozen=True)
class Availability:
    available: Decimal
    on_won_deals: Decimal  # not counting the deal being looked at
    projected: Decimal
    stale: bool

    def as_json(self) -> dict[str, str | bool]:
        return {
            "available": str(self.available),
            "on_won_deals": str(self.on_won_deals),
            "projected": str(self.projected),
            "stale": self.stale,
        }


def for_products(product_ids: Iterable[int], exclude_deal: Deal | None = None) -> dict[int, Availability]:
    """Availability of each product that has stock in the hub; products without any are left out."""
    ids = set(product_ids)
    if not ids:
        return {}
    levels: dict[int, list[StockLevel]] = {}
    for level in db.session.scalars(
        select(StockLevel).where(StockLevel.product_id.in_(ids)).options(joinedload(StockLevel.connection))
    ):
        levels.setdefault(level.product_id, []).append(level)
    if not levels:
        return {}  # nothing is known of these products' stock: no projection to make
    # The deal looked at is left out in the query: subtracting its lines afterwards would take
    # other deals' quantities off when its own no longer count (paid, or in the target's stock).
    won = projection.on_won_deals(levels.keys(), except_deal=exclude_deal.id if exclude_deal else None)
    now = utcnow()
    out = {}
    for product_id, rows in levels.items():
        available = sum((Decimal(r.available) for r in rows), ZERO)
        on_won = won.get(product_id, ZERO)
        out[product_id] = Availability(available, on_won, available - on_won, freshness(rows, now).stale)
    return out


def shortages(deal: Deal) -> dict[str, str]:
    """Lines of `deal` that ask for more than can be promised: {"lines[i].quantity": message}.
    What it found of the products' stock stays on the deal as `availability`."""
    wanted: dict[int, Decimal] = {}
    for line in deal.lines:
        if line.product_id:
            wanted[line.product_id] = wanted.get(line.product_id, ZERO) + Decimal(line.quantity)
    known = deal.availability = for_products(wanted, exclude_deal=deal)  # what the deal's answer shows
    problems = {}
    for i, line in enumerate(deal.lines):
        stock = known.get(line.product_id) if line.product_id else None
        if stock is not None and wanted[line.product_id] > stock.projected:
            sku = line.product.sku if line.product else line.product_id
            # Said now, in the request's language: the message is shown once, in the answer.
            figures = {
                "wanted": quantity_text(wanted[line.product_id]),
                "sku": str(sku),
                "promised": quantity_text(max(stock.projected, ZERO)),
                "available": quantity_text(stock.available),
                "won": quantity_text(stock.on_won_deals),
            }
            if stock.stale:
                message = gettext(
                    "%(wanted)s of %(sku)s wanted, %(promised)s can be promised (available %(available)s, "
                    "on other won deals %(won)s); the stock figures are stale",
                    **figures,
                )
            else:
                message = gettext(
                    "%(wanted)s of %(sku)s wanted, %(promised)s can be promised (available %(available)s, "
                    "on other won deals %(won)s)",
                    **figures,
                )
            problems[f"lines[{i}].quantity"] = message
    return problems

"""Stock levels of the connection's warehouses, as Tryton counts them.

Tryton's rules followed here
- a warehouse is a `stock.location` of type warehouse; its stock is in its storage location;
- `product.product` quantities are computed for the locations in the context: `quantity` is on
  hand, `forecast_quantity` what remains once planned moves are done; what goes out before it comes
  in is taken as reserved;
- Tryton has no change feed for quantities: every pull reads them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.documents import StockLevel
from connectors.errors import PermanentError
from connectors.tryton.rpc import TrytonRpc


class TrytonStock(TrytonRpc):
    """The stock pull."""

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Full read each time: Tryton has no change feed for stock quantities."""
        codes = [c.strip() for c in (self.config["warehouse"] or "").split(",") if c.strip()]
        domain: list[Any] = [["type", "=", "warehouse"]]
        if codes:
            domain.append(["code", "in", codes])
        warehouses = self.search_read("stock.location", domain, ["id", "code", "storage_location"])
        unknown = set(codes) - {w["code"] for w in warehouses}
        if unknown:
            raise PermanentError(f"Tryton has no warehouse {', '.join(sorted(unknown))}", field="warehouse")
        now = datetime.now(UTC)
        for warehouse in warehouses:
            storage = warehouse["storage_location"]
            rows = self.search_read(
                "product.product",
                [["code", "!=", None], ["type", "=", "goods"]],
                ["code", "quantity", "forecast_quantity"],
                context={"locations": [storage]},
            )
            for row in rows:
                on_hand = Decimal(str(row["quantity"]))
                forecast = Decimal(str(row["forecast_quantity"]))
                reserved = max(Decimal(0), on_hand - forecast)
                yield StockLevel(
                    sku=row["code"],
                    warehouse=warehouse["code"] or str(warehouse["id"]),
                    on_hand=on_hand,
                    reserved=reserved,
                    available=on_hand - reserved,
                    as_of=now,
                )

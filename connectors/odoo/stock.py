"""Stock from Odoo: the quants of internal locations, summed per product and warehouse code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.documents import StockLevel


class OdooStock:
    """The stock half of `OdooConnector`: it reads with the connector's `search_read` and `stock_page`."""

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Every quant in an internal location, summed per product and warehouse (full read each
        time: a quant that drops to zero is deleted, so a change feed would miss it)."""
        quants: list[dict[str, Any]] = []
        while True:
            page = self.search_read(
                "stock.quant",
                [["location_id.usage", "=", "internal"]],
                ["product_id", "location_id", "quantity", "reserved_quantity"],
                offset=len(quants),
                limit=self.stock_page,
                order="id asc",
            )
            quants += page
            if len(page) < self.stock_page:
                break
        codes = self._product_codes({q["product_id"][0] for q in quants})
        warehouses = self._location_warehouses({q["location_id"][0] for q in quants})
        totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for quant in quants:
            sku, warehouse = codes.get(quant["product_id"][0]), warehouses.get(quant["location_id"][0])
            if not sku or not warehouse:
                continue  # no internal reference to match a hub SKU, or a location outside warehouses
            on_hand, reserved = totals.get((sku, warehouse), (Decimal(0), Decimal(0)))
            totals[sku, warehouse] = (
                on_hand + Decimal(quant["quantity"]),
                reserved + Decimal(quant["reserved_quantity"]),
            )
        now = datetime.now(UTC)
        for (sku, warehouse), (on_hand, reserved) in totals.items():
            yield StockLevel(sku, warehouse, on_hand, reserved, on_hand - reserved, now)

    def _product_codes(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = self.search_read(
            "product.product", [["id", "in", sorted(ids)]], ["default_code"], context={"active_test": False}
        )
        return {row["id"]: row["default_code"] for row in rows if row.get("default_code")}

    def _location_warehouses(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        locations = self.search_read("stock.location", [["id", "in", sorted(ids)]], ["warehouse_id"])
        warehouse_of = {row["id"]: row["warehouse_id"][0] for row in locations if row.get("warehouse_id")}
        if not warehouse_of:
            return {}
        rows = self.search_read("stock.warehouse", [["id", "in", sorted(set(warehouse_of.values()))]], ["code"])
        codes = {row["id"]: row["code"] for row in rows}
        return {location: codes[w] for location, w in warehouse_of.items() if w in codes}

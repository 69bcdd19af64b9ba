"""Stock from Zoho Inventory, or from the items Zoho Books itself tracks as inventory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.documents import StockLevel
from connectors.http import decimal_of

# Zoho Inventory's largest page.
STOCK_PAGE = 200


class ZohoStock:
    """The stock half of `ZohoBooksConnector`: it reads with the connector's `_call` and `config`."""

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """Full read each time: Zoho reports no stock changes since a time. The item list gives each
        item's stock in all (one call per 200 items); per warehouse, each item's detail is read
        too, a call per item, which the setting `stock_per_warehouse` asks for knowingly."""
        page = 1
        now = datetime.now(UTC)
        while True:
            answer = self._call("GET", self._items_path, params={"page": page, "per_page": STOCK_PAGE})
            for item in answer.get("items", []):
                if not (item.get("sku") and item.get("item_type", "inventory") == "inventory"):
                    continue
                if self.config["stock_per_warehouse"]:
                    yield from self._item_stock(item)
                else:
                    yield level(
                        item["sku"],
                        self.config["warehouse"],
                        item.get("stock_on_hand"),
                        item.get("available_stock"),
                        now,
                    )
            if not answer.get("page_context", {}).get("has_more_page"):
                return
            page += 1

    @property
    def _items_path(self) -> str:
        """Where stock is read: Zoho Inventory when the organisation uses it, else the stock
        Zoho Books keeps itself for items it tracks as inventory."""
        return "/inventory/v1/items" if self.config["inventory"] else "/books/v3/items"

    def _item_stock(self, item: Mapping[str, Any]) -> Iterator[StockLevel]:
        detail = self._call("GET", f"{self._items_path}/{item['item_id']}")["item"]
        now = datetime.now(UTC)
        places = [
            (
                w.get("warehouse_name") or w.get("warehouse_id"),
                w.get("warehouse_stock_on_hand"),
                w.get("warehouse_available_stock"),
            )
            for w in detail.get("warehouses") or []
        ] or [
            (
                loc.get("location_name") or loc.get("location_id"),
                loc.get("location_stock_on_hand"),
                loc.get("location_available_stock"),
            )
            for loc in detail.get("locations") or []
        ]
        for warehouse, on_hand_value, available_value in places:
            yield level(item["sku"], str(warehouse), on_hand_value, available_value, now)


def level(sku: str, warehouse: str, on_hand_value: Any, available_value: Any, now: datetime) -> StockLevel:
    """A stock level from Zoho's on-hand and available figures (available missing: all of it)."""
    on_hand = decimal_of(on_hand_value)
    available = decimal_of(available_value) if available_value not in (None, "") else on_hand
    return StockLevel(
        sku=sku,
        warehouse=warehouse,
        on_hand=on_hand,
        reserved=max(Decimal(0), on_hand - available),
        available=available,
        as_of=now,
    )

"""Importing what 1C uploads (import.xml, offers.xml, order changes): read in bounded batches,
staged on disk, then applied in one transaction — so a long import answers `progress` and goes on
at the next call, and a file that turns out broken (truncated, hostile) changes nothing.

Staging: each call reads the next `import_batch` items of the file (re-reading the earlier ones
cheaply to get there) into `<session folder>/.staged/<file>/<n>.jsonl`; the session keeps the
position. When the file ends, every staged item is applied:
- catalogue products → hub products (created, or renamed) by SKU (Артикул, else 1C's Ид), and the
  connection's `products` table row SKU → 1C Ид (what orders are sent with, and how offers that
  name only an Ид find their SKU);
- offers → list prices (the configured price type) and stock levels per 1C warehouse, written as a
  stock pull writes them, then the same alert evaluation a pull runs;
- order changes → the hub invoices and deals (`hub.exchange.orders`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from connectors.documents import StockLevel as Level
from connectors.onec.commerceml import (
    CatalogItem,
    Item,
    Offer,
    OrderChange,
    Price,
    PriceType,
    Warehouse,
    item_from_json,
    item_to_json,
    read_items,
)
from hub.audit import created_in_bulk
from hub.exchange import orders
from hub.exchange.files import remove_folder
from hub.extensions import db
from hub.inventory.alerts import evaluate
from hub.inventory.pull import CHUNK, stock_writer
from hub.models import Connection, ExchangeSession, MappingRow, Product
from hub.models import Warehouse as HubWarehouse
from hub.models.base import utcnow

PRODUCTS_TABLE = "products"
ALL_WAREHOUSES = "all"  # where an offer's stock goes when it names no warehouse
CURRENCY_WORDS = {"руб": "RUB", "руб.": "RUB", "rur": "RUB", "643": "RUB"}
SKU_LENGTH = 64


@dataclass
class Step:
    done: bool
    position: int
    summary: dict[str, Any] = field(default_factory=dict)


def staged_folder(session_folder: Path, filename: str) -> Path:
    return session_folder / ".staged" / filename.replace("/", "__")


def import_step(session: ExchangeSession, session_folder: Path, filename: str, path: Path, batch: int) -> Step:
    """Read and stage the next batch of `path`; when it ends, apply everything staged. Raises
    InvalidExchangeFile (staging discarded, the position reset) for a broken file."""
    state = dict(session.imports.get(filename) or {"position": 0, "batches": 0, "done": False})
    if state["done"]:
        return Step(True, state["position"], state.get("summary", {}))
    staged = staged_folder(session_folder, filename)
    try:
        with path.open("rb") as source:
            items = read_items(source)
            for _ in islice(items, state["position"]):
                pass
            chunk = list(islice(items, batch))
            more = next(items, None) is not None
    except Exception:
        forget(session, session_folder, filename)
        raise
    staged.mkdir(parents=True, exist_ok=True)
    target = staged / f"{state['batches']:06d}.jsonl"
    temporary = target.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        for item in chunk:
            out.write(json.dumps(item_to_json(item), ensure_ascii=False) + "\n")
    os.replace(temporary, target)
    state["position"] += len(chunk)
    state["batches"] += 1
    if more:
        session.imports = {**session.imports, filename: state}
        return Step(False, state["position"])
    summary = apply_staged(session.connection, staged)
    remove_folder(staged)
    state.update(done=True, summary=summary)
    session.imports = {**session.imports, filename: state}
    return Step(True, state["position"], summary)


def forget(session: ExchangeSession, session_folder: Path, filename: str) -> None:
    remove_folder(staged_folder(session_folder, filename))
    session.imports = {k: v for k, v in session.imports.items() if k != filename}


def _staged_items(staged: Path) -> Iterator[Item]:
    for batch in sorted(staged.glob("*.jsonl")):
        with batch.open(encoding="utf-8") as lines:
            for line in lines:
                yield item_from_json(json.loads(line))


def apply_staged(connection: Connection, staged: Path) -> dict[str, Any]:
    """Apply a whole staged file (flushes; the caller commits, or rolls back on an error)."""
    applier = _Applier(connection)
    changes: list[OrderChange] = []
    for item in _staged_items(staged):
        if isinstance(item, CatalogItem):
            applier.product(item)
        elif isinstance(item, Warehouse):
            applier.warehouses[item.id] = item.name
        elif isinstance(item, PriceType):
            applier.price_types[item.id] = item
        elif isinstance(item, Offer):
            applier.offer(item)
        elif isinstance(item, OrderChange):
            changes.append(item)
    summary = applier.finish()
    if changes:
        result = orders.apply_changes(connection, changes)
        summary.update(orders_changed=result.applied, unknown_orders=result.unknown)
    return summary


def _insert_audited(table: Any, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    now = utcnow()
    rows = [{**row, "created_at": now, "updated_at": now} for row in rows]
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = db.session.execute(statement, rows).scalars().all()
    created_in_bulk(db.session, table, [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)])
    return len(ids)


class _Applier:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        config = connection.config
        self.currency = (config.get("currency") or "RUB").upper()
        wanted = [w.strip() for w in (config.get("warehouses") or "").split(",") if w.strip()]
        self.wanted = set(wanted)
        self.price_type = (config.get("price_type") or "").strip()
        self.warehouses: dict[str, str] = {}
        self.price_types: dict[str, PriceType] = {}
        self.pending_products: list[CatalogItem] = []
        self.pending_prices: dict[str, Price] = {}  # by SKU, written a thousand at a time
        self.levels: dict[tuple[str, str], Decimal] = {}
        self.products = self.renamed = self.created = self.priced = self.skipped = 0
        # 1C Ид → SKU, from the rows earlier catalogue imports wrote.
        self.sku_of: dict[str, str] = {
            value: key
            for key, value in db.session.execute(
                select(MappingRow.key, MappingRow.value).where(
                    MappingRow.connection_id == connection.id, MappingRow.table_name == PRODUCTS_TABLE
                )
            )
            if value
        }

    def product(self, item: CatalogItem) -> None:
        self.pending_products.append(item)
        if len(self.pending_products) >= 1000:
            self._write_products()

    def _write_products(self) -> None:
        items = self.pending_products
        self.pending_products = []
        by_sku: dict[str, CatalogItem] = {}
        for item in items:
            sku = item.sku or item.id
            if len(sku) > SKU_LENGTH:
                self.skipped += 1
                continue
            by_sku[sku] = item
        existing = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(list(by_sku))))}
        rows = {
            r.key: r
            for r in db.session.scalars(
                select(MappingRow).where(
                    MappingRow.connection_id == self.connection.id,
                    MappingRow.table_name == PRODUCTS_TABLE,
                    MappingRow.key.in_(list(by_sku)),
                )
            )
        }
        new_products, new_rows = [], []
        for sku, item in by_sku.items():
            name = (item.name or sku)[:200]
            product = existing.get(sku)
            if product is None:
                new_products.append(
                    {
                        "sku": sku,
                        "name": name,
                        "list_price": Decimal(0),
                        "currency": self.currency,
                        "unit": "unit",
                        "tax_rate": Decimal(0),
                        "active": True,
                    }
                )
            elif product.name != name:
                product.name = name
                self.renamed += 1
            row = rows.get(sku)
            if row is None:
                new_rows.append(
                    {"connection_id": self.connection.id, "table_name": PRODUCTS_TABLE, "key": sku, "value": item.id}
                )
            elif row.value != item.id:
                row.value = item.id
            self.sku_of[item.id] = sku
            self.products += 1
        db.session.flush()
        # New products and rows by the thousand in one statement each (the ORM inserts them one by
        # one: 10,000 products took 10 s), audited all the same.
        self.created += _insert_audited(Product.__table__, new_products)
        _insert_audited(MappingRow.__table__, new_rows)

    def offer(self, offer: Offer) -> None:
        sku = offer.sku or self.sku_of.get(offer.id) or self.sku_of.get(offer.product_id)
        if sku is None or len(sku) > SKU_LENGTH:
            self.skipped += 1
            return
        price = self._price(offer)
        if price is not None:
            self.pending_prices[sku] = price
            if len(self.pending_prices) >= 1000:
                self._write_prices()
        stocks = [(w.warehouse_id, w.quantity) for w in offer.warehouses]
        if not stocks and offer.quantity is not None:
            stocks = [(ALL_WAREHOUSES, offer.quantity)]
        for warehouse, quantity in stocks:
            if self.wanted and warehouse not in self.wanted and warehouse != ALL_WAREHOUSES:
                continue
            key = (sku, warehouse)
            # Variants of one product (Ид product#variant) add up under its SKU.
            self.levels[key] = self.levels.get(key, Decimal(0)) + quantity

    def _write_prices(self) -> None:
        prices = self.pending_prices
        self.pending_prices = {}
        for product in db.session.scalars(select(Product).where(Product.sku.in_(list(prices)))):
            price = prices[product.sku]
            currency = self._currency(price.currency)
            if currency and (product.list_price != price.unit_price or product.currency != currency):
                product.list_price, product.currency = price.unit_price, currency
                self.priced += 1

    def _price(self, offer: Offer) -> Price | None:
        if not offer.prices:
            return None
        if not self.price_type:
            return offer.prices[0]
        for price in offer.prices:
            kind = self.price_types.get(price.price_type_id or "")
            if price.price_type_id == self.price_type or (kind is not None and kind.name == self.price_type):
                return price
        return None

    def _currency(self, text: str | None) -> str | None:
        if not text:
            return self.currency
        code = CURRENCY_WORDS.get(text.strip().lower(), text.strip().upper())
        return code if len(code) == 3 and code.isalpha() else None

    def finish(self) -> dict[str, Any]:
        if self.pending_products:
            self._write_products()
        if self.pending_prices:
            self._write_prices()
        changed, product_ids = 0, set()
        now = utcnow()
        if self.levels:
            writer = stock_writer(self.connection, now)
            rows = [
                Level(sku=sku, warehouse=warehouse, on_hand=q, reserved=Decimal(0), available=q, as_of=now)
                for (sku, warehouse), q in self.levels.items()
            ]
            for k in range(0, len(rows), CHUNK):
                writer.add(rows[k : k + CHUNK])
            changed, product_ids = writer.finish()
            self._name_warehouses()
            self.connection.stock_pulled_at = now
            self.connection.stock_cursor = now
            evaluate(product_ids)
        db.session.flush()
        return {
            "products": self.products,
            "created": self.created,
            "renamed": self.renamed,
            "priced": self.priced,
            "stock_levels": len(self.levels),
            "stock_changed": changed,
            "skipped": self.skipped,
        }

    def _name_warehouses(self) -> None:
        names = {**self.warehouses, ALL_WAREHOUSES: "All warehouses (1C)"}
        for warehouse in db.session.scalars(
            select(HubWarehouse).where(
                HubWarehouse.connection_id == self.connection.id, HubWarehouse.code.in_(list(names))
            )
        ):
            name = (names[warehouse.code] or warehouse.code)[:200]
            if warehouse.name != name:
                warehouse.name = name

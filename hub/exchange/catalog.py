"""Importing what 1C uploads (import.xml, offers.xml, order changes): read in bounded batches,
staged on disk, then applied in one transaction — so a long import answers `progress` and goes on
at the next call, and a file that turns out broken (truncated, hostile) changes nothing.

Staging: each call reads the next `import_batch` items of the file into
`<session folder>/.staged/<file>/<n>.jsonl`, starting at the byte where the last call stopped
(the session keeps that position: offset, encoding, the elements open there). When the file
ends, every staged item is applied:
- catalogue products → hub products (created, or renamed) by SKU (Артикул, else 1C's Ид) in any
  case, as the API compares SKUs (a product keeps the hub's spelling), and the
  connection's `products` table row SKU → 1C Ид (what orders are sent with, and how offers that
  name only an Ид find their SKU);
- offers → list prices (the configured price type) and stock levels per 1C warehouse, written as a
  stock pull writes them, then the same alert evaluation a pull runs. A full offers package is the
  whole truth for its warehouses (those it declares or reports stock in): this connection's stock
  there that the package leaves out is set to zero. A package of changes only changes what it lists;
  one without any stock (a prices.xml) changes no stock;
- order changes → the hub invoices and deals (`hub.exchange.orders`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Row, func, or_, select

from connectors.documents import StockLevel as Level
from connectors.onec.commerceml import (
    CatalogItem,
    Item,
    Offer,
    OffersPackage,
    OrderChange,
    Price,
    PriceType,
    Warehouse,
    item_from_json,
    item_to_json,
)
from connectors.onec.commerceml_reader import ReadPosition, read_batch
from hub.audit import insert_audited, update_audited
from hub.exchange import orders
from hub.exchange.files import remove_folder
from hub.extensions import db
from hub.inventory.alerts import evaluate
from hub.inventory.pull import CHUNK
from hub.inventory.writers import held, stock_writer, zero_levels
from hub.models import Connection, ExchangeSession, MappingRow, Product
from hub.models import Warehouse as HubWarehouse
from hub.models.base import utcnow
from hub.money import is_tender

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
    """Read and stage the next batch of `path`, from where the last call stopped; when the file
    ends, apply everything staged. Raises InvalidExchangeFile (staging discarded, the position
    reset) for a broken file."""
    state = dict(session.imports.get(filename) or {"position": 0, "batches": 0, "done": False})
    if state["done"]:
        return Step(True, state["position"], state.get("summary", {}))
    staged = staged_folder(session_folder, filename)
    start = ReadPosition.from_json(state["resume"]) if state.get("resume") else None
    try:
        with path.open("rb") as source:
            chunk, resume = read_batch(source, batch, start)
    except Exception:
        forget(session, session_folder, filename)
        raise
    staged.mkdir(parents=True, exist_ok=True)
    target = staged / f"{state['batches']:06d}.jsonl"
    temporary = target.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(item_to_json(item), ensure_ascii=False) + "\n" for item in chunk)
    os.replace(temporary, target)
    state["position"] += len(chunk)
    state["batches"] += 1
    if resume is not None:
        session.imports = {**session.imports, filename: {**state, "resume": resume.to_json()}}
        return Step(False, state["position"])
    summary = apply_staged(session.connection, staged)
    remove_folder(staged)
    state.update(done=True, summary=summary, resume=None)
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
        elif isinstance(item, OffersPackage):
            applier.full_stock = not item.changes_only
        elif isinstance(item, OrderChange):
            changes.append(item)
    summary = applier.finish()
    if changes:
        result = orders.apply_changes(connection, changes)
        summary.update(orders_changed=result.applied, unknown_orders=result.unknown)
    return summary


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
        self.full_stock = False  # a full offers package: what it leaves out of its warehouses has none
        self.reports_stock = False
        self.products = self.renamed = self.created = self.priced = self.skipped = 0
        # The connection's `products` table rows (SKU → row id, 1C Ид), read once: looking them up a
        # thousand SKUs at a time scanned all of the connection's rows each time (3 s at 20,000).
        self.rows: dict[str, tuple[int, str | None]] = {
            key: (row_id, value)
            for row_id, key, value in db.session.execute(
                select(MappingRow.id, MappingRow.key, MappingRow.value).where(
                    MappingRow.connection_id == connection.id, MappingRow.table_name == PRODUCTS_TABLE
                )
            )
        }
        # 1C Ид → SKU: how offers that name only an Ид find their product.
        self.sku_of: dict[str, str] = {value: key for key, (_, value) in self.rows.items() if value}

    def product(self, item: CatalogItem) -> None:
        self.pending_products.append(item)
        if len(self.pending_products) >= 1000:
            self._write_products()

    def _write_products(self) -> None:
        """A thousand catalogue products: a query for the known ones, then one statement each for
        the new and the changed products and table rows (audited all the same). The ORM
        inserted and updated them one by one: 20,000 products took 10 s."""
        items = self.pending_products
        self.pending_products = []
        # By SKU regardless of case, as the API keeps them unique (`_ensure_sku_free`): 1C's
        # pump-100 is the hub's PUMP-100, not a second product.
        by_sku: dict[str, tuple[str, CatalogItem]] = {}
        for item in items:
            sku = item.sku or item.id
            if len(sku) > SKU_LENGTH:
                self.skipped += 1
                continue
            by_sku[sku.lower()] = (sku, item)
        products = self._products_by_sku([sku for sku, _ in by_sku.values()])
        new_products, renamed, new_rows, moved = [], {}, [], {}
        for key, (sku, item) in by_sku.items():
            name = (item.name or sku)[:200]
            known = products.get(key)
            if known is not None:
                # The hub's spelling from here on: orders, prices and stock name the product by it.
                sku = known.sku
                if known.name != name:
                    renamed[known.id] = {"name": (known.name, name)}
            else:
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
            row = self.rows.get(sku)
            if row is None:
                new_rows.append(
                    {"connection_id": self.connection.id, "table_name": PRODUCTS_TABLE, "key": sku, "value": item.id}
                )
            elif row[1] != item.id:
                moved[row[0]] = {"value": (row[1], item.id)}
                self.rows[sku] = (row[0], item.id)
            self.sku_of[item.id] = sku
            self.products += 1
        self.created += len(insert_audited(db.session, Product.__table__, new_products, "sku"))
        self.renamed += update_audited(db.session, Product.__table__, renamed)
        added = insert_audited(db.session, MappingRow.__table__, new_rows, "key")
        self.rows.update((row["key"], (added[row["key"]], row["value"])) for row in new_rows)
        update_audited(db.session, MappingRow.__table__, moved)

    def _products_by_sku(self, skus: list[str]) -> dict[str, Row]:
        """The products of these SKUs regardless of case, by lower-cased SKU (id, sku, name,
        list_price, currency), in one query. The exact SKUs too: SQLite's lower() folds ASCII only,
        and a Cyrillic SKU written alike must still be found. Of two products that differ in case
        only (made before the rule), the one spelled as asked for, else the older."""
        found: dict[str, Row] = {}
        query = select(Product.id, Product.sku, Product.name, Product.list_price, Product.currency).where(
            or_(Product.sku.in_(skus), func.lower(Product.sku).in_([sku.lower() for sku in skus]))
        )
        asked = set(skus)
        for product in db.session.execute(query.order_by(Product.id)):
            key = product.sku.lower()
            if key not in found or (product.sku in asked and found[key].sku not in asked):
                found[key] = product
        return found

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
        self.reports_stock = self.reports_stock or bool(stocks)
        for warehouse, quantity in stocks:
            if self.wanted and warehouse not in self.wanted and warehouse != ALL_WAREHOUSES:
                continue
            key = (sku, warehouse)
            # Variants of one product (Ид product#variant) add up under its SKU.
            self.levels[key] = self.levels.get(key, Decimal(0)) + quantity

    def _write_prices(self) -> None:
        """A thousand list prices: one query for the products' current prices, one statement for
        the changed ones."""
        prices = self.pending_prices
        self.pending_prices = {}
        changes: dict[int, dict[str, tuple[Any, Any]]] = {}
        products = self._products_by_sku(list(prices))
        for sku, price in prices.items():
            if (product := products.get(sku.lower())) is None:
                continue
            product_id, list_price, currency = product.id, product.list_price, product.currency
            new_currency = self._currency(price.currency)
            if not new_currency:
                continue
            change = {}
            if list_price != price.unit_price:
                change["list_price"] = (list_price, price.unit_price)
            if currency != new_currency:
                change["currency"] = (currency, new_currency)
            if change:
                changes[product_id] = change
        self.priced += update_audited(db.session, Product.__table__, changes)

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
        # A price in what no invoice can be made in (XXX, a fund, a withdrawn currency) is left
        # out as one in no currency is: the API refuses such a product's currency too.
        return code if is_tender(code) else None

    def finish(self) -> dict[str, Any]:
        if self.pending_products:
            self._write_products()
        if self.pending_prices:
            self._write_prices()
        changed, product_ids = 0, set()
        now = utcnow()
        self._spell_levels_as_the_hub()
        left_out = self._left_out() if self.full_stock and self.reports_stock else set()
        if self.levels or left_out:
            rows = [
                Level(sku=sku, warehouse=warehouse, on_hand=q, reserved=Decimal(0), available=q, as_of=now)
                for (sku, warehouse), q in self.levels.items()
            ] + zero_levels(left_out, now)
            with stock_writer(self.connection, now) as writer:
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
            "stock_zeroed": len(left_out),
            "skipped": self.skipped,
        }

    def _spell_levels_as_the_hub(self) -> None:
        """The stock of an offer that writes a product's SKU in another case than the hub goes to
        that product (the stock writers link stock to products by the exact SKU): a query per
        thousand SKUs."""
        skus = list({sku for sku, _ in self.levels})
        spelled: dict[str, str] = {}
        for k in range(0, len(skus), 1000):
            spelled.update((key, p.sku) for key, p in self._products_by_sku(skus[k : k + 1000]).items())
        levels: dict[tuple[str, str], Decimal] = {}
        for (sku, warehouse), quantity in self.levels.items():
            key = (spelled.get(sku.lower(), sku), warehouse)
            levels[key] = levels.get(key, Decimal(0)) + quantity
        self.levels = levels

    def _left_out(self) -> set[tuple[str, str]]:
        """(SKU, warehouse) of this connection's stock, not zero yet, in the warehouses of a full
        package that the package does not list."""
        warehouses = {w for _, w in self.levels} | {w for w in self.warehouses if not self.wanted or w in self.wanted}
        return held(self.connection, warehouses) - self.levels.keys()

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

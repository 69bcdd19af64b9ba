"""Pulling stock levels from a connection into the hub, in bulk.

A pull is incremental (levels changed since the newest `as_of` of the last good pull) when the
connection has pulled before, full otherwise or when asked. Rows are upserted in chunks with one
INSERT … ON CONFLICT statement each (PostgreSQL and SQLite alike), history rows are written only
for levels that changed, and alerts are evaluated once at the end for the products touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from connectors.base import Connector
from connectors.documents import StockLevel as Level
from connectors.errors import ConnectorError
from hub.extensions import db
from hub.models import Connection, Product, RunOutcome, StockHistory, StockLevel, Warehouse
from hub.models.base import utcnow
from hub.sync.connectors import open_connector, registry, secret_values
from hub.sync.history import record_run

log = logging.getLogger(__name__)
CHUNK = 5000


@dataclass
class PullResult:
    connection_id: int
    mode: str  # "full" | "incremental" | "skipped"
    rows: int = 0
    changed: int = 0
    product_ids: set[int] = field(default_factory=set)
    error: str | None = None


def pull_stock(connection_id: int, *, full: bool = False) -> PullResult:
    """Pull one connection's stock and evaluate the alerts it affects. Commits."""
    from hub.inventory.alerts import evaluate

    connection = db.session.get(Connection, connection_id)
    if connection is None or not connection.enabled or connection.stock_paused:
        return PullResult(connection_id, "skipped")
    since = None if full else connection.stock_cursor
    result = PullResult(connection_id, "full" if since is None else "incremental")
    started = utcnow()
    connector = open_connector(connection)
    newest: datetime | None = connection.stock_cursor
    try:
        levels = iter(connector.pull_stock(since))
        while chunk := list(islice(levels, CHUNK)):
            changed, products = _upsert(connection, chunk, started)
            result.rows += len(chunk)
            result.changed += changed
            result.product_ids |= products
            newest = max([newest, *(lv.as_of for lv in chunk)] if newest else [lv.as_of for lv in chunk])
    except ConnectorError as exc:
        db.session.rollback()
        result.error = exc.message
        record_run(
            connection_id=connection_id,
            operation="pull_stock",
            outcome=RunOutcome.FAILED,
            started_at=started,
            exchanges=connector.take_exchanges()[-3:],
            secrets=secret_values(connection),
            error=f"{result.mode} pull failed after {result.rows} rows: {exc.message}",
        )
        db.session.commit()
        log.warning("stock pull from %s failed: %s", connection.name, exc.message)
        return result
    finally:
        connector.close()
    connection.stock_pulled_at = utcnow()
    connection.stock_cursor = newest
    evaluate(result.product_ids if since is not None else None)
    record_run(
        connection_id=connection_id,
        operation="pull_stock",
        outcome=RunOutcome.SUCCESS,
        started_at=started,
        exchanges=connector.take_exchanges()[-3:],
        secrets=secret_values(connection),
        error=None,
    )
    db.session.commit()
    return result


def _upsert(connection: Connection, levels: list[Level], pulled_at: datetime) -> tuple[int, set[int]]:
    """Write one chunk; returns (how many levels changed, the hub product ids among them)."""
    warehouses = _warehouse_ids(connection, {lv.warehouse for lv in levels})
    skus = {lv.sku for lv in levels}
    products = dict(db.session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all())
    keys = [(warehouses[lv.warehouse], lv.sku) for lv in levels]
    before = {
        (w, s): (on_hand, available)
        for w, s, on_hand, available in db.session.execute(
            select(StockLevel.warehouse_id, StockLevel.sku, StockLevel.on_hand, StockLevel.available).where(
                StockLevel.connection_id == connection.id,
                tuple_(StockLevel.warehouse_id, StockLevel.sku).in_(keys),
            )
        )
    }
    rows, history, touched = [], [], set()
    for (warehouse_id, sku), lv in zip(keys, levels, strict=True):
        rows.append(
            {
                "connection_id": connection.id,
                "warehouse_id": warehouse_id,
                "sku": sku,
                "product_id": products.get(sku),
                "on_hand": lv.on_hand,
                "reserved": lv.reserved,
                "available": lv.available,
                "as_of": lv.as_of,
                "pulled_at": pulled_at,
            }
        )
        old = before.get((warehouse_id, sku))
        if old is None or _differs(old, (lv.on_hand, lv.available)):
            history.append(
                {
                    "connection_id": connection.id,
                    "warehouse_id": warehouse_id,
                    "sku": sku,
                    "on_hand": lv.on_hand,
                    "available": lv.available,
                    "as_of": lv.as_of,
                }
            )
            if sku in products:
                touched.add(products[sku])
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(StockLevel.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "warehouse_id", "sku"],
        set_={
            name: statement.excluded[name]
            for name in ("product_id", "on_hand", "reserved", "available", "as_of", "pulled_at")
        },
    )
    db.session.execute(statement, rows)
    if history:
        db.session.execute(StockHistory.__table__.insert(), history)
    return len(history), touched


def _differs(old: tuple[Decimal, Decimal], new: tuple[Decimal, Decimal]) -> bool:
    return any(Decimal(a) != Decimal(b) for a, b in zip(old, new, strict=True))


def _warehouse_ids(connection: Connection, codes: set[str]) -> dict[str, int]:
    found = dict(
        db.session.execute(
            select(Warehouse.code, Warehouse.id).where(
                Warehouse.connection_id == connection.id, Warehouse.code.in_(codes)
            )
        ).all()
    )
    for code in sorted(codes - found.keys()):
        warehouse = Warehouse(connection_id=connection.id, code=code, name=code)
        db.session.add(warehouse)
        db.session.flush()
        found[code] = warehouse.id
    return found


def keeps_stock(connection_type: str) -> bool:
    """Whether the connector type can pull stock at all."""
    cls = registry().get(connection_type)
    return cls.pull_stock is not Connector.pull_stock


def due_connections(now: datetime | None = None) -> list[int]:
    """Connections whose scheduled pull is due."""
    now = now or utcnow()
    due = []
    for connection in db.session.scalars(
        select(Connection).where(Connection.enabled.is_(True), Connection.stock_paused.is_(False))
    ):
        if not keeps_stock(connection.type):
            continue
        last = connection.stock_pulled_at
        if last is None or (now - last).total_seconds() >= connection.stock_interval_seconds:
            due.append(connection.id)
    return due

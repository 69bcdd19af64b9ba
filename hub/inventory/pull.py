"""Pulling stock levels from a connection into the hub, in bulk.

A pull is incremental (levels changed since the newest `as_of` of the last good pull) when the
connection has pulled before, full otherwise or when asked. History rows are written only for
levels that changed, and alerts are evaluated once at the end: for every rule after a full pull,
for the products whose levels changed after an incremental one.

How rows get in (`StockWriter`):
- PostgreSQL: streamed with COPY into a temporary table as the pages arrive, then three set-based
  statements (history of what changed, upsert of every level, the changed products): 200,000
  levels in a few seconds, where an INSERT … ON CONFLICT per chunk of rows took 15 s.
- SQLite (the embedded default): one INSERT … ON CONFLICT per chunk of rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from connectors.base import Exchange
from connectors.documents import StockLevel as Level
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.errors import Conflict
from hub.extensions import db
from hub.models import Connection, Product, RunOutcome, StockHistory, StockLevel, Warehouse
from hub.models.base import utcnow
from hub.sync import jobs, outbox
from hub.sync.connectors import open_connector, registry, secret_values
from hub.sync.history import record_run
from hub.sync.queue import enqueue_once, get_queue

log = logging.getLogger(__name__)
CHUNK = 5000
# Lists in answers kept for the run history: a page of 5,000 levels says no more than its first few.
HISTORY_ITEMS = 20
# What a text value must escape in COPY's text format.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


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
    writer = stock_writer(connection, started)
    try:
        levels = iter(connector.pull_stock(since))
        while chunk := list(islice(levels, CHUNK)):
            writer.add(chunk)
            result.rows += len(chunk)
            newest = max([newest, *(lv.as_of for lv in chunk)] if newest else [lv.as_of for lv in chunk])
        result.changed, result.product_ids = writer.finish()
    except ConnectorError as exc:
        db.session.rollback()
        result.error = exc.message
        if isinstance(exc, UnsupportedOperation):
            # The type keeps stock but this connection's setup does not (a 1C service whose mapping
            # names no stock operation): stop the schedule instead of failing every round.
            connection.stock_paused = True
            result.error += "; stock pulls of this connection are paused"
        record_run(
            connection_id=connection_id,
            operation="pull_stock",
            outcome=RunOutcome.FAILED,
            started_at=started,
            exchanges=_shortened(connector.take_exchanges()[-3:]),
            secrets=secret_values(connection),
            error=f"{result.mode} pull failed after {result.rows} rows: {result.error}",
        )
        db.session.commit()
        log.warning("stock pull from %s failed: %s", connection.name, result.error)
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
        exchanges=_shortened(connector.take_exchanges()[-3:]),
        secrets=secret_values(connection),
        error=None,
    )
    db.session.commit()
    return result


def _shortened(exchanges: list[Exchange]) -> list[Exchange]:
    """The exchanges with long lists cut to their first items: the history shows what a page looked
    like, and redacting 5,000 rows per page for it cost a second per pull."""

    def cut(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        if isinstance(value, list) and len(value) > HISTORY_ITEMS:
            return [*value[:HISTORY_ITEMS], f"… {len(value) - HISTORY_ITEMS} more"]
        return value

    return [replace(ex, response=cut(ex.response)) for ex in exchanges]


class StockWriter:
    """Takes a pull's levels chunk by chunk; `finish` says how many changed and which products."""

    def __init__(self, connection: Connection, pulled_at: datetime) -> None:
        self.connection = connection
        self.pulled_at = pulled_at

    def add(self, levels: list[Level]) -> None:
        raise NotImplementedError

    def finish(self) -> tuple[int, set[int]]:
        raise NotImplementedError


def stock_writer(connection: Connection, pulled_at: datetime) -> StockWriter:
    if db.engine.dialect.name == "postgresql":
        return PostgresCopyWriter(connection, pulled_at)
    return ChunkWriter(connection, pulled_at)


class ChunkWriter(StockWriter):
    """One INSERT … ON CONFLICT per chunk, comparing with the stored levels first (SQLite)."""

    def __init__(self, connection: Connection, pulled_at: datetime) -> None:
        super().__init__(connection, pulled_at)
        self.changed = 0
        self.products: set[int] = set()

    def add(self, levels: list[Level]) -> None:
        changed, products = _upsert(self.connection, levels, self.pulled_at)
        self.changed += changed
        self.products |= products

    def finish(self) -> tuple[int, set[int]]:
        return self.changed, self.products


class PostgresCopyWriter(StockWriter):
    """COPY into a temporary table while the pages come in, then set-based SQL once at the end."""

    def __init__(self, connection: Connection, pulled_at: datetime) -> None:
        super().__init__(connection, pulled_at)
        session_connection = db.session.connection()
        session_connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_stock (warehouse_id integer, sku varchar(64), "
            "on_hand numeric(18, 4), reserved numeric(18, 4), available numeric(18, 4), as_of timestamptz, "
            "seq bigserial) ON COMMIT DROP"
        )
        session_connection.exec_driver_sql("TRUNCATE incoming_stock")
        self.raw = session_connection.connection.driver_connection

    def add(self, levels: list[Level]) -> None:
        warehouses = _warehouse_ids(self.connection, {lv.warehouse for lv in levels})
        # COPY's text format written out here, one block per chunk: psycopg's write_row adapted
        # every value in turn and cost about a second per 200,000 levels.
        times: dict[datetime, str] = {}
        lines = []
        for lv in levels:
            stamp = times.get(lv.as_of)
            if stamp is None:
                stamp = times[lv.as_of] = lv.as_of.isoformat()
            lines.append(
                f"{warehouses[lv.warehouse]}\t{lv.sku.translate(COPY_ESCAPES)}\t{lv.on_hand}\t{lv.reserved}"
                f"\t{lv.available}\t{stamp}\n"
            )
        with (
            self.raw.cursor() as cursor,
            cursor.copy(
                "COPY incoming_stock (warehouse_id, sku, on_hand, reserved, available, as_of) FROM STDIN"
            ) as copy,
        ):
            copy.write("".join(lines).encode())

    def finish(self) -> tuple[int, set[int]]:
        params = {"connection_id": self.connection.id, "pulled_at": self.pulled_at}
        run = db.session.execute
        # Temporary tables have no statistics until analysed: without them a delta of 2,000 rows is
        # joined to the whole catalogue by hash instead of by index.
        run(text("ANALYZE incoming_stock"))
        # Each level once (the last report wins, should a page boundary have moved and shown a level
        # twice), with the id of its stored row and whether it changed.
        run(
            text(
                "CREATE TEMPORARY TABLE latest_stock ON COMMIT DROP AS "
                "SELECT i.warehouse_id, i.sku, i.on_hand, i.reserved, i.available, i.as_of, s.id AS level_id, "
                "(s.id IS NULL OR s.on_hand <> i.on_hand OR s.available <> i.available) AS changed "
                "FROM (SELECT DISTINCT ON (warehouse_id, sku) * FROM incoming_stock "
                "ORDER BY warehouse_id, sku, seq DESC) AS i "
                "LEFT JOIN stock_levels AS s ON s.connection_id = :connection_id "
                "AND s.warehouse_id = i.warehouse_id AND s.sku = i.sku"
            ),
            params,
        )
        run(text("ANALYZE latest_stock"))
        run(
            text(
                "INSERT INTO stock_history (connection_id, warehouse_id, sku, on_hand, available, as_of) "
                "SELECT :connection_id, warehouse_id, sku, on_hand, available, as_of FROM latest_stock WHERE changed"
            ),
            params,
        )
        # New levels by INSERT, known ones by UPDATE on the id found above: no conflict can arise
        # between the two, as pulls of one connection never overlap (one job id).
        run(
            text(
                "INSERT INTO stock_levels (connection_id, warehouse_id, sku, product_id, on_hand, reserved, "
                "available, as_of, pulled_at) "
                "SELECT :connection_id, l.warehouse_id, l.sku, p.id, l.on_hand, l.reserved, l.available, l.as_of, "
                ":pulled_at FROM latest_stock AS l LEFT JOIN products AS p ON p.sku = l.sku WHERE l.level_id IS NULL"
            ),
            params,
        )
        run(
            text(
                "UPDATE stock_levels AS s SET product_id = p.id, on_hand = l.on_hand, reserved = l.reserved, "
                "available = l.available, as_of = l.as_of, pulled_at = :pulled_at "
                "FROM latest_stock AS l LEFT JOIN products AS p ON p.sku = l.sku WHERE s.id = l.level_id"
            ),
            params,
        )
        changed = run(text("SELECT count(*) FROM latest_stock WHERE changed")).scalar_one()
        products = set(
            run(
                text("SELECT DISTINCT p.id FROM latest_stock AS l JOIN products AS p ON p.sku = l.sku WHERE l.changed")
            ).scalars()
        )
        run(text("DROP TABLE latest_stock"))
        run(text("TRUNCATE incoming_stock"))
        return changed, products


def _upsert(connection: Connection, levels: list[Level], pulled_at: datetime) -> tuple[int, set[int]]:
    """Write one chunk; returns (how many levels changed, the hub product ids among them)."""
    warehouses = _warehouse_ids(connection, {lv.warehouse for lv in levels})
    skus = {lv.sku for lv in levels}
    products = dict(db.session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all())
    keys = [(warehouses[lv.warehouse], lv.sku) for lv in levels]
    # By SKU, not by (warehouse, SKU) pairs: PostgreSQL answers a row-value IN list of thousands
    # of pairs with a scan per chunk (13 s a chunk at 200,000 rows), an IN list of SKUs from the
    # index. The few rows of other warehouses it brings along are ignored below.
    before = {
        (w, s): (on_hand, available)
        for w, s, on_hand, available in db.session.execute(
            select(StockLevel.warehouse_id, StockLevel.sku, StockLevel.on_hand, StockLevel.available).where(
                StockLevel.connection_id == connection.id, StockLevel.sku.in_(skus)
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
    statement = sqlite.insert(StockLevel.__table__)
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
    return registry().supports(connection_type, "pull_stock")


def pull_job_id(connection_id: int) -> str:
    """One id per connection: a pull asked for while one is queued or running joins it."""
    return f"pull-stock-{connection_id}"


def start_pull(connection: Connection, full: bool = False) -> bool:
    """Queue a pull of the connection's stock now; False when one is already queued or running.
    Conflict for a type that keeps no stock."""
    if not keeps_stock(connection.type):
        raise Conflict(f"{connection.name} ({connection.type}) does not keep stock.")
    queued = enqueue_once(get_queue(), pull_job_id(connection.id), jobs.pull_stock, connection.id, full, timeout=3600)
    outbox.kick()  # wakes the embedded worker when there is one
    return queued


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

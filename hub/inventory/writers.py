"""How a pull's levels get into the stock tables: chunk by chunk, then `finish` says how many levels
changed and which hub products they belong to. A writer is a context manager: leaving it closes
whatever it holds open on the session's connection (a COPY), so that a failed pull can roll back.

- `FirstPullWriter` (PostgreSQL, the connection has no levels yet): every level is new, so the
  rows are COPYed straight into stock_levels while the pages arrive, in one COPY kept open across
  chunks: PostgreSQL stores them while the next pages are read and parsed, on the other core.
  History is made from the stored levels at the end, in the same transaction.
- `StagedWriter` (PostgreSQL, levels known): COPY into a temporary table, then set-based
  statements compare with the stored levels and write history, new levels and changed ones.
- `ChunkWriter` (SQLite, the embedded default): one INSERT … ON CONFLICT per chunk.

The stock tables have no foreign keys (a trigger call per row: half of PostgreSQL's time for a
first pull). The PostgreSQL writers do what the keys did on insert, once per pull: they take the
connection's warehouses and the products they link FOR KEY SHARE, so that a warehouse or product
deleted meanwhile waits for the pull's commit, and its delete trigger (migration 0013) then sees
the rows the pull wrote. SQLite has one writer at a time.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from types import TracebackType

from sqlalchemy import exists, or_, select, text
from sqlalchemy.dialects import sqlite

from connectors.documents import StockLevel as Level
from hub.extensions import db
from hub.models import Connection, Product, StockHistory, StockLevel, Warehouse
from hub.plain_paths import plain

# What a text value must escape in COPY's text format.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


class StockWriter:
    """Takes a pull's levels chunk by chunk; `finish` says how many changed and which products."""

    def __init__(self, connection: Connection, pulled_at: datetime) -> None:
        self.connection = connection
        self.pulled_at = pulled_at

    def add(self, levels: list[Level]) -> None:
        raise NotImplementedError

    def finish(self) -> tuple[int, set[int]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the writer holds on the connection. A failed pull's rows written so far are
        in its transaction, which the caller rolls back: nothing of it is left."""

    def __enter__(self) -> StockWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def stock_writer(connection: Connection, pulled_at: datetime) -> StockWriter:
    if db.engine.dialect.name != "postgresql":
        return ChunkWriter(connection, pulled_at)
    known = db.session.scalar(select(exists().where(StockLevel.connection_id == connection.id)))
    if plain("copy"):
        return StagedWriter(connection, pulled_at, analyse=not known)
    if known:
        return StagedWriter(connection, pulled_at)
    return FirstPullWriter(connection, pulled_at)


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


class FirstPullWriter(StockWriter):
    """A connection's first levels: COPY straight into stock_levels, history from them at the end.

    Correct only while the connection has no levels (chosen by `stock_writer` in the pull's
    transaction; pulls of one connection never overlap). A level reported twice (a page boundary
    that moved while the pages were read) is stored once, with its last report, as the staged path
    does. Everything is in the pull's one transaction: a pull that dies leaves nothing, and its
    re-run is a first pull again. It stores what `StagedWriter` would (`HUB_PLAIN_PATHS=copy`
    takes that path), in two thirds of its time (docs/performance.md, "Mechanisms and what they
    pay")."""

    def __init__(self, connection: Connection, pulled_at: datetime) -> None:
        super().__init__(connection, pulled_at)
        _hold_warehouses(connection)
        self.raw = db.session.connection().connection.driver_connection
        # The whole catalogue's ids by SKU, read once (asking per chunk would stop the COPY), and
        # held for the links stored. Through the driver: 100,000 rows cost the ORM's result 0.3 s.
        with self.raw.cursor() as cursor:
            cursor.execute("SELECT sku, id FROM products" + ("" if plain("keys") else " FOR KEY SHARE"))
            self.products: dict[str, int] = dict(cursor.fetchall())
        self.warehouses: dict[str, int] = {}
        self.seen: dict[int, set[str]] = {}  # the SKUs stored so far, per warehouse id
        self.again: dict[tuple[int, str], Level] = {}  # later reports of levels already stored
        self.touched: set[int] = set()
        self.stored = 0
        self.suffix = f"\t{self.pulled_at.isoformat()}\n"
        self.prefix = f"{connection.id}\t"
        self.copying = contextlib.ExitStack()
        self.copy = None

    def add(self, levels: list[Level]) -> None:
        codes = {lv.warehouse for lv in levels} - self.warehouses.keys()
        if codes:
            # A query cannot run while the COPY is open: end it, look up, open another.
            self._end_copy()
            self.warehouses.update(_warehouse_ids(self.connection, codes))
        products, warehouses, seen, prefix, suffix = self.products, self.warehouses, self.seen, self.prefix, self.suffix
        lines = []
        for lv in levels:
            warehouse_id = warehouses[lv.warehouse]
            skus = seen.get(warehouse_id)
            if skus is None:
                skus = seen[warehouse_id] = set()
            if lv.sku in skus:
                self.again[(warehouse_id, lv.sku)] = lv
                continue
            skus.add(lv.sku)
            product_id = products.get(lv.sku)
            if product_id is None:
                product = NULL
            else:
                product = product_id
                self.touched.add(product_id)
            lines.append(
                f"{prefix}{warehouse_id}\t{lv.sku.translate(COPY_ESCAPES)}\t{product}"
                f"\t{lv.on_hand}\t{lv.reserved}\t{lv.available}\t{lv.as_of.isoformat()}{suffix}"
            )
        self.stored += len(lines)
        if lines:
            self._copy().write("".join(lines).encode())

    def _copy(self):
        if self.copy is None:
            cursor = self.copying.enter_context(self.raw.cursor())
            self.copy = self.copying.enter_context(
                cursor.copy("""
                    COPY stock_levels (
                        connection_id, warehouse_id, sku, product_id, on_hand, reserved, available, as_of, pulled_at
                    ) FROM STDIN
                """)
            )
        return self.copy

    def _end_copy(self) -> None:
        self.copy = None
        self.copying.close()

    def close(self) -> None:
        self._end_copy()

    def finish(self) -> tuple[int, set[int]]:
        self._end_copy()
        cid = self.connection.id
        for (warehouse_id, sku), lv in self.again.items():
            db.session.execute(
                text("""
                    UPDATE stock_levels
                    SET on_hand = :on_hand, reserved = :reserved, available = :available, as_of = :as_of
                    WHERE connection_id = :cid AND warehouse_id = :warehouse_id AND sku = :sku
                """),
                {
                    "on_hand": lv.on_hand,
                    "reserved": lv.reserved,
                    "available": lv.available,
                    "as_of": lv.as_of,
                    "cid": cid,
                    "warehouse_id": warehouse_id,
                    "sku": sku,
                },
            )
        # Every level is new: each one's first history row.
        db.session.execute(
            text("""
                INSERT INTO stock_history (connection_id, warehouse_id, sku, on_hand, available, as_of)
                SELECT connection_id, warehouse_id, sku, on_hand, available, as_of
                FROM stock_levels
                WHERE connection_id = :cid
            """),
            {"cid": cid},
        )
        # The table has just grown by a whole catalogue the planner knows nothing of: the next
        # pull's joins would be planned for the few levels its statistics count (hashing every
        # level, where a 1 % delta needs an index look-up per changed one).
        db.session.execute(text("ANALYZE stock_levels"))
        return self.stored, self.touched


class StagedWriter(StockWriter):
    """COPY into a temporary table while the pages come in, then set-based SQL once at the end."""

    def __init__(self, connection: Connection, pulled_at: datetime, analyse: bool = False) -> None:
        super().__init__(connection, pulled_at)
        self.analyse = analyse
        _hold_warehouses(connection)
        session_connection = db.session.connection()
        session_connection.exec_driver_sql("""
            CREATE TEMPORARY TABLE IF NOT EXISTS incoming_stock (
                warehouse_id integer, sku varchar(64), on_hand numeric(18, 4), reserved numeric(18, 4),
                available numeric(18, 4), as_of timestamptz, seq bigserial
            ) ON COMMIT DROP
        """)
        session_connection.exec_driver_sql("TRUNCATE incoming_stock")
        self.raw = session_connection.connection.driver_connection

    def add(self, levels: list[Level]) -> None:
        warehouses = _warehouse_ids(self.connection, {lv.warehouse for lv in levels})
        # COPY's text format written out here, one block per chunk: psycopg's write_row adapted
        # every value in turn and cost about a second per 200,000 levels.
        lines = [
            f"{warehouses[lv.warehouse]}\t{lv.sku.translate(COPY_ESCAPES)}\t{lv.on_hand}\t{lv.reserved}\t{lv.available}"
            f"\t{lv.as_of.isoformat()}\n"
            for lv in levels
        ]
        with (
            self.raw.cursor() as cursor,
            cursor.copy("""
                COPY incoming_stock (warehouse_id, sku, on_hand, reserved, available, as_of) FROM STDIN
            """) as copy,
        ):
            copy.write("".join(lines).encode())

    def finish(self) -> tuple[int, set[int]]:
        params = {"connection_id": self.connection.id, "pulled_at": self.pulled_at}
        run = db.session.execute
        # Temporary tables have no statistics until analysed: without them a delta of 2,000 rows is
        # joined to the whole catalogue by hash instead of by index.
        run(text("ANALYZE incoming_stock"))
        # The levels are read by index from a table every pull keeps in memory; priced as disk
        # seeks (the default 4), 2,000 look-ups lost to hashing all 200,000 levels and every
        # product (0.15 s instead of 0.02 s of a 1 % delta).
        run(text("SET LOCAL random_page_cost = 1.1"))
        # Each level once (the last report wins, should a page boundary have moved and shown a level
        # twice), with the id of its stored row, whether it changed, and the product its SKU is now
        # (joined once here rather than by each statement below).
        run(
            text("""
                CREATE TEMPORARY TABLE latest_stock ON COMMIT DROP AS
                SELECT i.warehouse_id, i.sku, i.on_hand, i.reserved, i.available, i.as_of,
                       s.id AS level_id, s.product_id AS linked_product, p.id AS product_id,
                       (s.id IS NULL OR s.on_hand <> i.on_hand OR s.available <> i.available) AS changed
                FROM (
                    SELECT DISTINCT ON (warehouse_id, sku) * FROM incoming_stock
                    ORDER BY warehouse_id, sku, seq DESC
                ) AS i
                LEFT JOIN stock_levels AS s
                    ON s.connection_id = :connection_id AND s.warehouse_id = i.warehouse_id AND s.sku = i.sku
                LEFT JOIN products AS p ON p.sku = i.sku
            """),
            params,
        )
        run(text("ANALYZE latest_stock"))
        run(
            text("""
                INSERT INTO stock_history (connection_id, warehouse_id, sku, on_hand, available, as_of)
                SELECT :connection_id, warehouse_id, sku, on_hand, available, as_of
                FROM latest_stock
                WHERE changed
            """),
            params,
        )
        # The products that levels are about to be linked to, held as a foreign key would (links
        # kept as they were need no check, as with a key). One deleted since the join above makes
        # the statements below fail their check: the pull fails and the next one links no product.
        run(
            text("""
                SELECT id FROM products
                WHERE id IN (SELECT product_id FROM latest_stock WHERE product_id IS DISTINCT FROM linked_product)
                FOR KEY SHARE
            """)
        )
        # New levels by INSERT, known ones by UPDATE on the id found above: no conflict can arise
        # between the two, as pulls of one connection never overlap (one job id).
        run(
            text("""
                INSERT INTO stock_levels (
                    connection_id, warehouse_id, sku, product_id, on_hand, reserved, available, as_of, pulled_at
                )
                SELECT :connection_id, warehouse_id, sku, product_id, on_hand, reserved, available, as_of, :pulled_at
                FROM latest_stock
                WHERE level_id IS NULL
            """),
            params,
        )
        run(
            text("""
                UPDATE stock_levels AS s
                SET product_id = l.product_id, on_hand = l.on_hand, reserved = l.reserved,
                    available = l.available, as_of = l.as_of, pulled_at = :pulled_at
                FROM latest_stock AS l
                WHERE s.id = l.level_id
            """),
            params,
        )
        changed = run(text("SELECT count(*) FROM latest_stock WHERE changed")).scalar_one()
        products = set(
            run(text("SELECT DISTINCT product_id FROM latest_stock WHERE changed AND product_id IS NOT NULL")).scalars()
        )
        # Dropped now, not at the commit, for another pull in this transaction; incoming_stock is
        # emptied by the next writer as it starts.
        run(text("DROP TABLE latest_stock"))
        if self.analyse:
            run(text("ANALYZE stock_levels"))
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


def _hold_warehouses(connection: Connection) -> None:
    """Take the connection's warehouses FOR KEY SHARE until the pull commits (those it creates are
    its own until then)."""
    if plain("keys"):
        return
    db.session.execute(
        select(Warehouse.id).where(Warehouse.connection_id == connection.id).with_for_update(read=True, key_share=True)
    ).all()


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


def held(connection: Connection, warehouses: set[str] | None = None) -> set[tuple[str, str]]:
    """(SKU, warehouse code) of the connection's stock that is not zero (in `warehouses` only, if
    given). What of it a read that reports everything the target holds leaves out, the target
    holds none of any more (Odoo deletes an empty quant; 1C leaves a product out of a full offers
    package)."""
    query = (
        select(StockLevel.sku, Warehouse.code)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(
            StockLevel.connection_id == connection.id,
            or_(StockLevel.on_hand != 0, StockLevel.available != 0, StockLevel.reserved != 0),
        )
    )
    if warehouses is not None:
        query = query.where(Warehouse.code.in_(list(warehouses)))
    return {(sku, code) for sku, code in db.session.execute(query)}


def zero_levels(keys: set[tuple[str, str]], as_of: datetime) -> list[Level]:
    """Levels of nothing for these (SKU, warehouse code) keys, in a stable order."""
    zero = Decimal(0)
    return [Level(sku, code, zero, zero, zero, as_of) for sku, code in sorted(keys)]

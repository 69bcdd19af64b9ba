"""The stock tables keyed by migration 0013's statement triggers (as deployed) against their plain
path, the foreign keys as they were before (hub/inventory/stock_keys.py): the same pulls, strays
and deletes leave the same rows and fail with the same SQLSTATE both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from connectors.documents import StockLevel as Level
from connectors.mini_ledger import MiniLedgerConnector
from hub.extensions import db
from hub.inventory.pull import pull_stock
from hub.inventory.stock_keys import use_foreign_keys
from hub.models import Connection, Product, StockHistory, StockLevel, Warehouse
from hub.models.base import utcnow
from tests.conftest import LEDGER_KEY, make_connection

AT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
LEVELS = [
    Level(sku, wh, Decimal(q), Decimal(0), Decimal(q), AT)
    for sku, wh, q in [("PUMP", "WH1", 5), ("PUMP", "WH2", 6), ("VALVE", "WH1", 2)]
]


def _rows(connection_id: int) -> tuple[list, int]:
    levels = db.session.execute(
        select(Warehouse.code, StockLevel.sku, StockLevel.product_id.is_not(None))
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(StockLevel.connection_id == connection_id)
        .order_by(Warehouse.code, StockLevel.sku)
    ).all()
    history = db.session.scalar(
        select(db.func.count()).select_from(StockHistory).where(StockHistory.connection_id == connection_id)
    )
    return [tuple(r) for r in levels], history


def _refused(statement) -> str | None:
    """The SQLSTATE the statement fails with (None if it went through, which it must not)."""
    try:
        db.session.execute(statement)
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        return error.orig.sqlstate
    db.session.rollback()
    return None


def _story(app, ledger, name: str) -> list:
    """Pull, try every kind of stray, then delete a product, a warehouse and the connection."""
    config = {"base_url": ledger.url, "api_key": LEDGER_KEY, "timeout": 2}
    connection_id = make_connection(app, name, "mini_ledger", config)
    other_id = make_connection(app, f"{name} (other)", "mini_ledger", config)
    seen: list = []
    with app.app_context():
        pump = Product(sku="PUMP", name="Pump", list_price=Decimal(100), currency="EUR")
        valve = Product(sku="VALVE", name="Valve", list_price=Decimal(10), currency="EUR")
        db.session.add_all([pump, valve])
        db.session.commit()
        pump_id = pump.id
        assert pull_stock(connection_id, full=True).error is None
        seen.append(_rows(connection_id))
        wh1 = db.session.scalar(
            select(Warehouse.id).where(Warehouse.connection_id == connection_id, Warehouse.code == "WH1")
        )
        stray = {"warehouse_id": wh1, "sku": "X", "on_hand": 1, "available": 1, "as_of": utcnow()}
        level = {"reserved": 0, "pulled_at": utcnow(), **stray}
        seen.append(
            [
                _refused(StockLevel.__table__.insert().values(connection_id=other_id, **level)),
                _refused(StockLevel.__table__.insert().values(connection_id=connection_id, product_id=-1, **level)),
                _refused(StockHistory.__table__.insert().values(connection_id=other_id, **stray)),
                _refused(update(StockLevel).values(connection_id=other_id)),
                _refused(update(StockLevel).values(product_id=0)),
                _refused(update(StockHistory).values(connection_id=other_id)),
            ]
        )
        for statement in (
            delete(Product).where(Product.id == pump_id),
            delete(Warehouse).where(Warehouse.id == wh1),
            delete(Connection).where(Connection.id == connection_id),
        ):
            db.session.execute(statement)
            db.session.commit()
            seen.append(_rows(connection_id))
        db.session.execute(delete(Product))
        db.session.execute(delete(Connection).where(Connection.id == other_id))
        db.session.commit()
    return seen


@pytest.mark.postgresql  # SQLite's foreign keys cost no trigger call per row: it keeps row triggers
def test_the_key_triggers_keep_what_the_foreign_keys_kept(app, ledger, monkeypatch):
    monkeypatch.setattr(MiniLedgerConnector, "pull_stock", lambda self, since=None: iter(LEVELS))
    stories = {}
    try:
        for real in (False, True):
            # The plain path as bench/stock_pull.py takes it: real keys, which lock what a row
            # refers to themselves, so the pull takes no FOR KEY SHARE of its own.
            monkeypatch.setenv("HUB_PLAIN_PATHS", "keys" if real else "")
            with app.app_context(), db.engine.begin() as conn:
                use_foreign_keys(conn, real)
            stories[real] = _story(app, ledger, f"Ledger {real}")
    finally:
        with app.app_context(), db.engine.begin() as conn:
            use_foreign_keys(conn, False)

    assert stories[False] == stories[True]
    pulled, refusals, product_gone, warehouse_gone, connection_gone = stories[False]
    assert pulled == ([("WH1", "PUMP", True), ("WH1", "VALVE", True), ("WH2", "PUMP", True)], 3)
    assert refusals == ["23503"] * 6  # foreign_key_violation, every one
    assert product_gone == ([("WH1", "PUMP", False), ("WH1", "VALVE", True), ("WH2", "PUMP", False)], 3)
    assert warehouse_gone == ([("WH2", "PUMP", False)], 1)
    assert connection_gone == ([], 0)

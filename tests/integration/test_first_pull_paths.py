"""A connection's first stock pull on PostgreSQL, COPYed straight into stock_levels through one COPY
kept open (hub/inventory/writers.py, FirstPullWriter), against its plain path, staged like every
later pull (HUB_PLAIN_PATHS=copy): the same levels, links to products, history and result, with
a level reported twice and a SKU that needs COPY's escapes among them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.documents import StockLevel as Level
from connectors.mini_ledger import MiniLedgerConnector
from hub.extensions import db
from hub.inventory import pull as pull_module
from hub.inventory.pull import pull_stock
from hub.models import Product, StockHistory, StockLevel, Warehouse
from tests.conftest import LEDGER_KEY, make_connection

AS_OF = "2026-11-01T08:00:00+00:00"


def _stored(connection_id: int) -> tuple[list, list]:
    levels = db.session.execute(
        select(Warehouse.code, StockLevel.sku, StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved,
               StockLevel.available, StockLevel.as_of)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(StockLevel.connection_id == connection_id)
        .order_by(Warehouse.code, StockLevel.sku)
    ).all()  # fmt: skip
    history = db.session.execute(
        select(Warehouse.code, StockHistory.sku, StockHistory.on_hand, StockHistory.available, StockHistory.as_of)
        .join(Warehouse, Warehouse.id == StockHistory.warehouse_id)
        .where(StockHistory.connection_id == connection_id)
        .order_by(Warehouse.code, StockHistory.sku, StockHistory.on_hand)
    ).all()
    return [tuple(r) for r in levels], [tuple(r) for r in history]


@pytest.mark.postgresql  # SQLite has one writer for every pull
def test_a_first_pull_copied_straight_in_stores_what_a_staged_one_does(app, ledger, monkeypatch):
    from datetime import datetime

    at = datetime.fromisoformat(AS_OF)
    levels = [
        Level(sku, wh, Decimal(q), Decimal(1), Decimal(q - 1), at)
        for sku, wh, q in [("PUMP", "WH1", 5), ("A\\tb", "WH1", 2), ("B", "WH2", 3), ("PUMP", "WH2", 9)]
    ] + [Level("PUMP", "WH1", Decimal(7), Decimal(0), Decimal(7), at)]  # reported again: the last one wins
    monkeypatch.setattr(pull_module, "CHUNK", 2)
    monkeypatch.setattr(MiniLedgerConnector, "pull_stock", lambda self, since=None: iter(levels))
    with app.app_context():
        db.session.add(Product(sku="PUMP", name="Pump", list_price=Decimal(100), currency="EUR"))
        db.session.commit()
    config = {"base_url": ledger.url, "api_key": LEDGER_KEY, "timeout": 2}
    results = {}
    for plain_paths in ("", "copy"):
        monkeypatch.setenv("HUB_PLAIN_PATHS", plain_paths)
        connection_id = make_connection(app, f"Ledger {plain_paths or 'fast'}", "mini_ledger", config)
        with app.app_context():
            result = pull_stock(connection_id, full=True)
            results[plain_paths] = ((result.rows, result.changed, result.error, result.product_ids),
                                    _stored(connection_id))  # fmt: skip

    assert results[""] == results["copy"]
    (rows, changed, error, _), (stored, history) = results[""]
    assert (rows, changed, error, len(stored), len(history)) == (5, 4, None, 4, 4)
    # Stored as the target wrote it: unescaped, COPY would read the backslash and t as a tab.
    skus = sorted((code, sku) for code, sku, *_ in stored)
    assert skus == [("WH1", "A\\tb"), ("WH1", "PUMP"), ("WH2", "B"), ("WH2", "PUMP")]

"""A catalogue-sized pull: 100,000 SKUs × 2 warehouses from the Mini Ledger over HTTP, every level
stored with its history and the alerts evaluated; then a small incremental pull. How long it takes
is measured in bench/stock_pull.py, never here."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from hub.extensions import db
from hub.inventory.pull import pull_stock
from hub.models import RunOutcome, StockAlert, StockHistory, StockLevel, SyncRun, Warehouse
from tests.conftest import LEDGER_KEY, make_connection

SKUS = 100_000
WAREHOUSES = ("WH-A", "WH-B")
LOW = "SKU-042042"


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_full_pull_of_100k_skus_in_2_warehouses_stores_everything_and_raises_the_one_alert(app, call, ledger):
    ledger.ledger.set_stock(
        [
            {
                "sku": f"SKU-{i:06d}",
                "warehouse": wh,
                "on_hand": 2 if f"SKU-{i:06d}" == LOW else 100 + i % 50,
                "reserved": 1,
            }
            for i in range(SKUS)
            for wh in WAREHOUSES
        ]
    )
    product = call("admin").post(
        "/api/v1/products", json={"sku": LOW, "name": "Scarce part", "list_price": "5", "currency": "EUR"}
    )
    assert product.status_code == 201, product.json
    rule = call("operations").post(
        "/api/v1/reorder-rules", json={"product_id": product.json["id"], "reorder_point": 10, "target_level": 40}
    )
    assert rule.status_code == 201, rule.json
    connection_id = make_connection(
        app, "Big ledger", "mini_ledger", {"base_url": ledger.url, "api_key": LEDGER_KEY, "timeout": 60}
    )

    with app.app_context():
        result = pull_stock(connection_id, full=True)
        assert (result.mode, result.rows, result.changed, result.error) == ("full", 200_000, 200_000, None)
        assert count(StockLevel) == 200_000
        assert count(StockHistory) == 200_000
        assert sorted(db.session.scalars(select(Warehouse.code))) == list(WAREHOUSES)
        assert count(StockLevel, StockLevel.product_id.is_not(None)) == 2  # only the one SKU is a hub product
        sample = db.session.scalar(
            select(StockLevel).where(StockLevel.sku == "SKU-099999", StockLevel.warehouse.has(code="WH-B"))
        )
        assert (sample.on_hand, sample.reserved, sample.available) == (Decimal(149), Decimal(1), Decimal(148))
        (run,) = db.session.scalars(select(SyncRun).where(SyncRun.operation == "pull_stock")).all()
        assert run.outcome == RunOutcome.SUCCESS

    (alert,) = call("operations").get("/api/v1/alerts").json["items"]
    assert alert["sku"] == LOW
    assert alert["explanation"].startswith("on hand 4, reserved 2 → projected 2 < reorder point 10")

    # Restocked in one warehouse: the next pull reads just that level and resolves the alert.
    ledger.ledger.set_stock([{"sku": LOW, "warehouse": "WH-A", "on_hand": 60, "reserved": 0}])
    with app.app_context():
        result = pull_stock(connection_id)
        assert (result.mode, result.rows, result.changed) == ("incremental", 1, 1)
        assert count(StockLevel) == 200_000
        assert count(StockHistory) == 200_001
        assert count(StockAlert, StockAlert.open_key.is_not(None)) == 0
    assert call("operations").get(f"/api/v1/alerts/{alert['id']}").json["state"] == "resolved"

"""Inventory feedback against the Mini Ledger over HTTP: stock pulled in, reorder rules, alerts
that explain their numbers, count what sales has just won, do not repeat, snooze, go stale and
resolve by themselves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.extensions import db
from hub.models import Connection, HubInvoice, InvoiceState, StockAlert, StockHistory, StockLevel, SyncRun
from hub.models.base import utcnow
from hub.sync import jobs
from hub.sync.worker import drain
from tests.support.api_errors import assert_error
from tests.support.stock import inbox, pull, rule, set_stock


@pytest.fixture
def pump(admin):
    r = admin.post("/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "100", "currency": "EUR"})
    return r.json


def test_pull_alert_explains_numbers_then_restock_resolves(app, call, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 12, "reserved": 3})
    rule(call, pump["id"], 10, 30, margin=2)
    pull(call, connection)
    drain(app)

    stock = call("sales").get("/api/v1/stock?sku=PUMP").json["items"]
    assert [(s["warehouse"]["code"], s["on_hand"], s["reserved"], s["available"]) for s in stock] == [
        ("WH1", "12.0000", "3.0000", "9.0000")
    ]
    assert stock[0]["staleness"] == "fresh"
    (alert,) = inbox(call)
    assert alert["sku"] == "PUMP"
    assert alert["projected"] == "9.0000"
    assert alert["explanation"].startswith("on hand 12, reserved 3 → projected 9 < reorder point 10; stock as of ")
    assert alert["explanation"].endswith("UTC from Ledger")
    assert alert["figures"]["reorder_point"] == "10.0000"

    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 14, "reserved": 3})  # 11: not above 10 + 2
    pull(call, connection)
    drain(app)
    (still,) = inbox(call)
    assert (still["id"], still["projected"]) == (alert["id"], "11.0000")

    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 40, "reserved": 3})
    pull(call, connection)
    drain(app)
    assert inbox(call) == []
    resolved = call("operations").get(f"/api/v1/alerts/{alert['id']}").json
    assert (resolved["state"], resolved["projected"]) == ("resolved", "37.0000")
    assert resolved["resolved_at"]
    history = call("operations").get("/api/v1/stock/history?sku=PUMP").json
    assert [h["on_hand"] for h in history] == ["12.0000", "14.0000", "40.0000"]


def test_won_deal_raises_the_alert_before_the_erp_stock_moves(app, call, sales, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 20, "reserved": 0})
    rule(call, pump["id"], 10, 40)
    pull(call, connection)
    drain(app, rounds=1)  # the pull only; nothing is won yet
    assert inbox(call) == []

    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Pumps", "customer_id": customer["id"], "lines": [{"sku": "PUMP", "quantity": 15}]},
    ).json
    assert inbox(call) == []  # an open deal does not count unless the rule says so
    sales.post(f"/api/v1/deals/{deal['id']}/won")
    jobs.bind_app(app)
    jobs.sweep_alerts()  # the scheduler's sweep, within a second of the won deal
    (alert,) = inbox(call)  # without waiting for a pull, nor for the invoice
    assert "on hand 20, reserved 0, on won deals 15 → projected 5 < reorder point 10" in alert["explanation"]

    drain(app)  # the invoice reaches the ledger, whose invoices take goods out of stock
    jobs.sweep_alerts()
    (still,) = inbox(call)  # the hub's stock was read before: the deal still counts until the next pull
    assert "on won deals 15 → projected 5" in still["explanation"]
    pull(call, connection)
    drain(app)
    (same,) = inbox(call)
    assert same["id"] == alert["id"]
    assert same["explanation"].startswith("on hand 5, reserved 0 → projected 5 < reorder point 10")
    with app.app_context():
        assert db.session.query(StockAlert).count() == 1


def test_open_deals_count_weighted_when_the_rule_says_so(app, call, sales, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 20, "reserved": 0})
    pull(call, connection)
    drain(app)
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={
            "title": "P",
            "customer_id": customer["id"],
            "probability": 50,
            "lines": [{"sku": "PUMP", "quantity": 30}],
        },
    ).json
    assert deal["probability"] == 50
    rule(call, pump["id"], 10, 40, count_open_deals=True)
    (alert,) = inbox(call)
    assert "on open deals (weighted) 15 → projected 5 < reorder point 10" in alert["explanation"]


def test_acknowledge_and_snooze(app, call, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 1, "reserved": 0})
    rule(call, pump["id"], 10, 30)
    pull(call, connection)
    drain(app)
    (alert,) = inbox(call)
    ops = call("operations")

    r = ops.post(f"/api/v1/alerts/{alert['id']}/snooze", json={"until": "2001-01-01T00:00:00Z"})
    assert_error(r, 422, "until")
    assert_error(ops.post(f"/api/v1/alerts/{alert['id']}/snooze", json={"until": "tomorrow"}), 422, "until")
    until = (utcnow() + timedelta(days=2)).isoformat()
    assert ops.post(f"/api/v1/alerts/{alert['id']}/snooze", json={"until": until}).json["state"] == "snoozed"
    assert inbox(call) == []
    pull(call, connection, full=True)
    drain(app)
    assert inbox(call) == []  # still low, still snoozed, not raised again
    assert len(ops.get("/api/v1/alerts?state=snoozed").json["items"]) == 1

    with app.app_context():  # the snooze runs out
        db.session.get(StockAlert, alert["id"]).snoozed_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    (back,) = inbox(call)
    assert back["id"] == alert["id"]

    acked = ops.post(f"/api/v1/alerts/{alert['id']}/acknowledge")
    assert (acked.status_code, acked.json["state"]) == (200, "acknowledged")
    pull(call, connection, full=True)
    drain(app)
    assert [a["state"] for a in inbox(call)] == ["acknowledged"]
    with app.app_context():
        assert db.session.query(StockAlert).count() == 1


def test_stale_stock_is_flagged_and_alerts_say_so(app, call, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 3, "reserved": 0})
    pull(call, connection)
    drain(app)
    with app.app_context():
        conn = db.session.get(Connection, connection)
        conn.stock_pulled_at = utcnow() - timedelta(hours=2)  # warn after 1 h, stop after 24 h
        db.session.commit()
    (level,) = call("sales").get("/api/v1/stock").json["items"]
    assert level["staleness"] == "stale"
    assert call("sales").get("/api/v1/stock?stale=false").json["total"] == 0

    rule(call, pump["id"], 10, 30)
    (alert,) = inbox(call)
    assert alert["stale"] is True
    assert "STALE: the last good pull is 2.0 h old" in alert["explanation"]


def test_stock_of_a_connection_that_never_pulled_is_stale_everywhere(app, call, ledger, connection, pump):
    """The list's badge, the `stale` filter and the alert's explanation read one rule: never pulled
    is older than every threshold."""
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 3, "reserved": 0})
    pull(call, connection)
    drain(app)
    with app.app_context():
        db.session.get(Connection, connection).stock_pulled_at = None
        db.session.commit()
    (level,) = call("sales").get("/api/v1/stock").json["items"]
    assert level["staleness"] == "never"
    assert call("sales").get("/api/v1/stock?stale=true").json["total"] == 1
    assert call("sales").get("/api/v1/stock?stale=false").json["total"] == 0

    rule(call, pump["id"], 10, 30)
    (alert,) = inbox(call)
    assert alert["stale"] is True
    assert "past the connection's stop threshold" in alert["explanation"]


def test_a_failing_target_records_the_pull_and_keeps_the_stock(app, call, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 7, "reserved": 0})
    pull(call, connection)
    drain(app)
    requests.put(f"{ledger.url}/_faults", json={"error_rate": 1.0}, timeout=5)
    pull(call, connection, full=True)
    drain(app)
    with app.app_context():
        runs = [(r.operation, r.outcome.value) for r in db.session.query(SyncRun).order_by(SyncRun.id)]
        assert runs[-2:] == [("pull_stock", "success"), ("pull_stock", "failed")]
        assert [lv.on_hand for lv in db.session.query(StockLevel)] == [7]


def test_incremental_pull_reads_only_what_changed(app, call, ledger, connection, pump):
    set_stock(
        ledger,
        {"sku": "PUMP", "warehouse": "WH1", "on_hand": 5, "reserved": 0},
        {"sku": "PUMP", "warehouse": "WH2", "on_hand": 8, "reserved": 1},
        {"sku": "UNKNOWN-SKU", "warehouse": "WH1", "on_hand": 2, "reserved": 0},
    )
    pull(call, connection)
    drain(app)
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH2", "on_hand": 9, "reserved": 1})
    from hub.inventory.pull import pull_stock

    with app.app_context():
        result = pull_stock(connection)
        assert (result.mode, result.rows, result.changed) == ("incremental", 1, 1)
        assert db.session.query(StockLevel).count() == 3
        assert db.session.query(StockHistory).count() == 4
        unknown = db.session.query(StockLevel).filter_by(sku="UNKNOWN-SKU").one()
        assert unknown.product_id is None
    warehouses = call("operations").get("/api/v1/warehouses").json
    assert [w["code"] for w in warehouses] == ["WH1", "WH2"]


def test_rule_validation(call, pump, ledger, connection):
    ops = call("operations")
    assert_error(
        ops.post("/api/v1/reorder-rules", json={"product_id": pump["id"], "reorder_point": 10, "target_level": 5}),
        422,
        "target_level",
    )
    assert_error(
        ops.post("/api/v1/reorder-rules", json={"product_id": 9999, "reorder_point": 1, "target_level": 5}),
        422,
        "product_id",
    )
    assert_error(
        ops.post("/api/v1/reorder-rules", json={"product_id": pump["id"], "reorder_point": -1, "target_level": 5}),
        422,
        "reorder_point",
    )
    first = rule(call, pump["id"], 1, 5)
    assert_error(
        ops.post("/api/v1/reorder-rules", json={"product_id": pump["id"], "reorder_point": 2, "target_level": 5}),
        409,
        "product_id",
    )
    r = ops.patch(f"/api/v1/reorder-rules/{first['id']}", json={"reorder_point": 3})
    assert (r.status_code, r.json["reorder_point"]) == (200, "3.0000")
    # Checked on the rule as it would be after the change: the target stays 5.
    assert_error(ops.patch(f"/api/v1/reorder-rules/{first['id']}", json={"reorder_point": 6}), 422, "target_level")
    assert call("sales").post("/api/v1/reorder-rules", json={}).status_code == 403
    assert ops.delete(f"/api/v1/reorder-rules/{first['id']}").status_code == 204


@pytest.fixture
def stocked(app, call, ledger, connection, pump):
    set_stock(
        ledger,
        {"sku": "PUMP", "warehouse": "WH1", "on_hand": 8, "reserved": 2},
        {"sku": "PUMP", "warehouse": "WH2", "on_hand": 4, "reserved": 0},
    )
    pull(call, connection)
    drain(app)


def deal_for(sales, quantity):
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    r = sales.post(
        "/api/v1/deals",
        json={"title": "P", "customer_id": customer["id"], "lines": [{"sku": "PUMP", "quantity": quantity}]},
    )
    return r.json


def test_deal_lines_show_availability(sales, stocked):
    first = deal_for(sales, 4)
    assert first["lines"][0]["availability"] == {
        "available": "10.0000",
        "on_won_deals": "0",
        "projected": "10.0000",
        "stale": False,
    }
    sales.post(f"/api/v1/deals/{first['id']}/won")
    second = deal_for(sales, 3)
    assert second["lines"][0]["availability"]["on_won_deals"] == "4.0000"
    assert second["lines"][0]["availability"]["projected"] == "6.0000"
    # a line without a product, or a product without stock, has none
    customer = sales.post("/api/v1/customers", json={"name": "B"}).json
    other = sales.post(
        "/api/v1/deals",
        json={
            "title": "S",
            "customer_id": customer["id"],
            "lines": [{"description": "Service", "quantity": 1, "unit_price": 5}],
        },
    ).json
    assert other["lines"][0]["availability"] is None


def test_a_deal_whose_own_lines_no_longer_count_still_sees_the_other_won_deals(app, sales, stocked):
    first = deal_for(sales, 4)
    sales.post(f"/api/v1/deals/{first['id']}/won")
    with app.app_context():  # paid: its 4 no longer count against stock
        db.session.scalar(select(HubInvoice).where(HubInvoice.deal_id == first["id"])).state = InvoiceState.PAID
        db.session.commit()
    second = deal_for(sales, 3)
    sales.post(f"/api/v1/deals/{second['id']}/won")

    seen = sales.get(f"/api/v1/deals/{first['id']}").json["lines"][0]["availability"]

    assert (seen["on_won_deals"], seen["projected"]) == ("3.0000", "7.0000")


def test_winning_more_than_stock_warns_or_refuses(app, sales, stocked, monkeypatch):
    deal = deal_for(sales, 11)
    won = sales.post(f"/api/v1/deals/{deal['id']}/won").json
    assert won["status"] == "won"
    assert won["warnings"] == [
        "lines[0].quantity: 11 of PUMP wanted, 10 can be promised (available 10, on other won deals 0)"
    ]
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["warnings"] == []

    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_STOCK_CHECK_ON_WON", "refuse")
        refused = deal_for(sales, 2)  # 11 are promised already: nothing is left
        body = assert_error(sales.post(f"/api/v1/deals/{refused['id']}/won"), 409, "lines[0].quantity")
        assert "0 can be promised" in body["errors"]["lines[0].quantity"][0]
        assert sales.get(f"/api/v1/deals/{refused['id']}").json["status"] == "open"


def test_stock_belongs_to_its_connections_warehouses_and_goes_with_the_connection(app, call, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 5, "reserved": 0})
    pull(call, connection)
    drain(app)
    with app.app_context():
        level = db.session.query(StockLevel).one()
        other = Connection(name="Other ledger", type="mini_ledger", config={})
        db.session.add(other)
        db.session.commit()
        # The (connection, warehouse) key: a level cannot sit in another connection's warehouse.
        stray = {c: getattr(level, c) for c in ("warehouse_id", "sku", "on_hand", "reserved", "available", "as_of")}
        db.session.add(StockLevel(connection_id=other.id, pulled_at=utcnow(), **{**stray, "sku": "STRAY"}))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()

    assert call("admin").delete(f"/api/v1/connections/{connection}").status_code == 204

    with app.app_context():
        assert db.session.query(StockLevel).count() == 0
        assert db.session.query(StockHistory).count() == 0


def test_skus_with_tabs_backslashes_and_newlines_and_fractional_levels_are_stored_exactly(app, ledger, connection):
    # PostgreSQL takes the levels through COPY's text format, where these characters are syntax.
    odd = ["A\tB", "C\\D", "E\nF", "G\rH", "\\N"]
    set_stock(ledger, *({"sku": sku, "warehouse": "WH\t1", "on_hand": 2.5, "reserved": 0.25} for sku in odd))
    from hub.inventory.pull import pull_stock

    with app.app_context():
        result = pull_stock(connection, full=True)
        assert (result.rows, result.changed, result.error) == (5, 5, None)
        stored = {
            level.sku: (level.warehouse.code, level.on_hand, level.reserved, level.available)
            for level in db.session.query(StockLevel)
        }
        assert stored == {sku: ("WH\t1", Decimal("2.5"), Decimal("0.25"), Decimal("2.25")) for sku in odd}

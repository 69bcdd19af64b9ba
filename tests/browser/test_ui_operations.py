"""Operations in the browser: pull stock from the target, see it per product × warehouse with its
freshness, set a reorder rule (bad input refused next to the field), see the alert it raises,
acknowledge it and snooze another; the stock history chart."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from hub.extensions import db
from hub.models import Connection
from hub.models.base import utcnow
from hub.sync.worker import drain
from tests.support.ui_fixtures import log_in, nav, screenshot


def test_operations_pulls_stock_sees_an_alert_and_acknowledges_it(app, users, page, admin, connection, ledger):
    for sku in ("PUMP-100", "VALVE-7"):
        admin.post("/api/v1/products", json={"sku": sku, "name": sku.title(), "list_price": "5", "currency": "EUR"})
    ledger.ledger.set_stock(
        [
            {"sku": "PUMP-100", "warehouse": "WH1", "on_hand": "6", "reserved": "0"},
            {"sku": "PUMP-100", "warehouse": "WH2", "on_hand": "2", "reserved": "1"},
            {"sku": "VALVE-7", "warehouse": "WH1", "on_hand": "3", "reserved": "0"},
        ]
    )

    log_in(page, users["operations"]["email"])
    expect(page).to_have_url(re.compile(r"/alerts$"))  # operations start on their inbox
    expect(page.get_by_text("Nothing needs attention.")).to_be_visible()

    nav(page, "Stock")
    page.get_by_role("button", name="Pull stock now from Ledger").click()
    expect(page.locator("#pull-1")).to_contain_text("Pulling stock from Ledger")
    drain(app)
    expect(page.locator("#pull-1")).to_contain_text("Stock pulled", timeout=15_000)
    page.reload()
    pump = page.locator("#stock tbody tr", has_text="PUMP-100")
    expect(pump).to_contain_text("6 of 6")
    expect(pump).to_contain_text("1 of 2")
    expect(pump.locator(".badge.fresh")).to_have_count(2)
    expect(pump.locator("td").nth(-2)).to_have_text("7")  # available in all warehouses
    screenshot(page, "operations-stock")

    nav(page, "Reorder rules")
    page.get_by_label("Product", exact=True).select_option(label="PUMP-100")
    page.get_by_label("Reorder point").fill("10")
    page.get_by_label("Target level").fill("5")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#err-target_level")).to_have_text("Must be at least the reorder point.")
    page.get_by_label("Target level").fill("50")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("status")).to_contain_text("Rule for PUMP-100 saved. It raised an alert.")
    page.get_by_label("Product", exact=True).select_option(label="VALVE-7")
    page.get_by_label("Reorder point").fill("5")
    page.get_by_label("Target level").fill("20")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("status")).to_contain_text("It raised an alert.")
    page.get_by_role("link", name="Edit the rule for PUMP-100").click()
    expect(page.get_by_label("Reorder point")).to_have_value("10")
    page.get_by_label("Margin").fill("2")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("status")).to_contain_text("Rule for PUMP-100 saved.")
    expect(page.locator("tbody tr", has_text="PUMP-100")).to_contain_text("2")
    screenshot(page, "operations-rules")

    nav(page, "Alerts")
    pump_alert = page.locator("article", has_text="PUMP-100")
    expect(pump_alert).to_contain_text("projected 7 < reorder point 10")
    expect(pump_alert.locator(".badge.open")).to_be_visible()
    screenshot(page, "operations-alerts")
    pump_alert.get_by_role("button", name="Acknowledge the alert for PUMP-100").click()
    expect(page.get_by_role("status")).to_contain_text("Alert for PUMP-100 acknowledged")
    expect(page.locator("article", has_text="PUMP-100").locator(".badge.acknowledged")).to_be_visible()

    valve_alert = page.locator("article", has_text="VALVE-7")
    valve_alert.get_by_label("Snooze for").select_option("1w")
    valve_alert.get_by_role("button", name="Snooze").click()
    expect(page.get_by_role("status")).to_contain_text("Alert for VALVE-7 snoozed")
    expect(page.locator("article", has_text="VALVE-7")).to_have_count(0)  # out of the inbox for a week
    page.get_by_role("link", name="snoozed").click()
    expect(page.locator("article", has_text="VALVE-7")).to_be_visible()

    with app.app_context():  # two hours without a good pull: past the connection's warn threshold
        ledger_connection = db.session.get(Connection, connection)
        ledger_connection.stock_pulled_at = utcnow() - timedelta(hours=2)
        db.session.commit()
    nav(page, "Stock")
    expect(page.locator("#stock tbody tr", has_text="PUMP-100").locator(".badge.stale")).to_have_count(2)

    page.goto("/stock/history?sku=PUMP-100")
    expect(page.locator("#history-chart")).to_be_visible()
    assert page.evaluate("Chart.getChart('history-chart').data.datasets.length") == 3  # WH1, WH2, reorder point
    screenshot(page, "operations-stock-history")

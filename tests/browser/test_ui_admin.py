"""An admin in the browser: create a connection from its generated form (bad input refused next to
the field), test it, see a failed push with the target's answer, fix the secret (write-only), retry
it and watch it go through; users and roles; the audit log."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY
from tests.support.ui_fixtures import log_in, nav, screenshot


def win_a_deal(admin, sales, customer_name: str = "Gearhead AG") -> str:
    admin.post("/api/v1/products", json={"sku": "GEAR-1", "name": "Gear", "list_price": "10.00", "currency": "EUR"})
    customer = sales.post("/api/v1/customers", json={"name": customer_name}).json
    lines = [{"sku": "GEAR-1", "quantity": 4}]
    deal = sales.post("/api/v1/deals", json={"title": "Gears", "customer_id": customer["id"], "lines": lines}).json
    return sales.post(f"/api/v1/deals/{deal['id']}/won").json["invoices"][0]["number"]


def test_admin_creates_and_tests_a_connection_then_retries_a_failed_sync(app, users, page, admin, sales, ledger):
    log_in(page, users["admin"]["email"])
    nav(page, "Connections")
    expect(page.get_by_text("No connections yet")).to_be_visible()
    page.get_by_role("link", name="New connection").click()
    expect(page.get_by_label("System")).to_have_value("mini_ledger")
    page.get_by_label("Name", exact=True).fill("Ledger")
    page.get_by_label("Base URL").fill("ledger.local")
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_label("Timeout (seconds)").fill("2")
    page.get_by_role("button", name="Save connection").click()
    # the connector's own validation, shown next to its field
    expect(page.locator("#err-config-base_url")).to_have_text("must be an http(s) URL")
    expect(page.get_by_label("Base URL")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "admin-connection-form-errors")
    page.get_by_label("Base URL").fill(ledger.url)
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("heading", name="Ledger")).to_be_visible()

    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("Ledger: failed")
    expect(page.get_by_role("status")).to_contain_text("invalid api key")

    number = win_a_deal(admin, sales)
    others = [win_a_deal(admin, sales, name) for name in ("Second AG", "Third AG")]
    drain(app)  # refused: the credentials are wrong, so the pushes are parked
    nav(page, "Failed queue")
    row = page.locator("tr", has_text=number)
    expect(row).to_contain_text("invalid api key")
    row.get_by_text("Request and response").click()
    expect(row.locator("pre").last).to_contain_text("401")
    screenshot(page, "admin-failed-queue")

    nav(page, "Connections")
    expect(page.get_by_role("alert")).to_contain_text("refused the credentials")
    page.get_by_role("link", name="Edit").click()
    api_key = page.get_by_label("API key")
    expect(api_key).to_have_value("")  # secrets are never shown back
    expect(page.get_by_text("Stored; leave blank to keep it.")).to_be_visible()
    api_key.fill(LEDGER_KEY)
    page.get_by_role("button", name="Save connection").click()
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("Ledger: OK")
    screenshot(page, "admin-connections")

    nav(page, "Failed queue")
    page.locator("tr", has_text=number).get_by_role("button", name=re.compile("^Retry event")).click()
    expect(page.locator("#retry-progress")).to_contain_text("0 of 1 retried event(s) finished")
    drain(app)
    expect(page.locator("#retry-progress")).to_contain_text("1 of 1 retried event(s) finished · 1 done", timeout=15_000)
    page.reload()
    expect(page.locator("tbody tr")).to_have_count(2)

    # the others: one is discarded, the other retried in bulk
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text=others[1]).get_by_role("button", name=re.compile("^Discard event")).click()
    expect(page.get_by_role("status")).to_contain_text("discarded")
    page.locator("tr", has_text=others[0]).get_by_role("checkbox").check()
    page.get_by_role("button", name=re.compile("^Retry selected")).click()
    expect(page.get_by_role("status")).to_contain_text("1 event(s) queued again.")
    drain(app)
    expect(page.locator("#retry-progress")).to_contain_text("1 of 1 retried event(s) finished · 1 done", timeout=15_000)
    page.reload()
    expect(page.get_by_text("Nothing has failed.")).to_be_visible()
    assert sorted(i["reference"] for i in ledger.ledger.invoices.values()) == sorted([number, others[0]])

    nav(page, "Sync runs")
    expect(page.locator("tbody tr").first).to_contain_text("success")
    screenshot(page, "admin-sync-runs")

    nav(page, "Connections")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("Ledger paused: pushes wait")
    expect(page.locator("#connection-1 .badge.stale")).to_have_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#connection-1 .badge.ok")).to_have_text("active")


def test_admin_manages_users_and_reads_the_audit_log(users, page):
    log_in(page, users["admin"]["email"])
    nav(page, "Users")
    page.get_by_label("Name", exact=True).fill("Nina Neu")
    page.get_by_label("E-mail").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#err-email")).to_have_text("Not a valid email address.")
    expect(page.locator("#err-password")).to_have_text("At least 10 characters.")
    page.get_by_label("E-mail").fill("nina@example.com")
    page.get_by_label("Role", exact=True).select_option("finance")
    page.get_by_label("Password").fill("a-long-enough-password")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("nina@example.com (finance) created")
    page.get_by_label("Role of nina@example.com").select_option("operations")
    page.locator("tr", has_text="nina@example.com").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("nina@example.com is now operations")
    screenshot(page, "admin-users")

    nav(page, "Audit log")
    page.get_by_label("What").select_option("users")
    page.get_by_label("Action").select_option("update")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tbody tr").first).to_contain_text("finance → operations")
    screenshot(page, "admin-audit")

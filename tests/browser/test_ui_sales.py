"""Sales in the browser: create a customer and a deal, move it across the board (drag and buttons),
mark it won, and watch the invoice number arrive from the target (Mini Ledger)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from hub.models import DocumentMode
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.sales_board import card, column
from tests.support.tryton_loop import tryton_invoices
from tests.support.ui_fixtures import log_in, nav, screenshot


@pytest.fixture
def pump(admin):
    r = admin.post(
        "/api/v1/products",
        json={"sku": "PUMP-100", "name": "Pump 100", "list_price": "1249.00", "currency": "EUR", "tax_rate": "0.19"},
    )
    assert r.status_code == 201, r.json
    return r.json


def test_sales_creates_customer_and_deal_moves_it_wins_it_and_sees_the_invoice_number(
    app, users, page, pump, connection, ledger
):
    log_in(page, users["sales"]["email"])
    expect(page).to_have_url(re.compile(r"/board$"))
    expect(page.get_by_role("heading", name="Pipeline")).to_be_visible()
    screenshot(page, "sales-board-empty")

    nav(page, "Customers")
    page.get_by_role("link", name="New customer").click()
    page.get_by_label("Name").fill("Walk-in Ltd")
    page.get_by_label("E-mail").fill("office@walk-in.example")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Country").fill("de")
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_role("heading", name="Walk-in Ltd")).to_be_visible()
    screenshot(page, "sales-customer")

    page.get_by_role("link", name="New deal").click()
    expect(page.locator("#f-customer_id")).to_have_value(re.compile(r"\d+"))  # the customer is preselected
    page.get_by_label("Title").fill("Two pumps")
    page.get_by_label("Product of line 1").select_option(label="Pump 100 (PUMP-100) · €1,249.00")
    page.get_by_label("Quantity of line 1").fill("2")
    page.get_by_role("button", name="Create deal").click()
    expect(page.get_by_role("heading", name="Two pumps")).to_be_visible()
    # 2 × 1,249.00 = 2,498.00 net + 19 % tax 474.62
    expect(page.get_by_test_id("deal-total")).to_have_text("€2,972.62")
    number = re.search(r"D-\d{6}", page.content()).group(0)

    nav(page, "Board")
    expect(card(column(page, "New"), number)).to_be_visible()
    card(page, number).drag_to(column(page, "Qualified"))
    expect(card(column(page, "Qualified"), number)).to_be_visible()
    card(page, number).get_by_role("button", name=f"Move {number} to Proposal").click()
    expect(card(column(page, "Proposal"), number)).to_be_visible()
    card(page, number).get_by_role("button", name=f"Move {number} to Negotiation").click()
    expect(card(column(page, "Negotiation"), number)).to_be_visible()
    expect(column(page, "Negotiation").locator(".sum")).to_contain_text("€2,972.62")
    screenshot(page, "sales-board")

    card(page, number).get_by_role("link", name="Two pumps").click()
    page.get_by_role("button", name="Mark won").click()
    expect(page.get_by_role("status").filter(has_text="is won")).to_be_visible()
    expect(page.get_by_test_id("invoice-number")).to_have_text("INV-000001")
    expect(page.locator("#invoice-panel")).to_contain_text("Being sent")

    drain(app)  # the worker pushes the invoice to Mini Ledger; the page polls until it shows
    expect(page.get_by_test_id("external-number")).to_have_text("ML-000001", timeout=15_000)
    expect(page.locator("#invoice-panel")).to_contain_text("Ledger")
    assert ledger.ledger.invoices[1]["reference"] == "INV-000001"
    screenshot(page, "sales-deal-won")

    nav(page, "Board")
    expect(card(column(page, "Won"), number)).to_be_visible()
    nav(page, "My tasks")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    nav(page, "Dashboard")
    expect(page.get_by_test_id("won-to-invoice")).not_to_have_text("–")
    screenshot(page, "sales-dashboard")
    page.get_by_label("Search customers, contacts, deals, products").fill("pump")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name=re.compile(f"{number} Two pumps"))).to_be_visible()
    screenshot(page, "search")


def test_won_deal_shows_the_number_the_real_tryton_gave_it(app, users, page, pump, sales, tryton_db):
    make_connection(app, "Tryton", "tryton", tryton_db.config, document_mode=DocumentMode.POSTED)
    customer = sales.post("/api/v1/customers", json={"name": "Tryton Kunde GmbH", "billing_city": "Berlin"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "One pump", "customer_id": customer["id"], "lines": [{"sku": "PUMP-100", "quantity": 1}]},
    ).json
    log_in(page, users["sales"]["email"])
    page.goto(f"/deals/{deal['id']}")
    expect(page.locator("tr", has_text="PUMP-100")).to_contain_text("no stock known")
    page.get_by_role("button", name="Mark won").click()
    expect(page.get_by_test_id("invoice-number")).to_have_text("INV-000001")
    drain(app)  # posted in Tryton, which numbers the invoice
    (invoice,) = tryton_invoices(tryton_db, "INV-000001")
    assert invoice["state"] == "posted"
    expect(page.get_by_test_id("external-number")).to_have_text(invoice["number"], timeout=15_000)
    expect(page.locator("#invoice-panel")).to_contain_text("posted")
    screenshot(page, "sales-deal-tryton")

"""Winning a deal in the browser happens once: the page asks first, saying which systems get an
invoice; a double click sends one request; a second tab sees the deal already won; dropping a card
on the Won column asks too, and cancelling leaves the deal where it was."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hub.extensions import db
from hub.models import HubInvoice
from tests.support.sales_board import card, column
from tests.support.ui_fixtures import log_in, screenshot


@pytest.fixture
def deal(sales) -> dict:
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    lines = [{"description": "Pump", "quantity": "2", "unit_price": "100.00"}]
    deal = sales.post("/api/v1/deals", json={"title": "Pumps", "customer_id": customer["id"], "lines": lines}).json
    assert sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "Negotiation"}).status_code == 200
    return deal


def invoice_numbers(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(HubInvoice.number).order_by(HubInvoice.id)))


def posts_to(page, path: str) -> list[str]:
    """The POSTs the page sends to `path`, as they are sent."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith(path) else None)
    return sent


def test_a_double_click_on_mark_won_asks_once_and_sends_one_request(app, users, page, dialogs, deal, connection):
    log_in(page, users["sales"]["email"])
    page.goto(f"/deals/{deal['id']}")
    sent = posts_to(page, f"/deals/{deal['id']}/won")

    page.get_by_role("button", name="Mark won").dblclick()

    expect(page.get_by_role("status").filter(has_text="is won")).to_be_visible()
    assert dialogs.asked == [f"Mark {deal['number']} won? This creates an invoice in Ledger."]
    assert len(sent) == 1
    assert invoice_numbers(app) == ["INV-000001"]
    expect(page.get_by_role("button", name="Mark won")).to_have_count(0)


def test_a_second_tab_sees_the_deal_won_and_makes_no_second_invoice(app, users, page, deal, connection):
    log_in(page, users["sales"]["email"])
    page.goto(f"/deals/{deal['id']}")
    other = page.context.new_page()
    other.goto(f"/deals/{deal['id']}")

    page.get_by_role("button", name="Mark won").click()
    expect(page.get_by_role("status").filter(has_text="is won")).to_be_visible()
    other.get_by_role("button", name="Mark won").click()  # the page still offers it: it was loaded before

    expect(other.get_by_role("status")).to_have_text(f"{deal['number']} was already won; its invoice is INV-000001.")
    assert invoice_numbers(app) == ["INV-000001"]


def test_dropping_a_card_on_won_asks_first_and_cancel_leaves_it(app, users, page, dialogs, deal, connection):
    log_in(page, users["sales"]["email"])
    page.goto("/board")
    number = deal["number"]
    question = f"Mark {number} won? This creates an invoice in Ledger."

    dialogs.accept = False
    card(page, number).drag_to(column(page, "Won"))
    assert dialogs.asked == [question]
    expect(card(column(page, "Negotiation"), number)).to_be_visible()
    assert invoice_numbers(app) == []

    dialogs.accept = True
    card(page, number).drag_to(column(page, "Won"))
    expect(card(column(page, "Won"), number)).to_be_visible()
    assert dialogs.asked == [question, question]
    assert invoice_numbers(app) == ["INV-000001"]
    screenshot(page, "sales-board-won-by-drop")


def test_the_won_button_on_a_card_and_mark_lost_say_what_they_do(app, users, page, dialogs, deal, connection):
    log_in(page, users["sales"]["email"])
    page.goto("/board")
    number = deal["number"]
    card(page, number).get_by_role("button", name=f"Move {number} to Won").click()
    expect(card(column(page, "Won"), number)).to_be_visible()

    page.goto(f"/deals/{deal['id']}")
    page.get_by_label("Lost because").fill("Budget cut")
    page.get_by_role("button", name="Mark lost").click()
    expect(page.get_by_text("Lost: Budget cut")).to_be_visible()
    assert dialogs.asked == [
        f"Mark {number} won? This creates an invoice in Ledger.",
        f"Mark {number} lost? This cancels invoice INV-000001 here and in Ledger.",
    ]
    expect(page.locator("#invoice-panel")).to_contain_text(re.compile("cancelled", re.IGNORECASE))

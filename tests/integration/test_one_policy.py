"""The pages follow the API's one policy (hub/permissions.py): what an API call refuses a role,
the page does not show it either."""

from __future__ import annotations

import pytest

from tests.support.sessions import log_in


@pytest.fixture
def won_with_notes(sales, admin, connection):
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={
            "title": "Pumps",
            "customer_id": customer["id"],
            "lines": [{"description": "Pump", "quantity": "1", "unit_price": "100.00"}],
        },
    ).json
    note = {"kind": "note", "subject": "Secret margin note", "deal_id": deal["id"]}
    assert sales.post("/api/v1/activities", json=note).status_code == 201
    task = {"title": "Call the CFO about the budget", "due_date": "2999-01-01", "deal_id": deal["id"]}
    assert sales.post("/api/v1/tasks", json=task).status_code == 201
    won = sales.post(f"/api/v1/deals/{deal['id']}/won").json
    return won


def test_operations_see_on_the_deal_page_nothing_the_api_refuses_them(app, users, call, won_with_notes):
    deal, number = won_with_notes, won_with_notes["invoices"][0]["number"]
    operations = call("operations")
    # What the API refuses operations ...
    assert operations.get(f"/api/v1/activities?deal_id={deal['id']}").status_code == 403
    assert operations.get(f"/api/v1/tasks?deal_id={deal['id']}").status_code == 403
    assert operations.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").status_code == 403
    answer = operations.get(f"/api/v1/deals/{deal['id']}").json
    assert "invoices" not in answer
    # ... the page does not show.
    browser = app.test_client()
    assert log_in(browser, "operations@example.com").status_code == 302
    page = browser.get(f"/deals/{deal['id']}").get_data(as_text=True)
    assert deal["title"] in page
    for secret in ("Secret margin note", "Call the CFO", number):
        assert secret not in page
    assert browser.get(f"/deals/{deal['id']}/invoice-panel").status_code == 403


def test_sales_see_their_deals_notes_tasks_and_invoice(app, users, call, won_with_notes):
    deal, number = won_with_notes, won_with_notes["invoices"][0]["number"]
    assert call("sales").get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]["number"] == number
    browser = app.test_client()
    assert log_in(browser, "sales@example.com").status_code == 302
    page = browser.get(f"/deals/{deal['id']}").get_data(as_text=True)
    for shown in ("Secret margin note", "Call the CFO", number):
        assert shown in page

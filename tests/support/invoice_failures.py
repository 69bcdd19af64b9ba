"""What the tests of failed invoices share: a deal of one product won for Acme GmbH (Berlin)."""

from __future__ import annotations


def win(sales, sku: str) -> dict:
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "billing_city": "Berlin"}).json
    deal = sales.post(
        "/api/v1/deals", json={"title": "Parts", "customer_id": customer["id"], "lines": [{"sku": sku, "quantity": 2}]}
    ).json
    r = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert r.status_code == 200, r.json
    return r.json


def win_with_product(sales, admin) -> dict:
    admin.post("/api/v1/products", json={"sku": "W-1", "name": "Widget", "list_price": "19.90", "currency": "EUR"})
    return win(sales, "W-1")

"""A deal of widgets won for Acme GmbH, in euros or another currency: what the mapping tests
preview and push."""

from __future__ import annotations


def win(sales, admin, currency: str = "EUR", sku: str = "W-1") -> dict:
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": currency}).json
    if admin.get(f"/api/v1/products?sku={sku}").json["total"] == 0:
        r = admin.post(
            "/api/v1/products", json={"sku": sku, "name": "Widget", "list_price": "19.90", "currency": "EUR"}
        )
        assert r.status_code == 201, r.json
    deal = sales.post(
        "/api/v1/deals",
        json={
            "title": "Widgets",
            "customer_id": customer["id"],
            "currency": currency,
            # the hub converts no prices between currencies: a deal in another one names its price
            "lines": [{"sku": sku, "quantity": 2, **({} if currency == "EUR" else {"unit_price": "2990"})}],
        },
    )
    assert deal.status_code == 201, deal.json
    won = sales.post(f"/api/v1/deals/{deal.json['id']}/won")
    assert won.status_code == 200, won.json
    return won.json

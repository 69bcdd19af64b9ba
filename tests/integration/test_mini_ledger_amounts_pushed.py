"""What the hub sends the Mini Ledger states every amount, and the ledger, which works each one out
again (hub/demo_erp/mini_ledger.py `checked_amounts`), books them: a hub whose arithmetic went
wrong would see its pushes refused here and in every test that pushes to the ledger."""

from __future__ import annotations

from decimal import Decimal

from hub.sync.worker import drain

V = "/api/v1"


def test_a_discounted_deal_at_two_rates_is_booked_with_the_hubs_amounts(app, sales, admin, ledger, connection):
    customer = sales.post(f"{V}/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    lines = [
        {"description": "Pump", "quantity": "3", "unit_price": "33.35", "discount_percent": "12.5", "tax_rate": "0.19"},
        {"description": "Manual", "quantity": "1", "unit_price": "0.99", "tax_rate": "0.07"},
    ]
    deal = sales.post(f"{V}/deals", json={"title": "Pumps", "customer_id": customer["id"], "lines": lines}).json
    won = sales.post(f"{V}/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    hub = won.json["invoices"][0]
    drain(app)

    (booked,) = ledger.ledger.invoices.values()
    assert booked["reference"] == hub["number"]
    assert Decimal(booked["total"]) == Decimal(hub["total"]) == Decimal("105.23")  # 104.17 + 1.06
    sent = [{k: Decimal(str(line[k])) for k in ("discount_percent", "net", "tax", "total")} for line in booked["lines"]]
    assert sent == [
        {
            "discount_percent": Decimal("12.5"),
            "net": Decimal("87.54"),
            "tax": Decimal("16.63"),
            "total": Decimal("104.17"),
        },
        {"discount_percent": Decimal("0"), "net": Decimal("0.99"), "tax": Decimal("0.07"), "total": Decimal("1.06")},
    ]

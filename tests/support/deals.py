"""A deal made through the API."""

from __future__ import annotations


def new_deal(sales, customer, lines, **fields):
    r = sales.post(
        "/api/v1/deals", json={"title": "Pumps for Acme", "customer_id": customer["id"], "lines": lines, **fields}
    )
    assert r.status_code == 201, r.json
    return r.json

"""What the sync engine's tests share: a deal won through the API, and the Mini Ledger they push it
to (`sync_ledger`, `sync_connection`). These are not conftest's `ledger` and `connection`: the
ledger's API key is one the tests name, and the connection, named "ledger", gives up after half a
second, sooner than a lost answer comes back."""

from __future__ import annotations

import pytest

from hub.demo_erp.mini_ledger import LedgerServer
from hub.extensions import db
from hub.models import Connection
from hub.sync.factory import split_config


@pytest.fixture
def sync_ledger():
    with LedgerServer(api_key="k-123456") as server:
        yield server


@pytest.fixture
def sync_connection(app, sync_ledger):
    with app.app_context():
        plain, sealed = split_config(
            "mini_ledger", {"base_url": sync_ledger.url, "api_key": "k-123456", "timeout": 0.5}
        )
        conn = Connection(name="ledger", type="mini_ledger", config=plain, secrets_sealed=sealed)
        db.session.add(conn)
        db.session.commit()
        return conn.id


def won_deal(sales, admin, sku="W-1"):
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    if admin.get(f"/api/v1/products?sku={sku}").json["total"] == 0:
        admin.post("/api/v1/products", json={"sku": sku, "name": "Widget", "list_price": "19.90", "currency": "EUR"})
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Widgets", "customer_id": customer["id"], "lines": [{"sku": sku, "quantity": 2}]},
    ).json
    r = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert r.status_code == 200, r.json
    return r.json

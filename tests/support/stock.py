"""Stock through the API and the Mini Ledger: levels set in the ledger, pulled, reorder rules and
the alerts inbox; and a pump with an open low-stock alert (`pump`, `alert`)."""

from __future__ import annotations

import pytest
import requests

from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY


def set_stock(ledger, *items):
    r = requests.put(
        f"{ledger.url}/api/stock", json={"items": list(items)}, headers={"X-Api-Key": LEDGER_KEY}, timeout=5
    )
    assert r.status_code == 200


def pull(call, connection_id, full=False):
    r = call("operations").post(f"/api/v1/connections/{connection_id}/pull-stock", json={"full": full})
    assert r.status_code == 202, r.json


def inbox(call):
    return call("operations").get("/api/v1/alerts").json["items"]


def rule(call, product_id, point, target, **extra):
    r = call("operations").post(
        "/api/v1/reorder-rules",
        json={"product_id": product_id, "reorder_point": point, "target_level": target, **extra},
    )
    assert r.status_code == 201, r.json
    return r.json


@pytest.fixture
def pump(admin):
    r = admin.post("/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "100", "currency": "EUR"})
    return r.json


@pytest.fixture
def alert(app, call, ledger, connection, pump):
    """Projected 9 (12 on hand, 3 reserved) below a reorder point of 10, target level 30."""
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 12, "reserved": 3})
    rule(call, pump["id"], 10, 30)
    pull(call, connection)
    drain(app)
    (live,) = inbox(call)
    return live

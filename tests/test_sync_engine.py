"""The sync engine against a real HTTP invoicing service (Mini Ledger) with the embedded queue:
a won deal becomes exactly one invoice, whatever the target does to us."""

from __future__ import annotations

import pytest

from hub.demo_erp.mini_ledger import LedgerServer
from hub.extensions import db
from hub.models import Connection, HubInvoice, OutboxEvent, OutboxState, SyncRun
from hub.sync.connectors import split_config
from hub.sync.worker import drain


@pytest.fixture
def ledger():
    with LedgerServer(api_key="k-123456") as server:
        yield server


@pytest.fixture
def connection(app, ledger):
    with app.app_context():
        plain, sealed = split_config("mini_ledger", {"base_url": ledger.url, "api_key": "k-123456", "timeout": 0.5})
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


def test_won_deal_becomes_one_invoice(app, sales, admin, ledger, connection):
    deal = won_deal(sales, admin)
    drain(app)
    invoices = ledger.ledger.invoices
    assert len(invoices) == 1
    (inv,) = invoices.values()
    assert inv["reference"] == deal["invoices"][0]["number"]
    detail = sales.get(f"/api/v1/deals/{deal['id']}").json
    assert detail["invoices"][0]["links"][0]["external_number"] == inv["number"]
    with app.app_context():
        runs = db.session.query(SyncRun).all()
        assert [r.outcome.value for r in runs] == ["success"]
        assert "k-123456" not in str(runs[0].request) + str(runs[0].response)


def test_lost_answer_then_retry_gives_one_invoice(app, sales, admin, ledger, connection):
    ledger.ledger.faults["lost_answer_rate"] = 1.0
    ledger.ledger.lost_answer_sleep = 1.0
    won_deal(sales, admin)
    drain(app, rounds=1)
    assert len(ledger.ledger.invoices) == 1  # created, but we never heard back
    ledger.ledger.faults["lost_answer_rate"] = 0.0
    with app.app_context():
        event = db.session.query(OutboxEvent).one()
        assert event.state == OutboxState.PENDING
        assert event.attempts == 1
        event.available_at = event.created_at  # due now
        db.session.commit()
    drain(app)
    assert len(ledger.ledger.invoices) == 1
    with app.app_context():
        assert db.session.query(OutboxEvent).one().state == OutboxState.DONE
        assert [r.outcome.value for r in db.session.query(SyncRun).order_by(SyncRun.id)] == ["uncertain", "success"]
        assert db.session.query(HubInvoice).one().links[0].external_number == "ML-000001"

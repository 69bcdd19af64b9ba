"""An alert raises a purchase request in the ERP that keeps the stock: in a real Tryton (as an
approved purchase requisition, which Tryton turns into its purchase request) and in the Mini
Ledger. One per alert, whatever is clicked twice; linked, shown on the alert, audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from connectors.base import Connector
from connectors.errors import PermanentError, UnsupportedOperation
from connectors.tryton.connector import TrytonConnector
from hub.extensions import db
from hub.models import PurchaseRequest, SyncRun
from hub.sync.worker import drain
from mappings.defaults import default_mapping
from tests.conftest import LEDGER_KEY, make_connection
from tests.support.api_errors import assert_error
from tests.support.stock import inbox, pull, rule, set_stock


def ledger_requests(ledger):
    return ledger.ledger.purchase_requests


def test_an_alert_raises_one_purchase_request_for_target_minus_projected(app, call, users, ledger, alert):
    ops = call("operations")
    r = ops.post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={})
    assert r.status_code == 201, r.json
    link = r.json
    assert (link["state"], link["sku"], link["warehouse_code"], link["quantity"]) == (
        "requested",
        "PUMP",
        "WH1",
        "21.0000",  # target 30 − projected 9
    )
    assert (link["connection"], link["external_number"], link["created_by_id"]) == (
        "Ledger",
        "PR-000001",
        users["operations"]["id"],
    )
    (made,) = ledger_requests(ledger).values()
    assert (made["sku"], made["warehouse"], Decimal(made["quantity"])) == ("PUMP", "WH1", Decimal(21))
    assert requests.get(link["url"], headers={"X-Api-Key": LEDGER_KEY}, timeout=5).json()["id"] == made["id"]

    again = ops.post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={"quantity": 5})
    assert (again.status_code, again.json["id"], again.json["quantity"]) == (200, link["id"], "21.0000")
    assert len(ledger_requests(ledger)) == 1

    shown = ops.get(f"/api/v1/alerts/{alert['id']}").json["purchase_request"]
    assert (shown["id"], shown["external_id"]) == (link["id"], made_id(ledger))
    assert inbox(call)[0]["purchase_request"]["state"] == "requested"

    audit = call("admin").get("/api/v1/audit?entity=purchase_requests&action=create").json["items"]
    assert [(e["entity_id"], e["actor_id"]) for e in audit] == [(str(link["id"]), users["operations"]["id"])]
    with app.app_context():
        runs = [r.outcome.value for r in db.session.query(SyncRun).filter_by(operation="purchase_request")]
        assert runs == ["success"]


def made_id(ledger) -> str:
    (made,) = ledger_requests(ledger).values()
    return str(made["id"])


def test_quantity_can_be_given_and_is_validated(call, ledger, alert):
    ops = call("operations")
    path = f"/api/v1/alerts/{alert['id']}/purchase-request"
    for bad in (0, -3, "lots", 1.23456, True):
        assert_error(ops.post(path, json={"quantity": bad}), 422, "quantity")
    assert_error(ops.post(path, json={"connection_id": 999}), 422, "connection_id")
    assert ledger_requests(ledger) == {}
    r = ops.post(path, json={"quantity": "12.5"})
    assert (r.status_code, r.json["quantity"]) == (201, "12.5000")


def test_who_may_and_what_cannot_be_requested(app, call, ledger, alert):
    assert_error(call("sales").post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={}), 403)
    assert_error(call("finance").post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={}), 403)
    assert_error(call("operations").post("/api/v1/alerts/9999/purchase-request", json={}), 404)
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 50, "reserved": 0})
    pull(call, alert_connection(app))
    drain(app)
    assert_error(call("operations").post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={}), 409)
    assert ledger_requests(ledger) == {}


def alert_connection(app) -> int:
    from hub.models import Connection

    with app.app_context():
        return db.session.query(Connection).filter_by(name="Ledger").one().id


def test_a_target_that_fails_is_asked_again_under_the_same_reference(app, call, ledger, alert):
    ops = call("operations")
    path = f"/api/v1/alerts/{alert['id']}/purchase-request"
    requests.put(f"{ledger.url}/_faults", json={"error_rate": 1.0}, timeout=5)
    r = ops.post(path, json={})
    assert_error(r, 502, code="upstream_error")
    failed = ops.get(f"/api/v1/alerts/{alert['id']}").json["purchase_request"]
    assert failed["state"] == "failed"
    assert "503" in failed["error"]

    requests.put(f"{ledger.url}/_faults", json={"error_rate": 0.0}, timeout=5)
    r = ops.post(path, json={})
    assert (r.status_code, r.json["id"], r.json["state"], r.json["error"]) == (200, failed["id"], "requested", None)
    assert len(ledger_requests(ledger)) == 1
    with app.app_context():
        assert db.session.query(PurchaseRequest).count() == 1


def test_connectors_without_purchasing_say_so():
    class Books(Connector):
        type_name, label = "books", "Books"

        def test_connection(self):
            return "ok"

        def push_invoice(self, doc):
            raise NotImplementedError

        def find_invoice(self, key):
            return None

    with pytest.raises(UnsupportedOperation, match="Books does not take purchase requests"):
        Books({}, mapping=default_mapping("mini_ledger")).create_purchase_request("PUMP", None, Decimal(1), "ref")


def test_an_alert_on_tryton_stock_becomes_one_purchase_request_in_tryton(app, call, admin, tryton_db):
    pump = admin.post(
        "/api/v1/products", json={"sku": "PUMP-100", "name": "Pump", "list_price": "1249.00", "currency": "EUR"}
    ).json
    connection_id = make_connection(app, "Tryton", "tryton", tryton_db.config)
    rule(call, pump["id"], 45, 100)  # the ready database holds 40 PUMP-100 in WH
    pull(call, connection_id)
    drain(app)
    (alert,) = inbox(call)
    ops = call("operations")

    first = ops.post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={})
    assert first.status_code == 201, first.json
    assert (first.json["state"], first.json["quantity"], first.json["warehouse_code"]) == ("requested", "60.0000", "WH")
    second = ops.post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={})
    assert (second.status_code, second.json["external_id"]) == (200, first.json["external_id"])

    tryton = TrytonConnector(tryton_db.config)
    made = tryton.search_read(
        "purchase.request", [], ["id", "product.code", "warehouse.code", "quantity", "state", "origin"]
    )
    assert len(made) == 1
    (request,) = made
    assert str(request["id"]) == first.json["external_id"]
    assert (request["product."]["code"], request["warehouse."]["code"], request["state"]) == ("PUMP-100", "WH", "draft")
    assert Decimal(str(request["quantity"])) == Decimal(60)
    (requisition,) = tryton.search_read("purchase.requisition", [], ["description", "state", "number"])
    assert requisition["description"] == f"crmhub-alert-{alert['id']}"
    assert requisition["number"] == first.json["external_number"]

    # Even with the hub's link gone (say it was lost with a crash), Tryton finds the first request.
    ref = tryton.create_purchase_request("PUMP-100", "WH", Decimal(60), f"crmhub-alert-{alert['id']}")
    assert ref.external_id == first.json["external_id"]
    assert len(tryton.search_read("purchase.request", [], ["id"])) == 1


def test_tryton_refuses_an_unknown_sku_naming_the_field(tryton_db):
    tryton = TrytonConnector(tryton_db.config)
    with pytest.raises(PermanentError, match="unknown in Tryton") as refused:
        tryton.create_purchase_request("NO-SUCH-SKU", "WH", Decimal(5), "crmhub-alert-x")
    assert refused.value.field == "sku"
    assert tryton.search_read("purchase.requisition", [], ["id"]) == []

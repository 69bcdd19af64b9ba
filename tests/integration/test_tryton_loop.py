"""The loop against a real Tryton 8.2 server: a won deal becomes exactly one Tryton invoice, whatever
happens on the way, and what Tryton does to it (payment, cancellation, stock) comes back."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from hub.extensions import db
from hub.models import HubInvoice, OutboxEvent, OutboxState, SyncRun
from hub.sync import jobs
from hub.sync.worker import drain
from tests.support.services import TrytonProxy
from tests.support.tryton_loop import connect, tryton_client, tryton_invoices, tryton_lines, win


def test_won_deal_becomes_one_posted_tryton_invoice(app, sales, products, tryton_db):
    connect(app, tryton_db.config, posted=True)
    deal = win(
        sales,
        "Tryton Customer One",
        [{"sku": "PUMP-100", "quantity": 2, "discount_percent": 10}, {"sku": "MANUAL-DE", "quantity": 3}],
    )
    number = deal["invoices"][0]["number"]
    drain(app)

    (invoice,) = tryton_invoices(tryton_db, number)
    assert invoice["state"] == "posted"
    assert invoice["party."]["name"] == "Tryton Customer One"
    # 2 × 1249.00 − 10 % = 2248.20 at 19 %, 3 × 12.00 = 36.00 at 7 %
    assert (invoice["untaxed_amount"], invoice["tax_amount"], invoice["total_amount"]) == (
        Decimal("2284.20"),
        Decimal("429.68"),
        Decimal("2713.88"),
    )
    assert tryton_lines(tryton_db, invoice) == [
        ("MANUAL-DE", 3.0, Decimal("12.0000"), [Decimal("0.07")]),
        ("PUMP-100", 2.0, Decimal("1124.1000"), [Decimal("0.19")]),
    ]
    assert deal["total"] == "2713.88"  # the hub and Tryton agree to the cent

    shown = sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]
    assert shown["links"][0]["external_number"] == invoice["number"]
    assert shown["links"][0]["state"] == "posted"
    runs = call_runs(app)
    assert [r.outcome.value for r in runs] == ["success"]
    assert tryton_db.password not in json.dumps(runs[0].request)


def call_runs(app) -> list[SyncRun]:
    with app.app_context():
        runs = db.session.query(SyncRun).order_by(SyncRun.id).all()
        db.session.expunge_all()
        return runs


@pytest.mark.parametrize("posted", [False, True], ids=["draft", "posted"])
def test_lost_answer_then_retry_gives_one_invoice(app, sales, products, tryton_db, posted):
    proxy = TrytonProxy(tryton_db.url)
    try:
        connect(app, {**tryton_db.config, "url": proxy.url}, posted=posted)
        proxy.armed = True
        deal = win(sales, "Tryton Customer Two", [{"sku": "PUMP-100", "quantity": 1}])
        drain(app, rounds=1)
        assert proxy.swallowed == 1
        with app.app_context():
            event = db.session.query(OutboxEvent).one()
            assert (event.state, event.attempts) == (OutboxState.PENDING, 1)
            event.available_at = event.created_at  # due now rather than after the backoff
            db.session.commit()
        drain(app)
    finally:
        proxy.stop()
    number = deal["invoices"][0]["number"]
    # One invoice: a draft is found on the retry and linked; when the connection posts, the draft the
    # lost answer left (its taxes never aligned, never posted) is taken back and made again, posted.
    (invoice,) = tryton_invoices(tryton_db, number)
    assert invoice["state"] == ("posted" if posted else "draft")
    assert Decimal(str(invoice["total_amount"])) == Decimal(deal["invoices"][0]["total"])
    assert [r.outcome.value for r in call_runs(app)] == ["uncertain", "success"]
    with app.app_context():
        link = db.session.query(HubInvoice).one().links[0]
        assert (link.external_id, link.state) == (str(invoice["id"]), invoice["state"])


def test_unknown_sku_is_parked_naming_it_then_retried(app, sales, admin, tryton_db):
    connect(app, tryton_db.config)
    admin.post("/api/v1/products", json={"sku": "NEW-GADGET", "name": "Gadget", "list_price": "10", "currency": "EUR"})
    deal = win(sales, "Tryton Customer Three", [{"sku": "NEW-GADGET", "quantity": 1}])
    drain(app)
    (failed,) = admin.get("/api/v1/sync/failed").json["items"]
    assert "NEW-GADGET" in failed["last_error"]
    assert failed["last_error"].startswith("Tryton (tryton) refused it")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]["state"] == "failed"

    tryton_db.run("add-product", "NEW-GADGET", "Gadget", "10")
    assert admin.post(f"/api/v1/sync/failed/{failed['id']}/retry").status_code == 200
    drain(app)
    assert admin.get("/api/v1/sync/failed").json["total"] == 0
    assert len(tryton_invoices(tryton_db, deal["invoices"][0]["number"])) == 1


def test_expired_session_logs_in_again(tryton_db):
    client = tryton_client(tryton_db)
    client.test_connection()
    # End the session on the server, as Tryton does after its idle timeout.
    _login, _user_id, token = base64.b64decode(client._auth.split()[1]).decode().split(":")
    client._post("common.db.logout", [], changes_data=False)
    client.take_exchanges()
    assert client.find_invoices(["no-such-reference"]) == {}
    statuses = [(e.url.split()[-1], e.status) for e in client.take_exchanges()]
    assert statuses == [
        ("model.account.invoice.search_read", 401),
        ("common.db.login", 200),
        ("model.account.invoice.search_read", 200),
    ]
    assert base64.b64decode(client._auth.split()[1]).decode().split(":")[2] != token


def test_lost_after_won_cancels_the_tryton_invoice(app, sales, products, tryton_db):
    connect(app, tryton_db.config)
    deal = win(sales, "Tryton Customer Four", [{"sku": "PUMP-100", "quantity": 1}])
    drain(app)
    r = sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "Customer withdrew"})
    assert r.status_code == 200
    drain(app)
    (invoice,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
    assert invoice["state"] == "cancelled"
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]["state"] == "cancelled"


def test_paid_in_tryton_shows_paid_on_the_hub(app, sales, finance_call, products, tryton_db):
    connect(app, tryton_db.config, posted=True)
    deal = win(sales, "Tryton Customer Five", [{"sku": "MANUAL-DE", "quantity": 10}])  # 128.40
    drain(app)
    (invoice,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])

    tryton_db.run("pay", str(invoice["id"]), "--amount", "100.00")
    jobs.pull_invoice_status()
    hub_invoice = finance_call.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json
    assert (hub_invoice["state"], hub_invoice["amount_paid"]) == ("partially_paid", "100.00")

    tryton_db.run("pay", str(invoice["id"]))
    jobs.pull_invoice_status()
    hub_invoice = finance_call.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json
    assert (hub_invoice["state"], hub_invoice["amount_paid"]) == ("paid", "128.40")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]["state"] == "paid"


@pytest.fixture
def finance_call(call):
    return call("finance")


def test_stock_from_tryton_raises_and_resolves_an_alert(app, call, admin, products, tryton_db):
    connection_id = connect(app, tryton_db.config)
    ops = call("operations")
    pump = admin.get("/api/v1/products?sku=PUMP-100").json["items"][0]
    assert (
        ops.post(
            "/api/v1/reorder-rules", json={"product_id": pump["id"], "reorder_point": 10, "target_level": 50}
        ).status_code
        == 201
    )

    def pull():
        assert ops.post(f"/api/v1/connections/{connection_id}/pull-stock", json={}).status_code == 202
        drain(app)

    pull()  # the ready database holds 40 PUMP-100 in WH
    levels = {s["sku"]: s for s in ops.get("/api/v1/stock?per_page=200").json["items"]}
    assert (levels["PUMP-100"]["warehouse"]["code"], levels["PUMP-100"]["on_hand"]) == ("WH", "40.0000")
    assert "SVC-INST" not in levels  # services keep no stock
    assert ops.get("/api/v1/alerts").json["items"] == []

    tryton_db.run("set-stock", "PUMP-100=6")  # counted in Tryton: only 6 left
    pull()
    (alert,) = ops.get("/api/v1/alerts").json["items"]
    assert alert["explanation"].startswith("on hand 6, reserved 0 → projected 6 < reorder point 10")
    assert "from Tryton" in alert["explanation"]

    tryton_db.run("set-stock", "PUMP-100=60")  # restocked
    pull()
    assert ops.get("/api/v1/alerts").json["items"] == []
    assert ops.get(f"/api/v1/alerts/{alert['id']}").json["state"] == "resolved"

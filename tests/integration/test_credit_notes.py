"""A paid invoice whose deal is lost is credited, not cancelled (issue 22): against a real Tryton
8.2 and the Mini Ledger, exactly one credit note of the invoice's total, shown to finance, and none
more when the cancel runs again after a lost answer."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from connectors.documents import ExternalRef
from connectors.errors import PermanentError
from hub.extensions import db
from hub.models import CreditNote, DocumentMode, OutboxEvent, OutboxState
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.onec_soap import win as onec_win
from tests.support.outbox_deals import won_deal
from tests.support.services import TrytonProxy
from tests.support.tryton_loop import connect, tryton_client, tryton_invoices, win


@pytest.fixture
def products(admin):
    for sku, price, tax in [("PUMP-100", "1249.00", "0.19"), ("MANUAL-DE", "12.00", "0.07")]:
        r = admin.post(
            "/api/v1/products", json={"sku": sku, "name": sku, "list_price": price, "currency": "EUR", "tax_rate": tax}
        )
        assert r.status_code == 201, r.json


@pytest.fixture
def finance(call):
    return call("finance")


def credit_notes_in_tryton(tryton_db, invoice: dict) -> list[dict]:
    origins = [f"account.invoice.line,{line_id}" for line_id in invoice["lines"]]
    return tryton_client(tryton_db).search_read(
        "account.invoice",
        [["type", "=", "out"], ["lines.origin", "in", origins]],
        ["id", "number", "state", "total_amount", "party.name", "amount_to_pay"],
    )


def lose(sales, deal: dict) -> None:
    r = sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "Customer withdrew"})
    assert r.status_code == 200, r.json


def cancel_events(app) -> list[OutboxEvent]:
    with app.app_context():
        events = db.session.query(OutboxEvent).filter_by(operation="cancel_invoice").all()
        db.session.expunge_all()
        return events


def retry_now(app) -> None:
    """The parked-for-retry cancel is due now rather than after its backoff."""
    with app.app_context():
        event = db.session.query(OutboxEvent).filter_by(operation="cancel_invoice").one()
        assert (event.state, event.attempts) == (OutboxState.PENDING, 1)
        event.available_at = event.created_at
        db.session.commit()


def test_a_paid_tryton_invoice_of_a_lost_deal_gets_one_credit_note(app, sales, finance, products, tryton_db):
    proxy = TrytonProxy(tryton_db.url)
    try:
        connect(app, {**tryton_db.config, "url": proxy.url}, posted=True)
        deal = win(sales, "Credit Customer One", [{"sku": "MANUAL-DE", "quantity": 10}])  # 128.40
        drain(app)
        (invoice,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
        tryton_db.run("pay", str(invoice["id"]))
        # What the hub did before: Tryton refuses to cancel the paid invoice.
        with pytest.raises(PermanentError, match="cancel"):
            tryton_client(tryton_db).cancel_invoice(ExternalRef("tryton", str(invoice["id"])))

        lose(sales, deal)
        proxy.swallow, proxy.armed = b"wizard.account.invoice.credit.execute", True
        drain(app, rounds=1)  # Tryton made the credit note, but its answer was lost
        assert proxy.swallowed == 1
        retry_now(app)
        drain(app)
    finally:
        proxy.stop()

    (note,) = credit_notes_in_tryton(tryton_db, invoice)
    assert (note["state"], note["total_amount"], note["party."]["name"]) == (
        "posted",
        Decimal("-128.40"),
        "Credit Customer One",
    )
    assert note["amount_to_pay"] == Decimal("-128.40")  # the customer's credit
    (paid,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
    assert paid["state"] == "paid"
    (event,) = cancel_events(app)
    assert event.state == OutboxState.DONE

    shown = finance.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json
    assert shown["state"] == "cancelled"
    (link,) = shown["links"]
    assert link["state"] == "paid"
    assert (link["credit_note"]["external_number"], link["credit_note"]["amount"]) == (note["number"], "128.40")
    assert link["credit_note"]["url"].endswith(f"/model/account.invoice/{note['id']}")
    listed = finance.get(f"/api/v1/invoices?deal_id={deal['id']}").json["items"][0]
    assert listed["links"][0]["credit_note"]["external_number"] == note["number"]
    page = finance.get(f"/invoices/{deal['invoices'][0]['id']}")
    assert f"Credited by credit note <strong>{note['number']}</strong> of" in page.text


def test_a_partly_paid_tryton_invoice_is_credited_in_full(app, sales, finance, products, tryton_db):
    connect(app, tryton_db.config, posted=True)
    deal = win(sales, "Credit Customer Two", [{"sku": "PUMP-100", "quantity": 1}])  # 1486.31
    drain(app)
    (invoice,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
    tryton_db.run("pay", str(invoice["id"]), "--amount", "100.00")

    lose(sales, deal)
    drain(app)

    (note,) = credit_notes_in_tryton(tryton_db, invoice)
    assert (note["state"], note["total_amount"]) == ("posted", -invoice["total_amount"])
    link = finance.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json["links"][0]
    assert (link["state"], link["credit_note"]["amount"]) == ("partially_paid", deal["total"])


def test_a_posted_unpaid_tryton_invoice_is_cancelled_against_its_credit_note(app, sales, finance, products, tryton_db):
    proxy = TrytonProxy(tryton_db.url)
    try:
        connect(app, {**tryton_db.config, "url": proxy.url}, posted=True)
        deal = win(sales, "Credit Customer Four", [{"sku": "MANUAL-DE", "quantity": 2}])  # 25.68
        drain(app)
        (invoice,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
        assert invoice["state"] == "posted"  # which Tryton refuses to cancel (cancel_invoice_out is off)

        lose(sales, deal)
        # Tryton credits and cancels in the one call, whose answer is lost: the retry finds the
        # invoice cancelled already, and must still learn the credit note's number.
        proxy.swallow, proxy.armed = b"wizard.account.invoice.credit.execute", True
        drain(app, rounds=1)
        assert proxy.swallowed == 1
        retry_now(app)
        drain(app)
    finally:
        proxy.stop()

    (cancelled,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
    assert cancelled["state"] == "cancelled"
    (note,) = credit_notes_in_tryton(tryton_db, invoice)
    assert (note["state"], note["total_amount"]) == ("paid", Decimal("-25.68"))  # reconciled with the invoice
    (event,) = cancel_events(app)
    assert event.state == OutboxState.DONE
    link = finance.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json["links"][0]
    assert (link["state"], link["credit_note"]["external_number"]) == ("cancelled", note["number"])


def test_an_unpaid_tryton_draft_is_still_cancelled_without_a_credit_note(app, sales, finance, products, tryton_db):
    connect(app, tryton_db.config)
    deal = win(sales, "Credit Customer Three", [{"sku": "MANUAL-DE", "quantity": 1}])
    drain(app)
    lose(sales, deal)
    drain(app)

    (invoice,) = tryton_invoices(tryton_db, deal["invoices"][0]["number"])
    assert invoice["state"] == "cancelled"
    assert credit_notes_in_tryton(tryton_db, invoice) == []
    link = finance.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json["links"][0]
    assert (link["state"], link["credit_note"]) == ("cancelled", None)


def pay_in_ledger(ledger, amount: str) -> None:
    (invoice,) = ledger.ledger.invoices.values()
    r = ledger.app.test_client().post(
        f"/api/invoices/{invoice['id']}/payments", json={"amount": amount}, headers={"X-Api-Key": ledger.api_key}
    )
    assert r.status_code == 200


def test_a_paid_ledger_invoice_of_a_lost_deal_gets_one_credit_note(app, sales, admin, finance, ledger, connection):
    deal = won_deal(sales, admin)  # 2 × 19.90, no tax
    drain(app)
    pay_in_ledger(ledger, "39.80")
    lose(sales, deal)
    ledger.ledger.faults["lost_answer_rate"] = 1.0
    ledger.ledger.lost_answer_sleep = 3.0  # longer than the connection's timeout
    drain(app, rounds=1)
    ledger.ledger.faults["lost_answer_rate"] = 0.0
    retry_now(app)
    drain(app)

    (note,) = ledger.ledger.credit_notes.values()
    (invoice,) = ledger.ledger.invoices.values()
    assert (note["invoice_id"], note["total"], note["status"]) == (invoice["id"], invoice["total"], "posted")
    assert note["reference"] == f"{deal['invoices'][0]['number']}-CN"
    assert invoice["status"] == "paid"  # kept: the ledger cancels no paid invoice
    link = finance.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json["links"][0]
    assert (link["credit_note"]["external_number"], link["credit_note"]["amount"]) == (note["number"], "39.80")
    with app.app_context():
        assert db.session.query(CreditNote).count() == 1
    page = finance.get("/invoices")
    assert f"credited by {note['number']}" in page.text
    # Sales sees it on the deal, finance in the CSV beside the invoice it credits.
    deal_page = sales.get(f"/deals/{deal['id']}")
    assert f"Credited by credit note <strong>{note['number']}</strong> of" in deal_page.text
    (row,) = csv.DictReader(io.StringIO(finance.get("/invoices.csv").data.decode("utf-8-sig")))
    assert row["credit_notes"] == f"Ledger:{note['number']}:39.80"


def test_an_unpaid_ledger_invoice_is_cancelled_not_credited(app, sales, admin, finance, ledger, connection):
    deal = won_deal(sales, admin)
    drain(app)
    lose(sales, deal)
    drain(app)

    (invoice,) = ledger.ledger.invoices.values()
    assert invoice["status"] == "cancelled"
    assert ledger.ledger.credit_notes == {}


@pytest.fixture
def roubles(admin):
    r = admin.post(
        "/api/v1/products",
        json={"sku": "РК-7", "name": "РК-7", "list_price": "100.00", "currency": "RUB", "tax_rate": "0.10"},
    )
    assert r.status_code == 201, r.json


def test_a_paid_invoice_in_a_target_without_credit_notes_fails_saying_so(app, sales, finance, roubles, onec):
    make_connection(app, "1С", "onec_soap", onec.config, document_mode=DocumentMode.POSTED)
    deal = onec_win(sales, [{"sku": "РК-7", "quantity": 1}])  # 110.00
    drain(app)
    number = deal["invoices"][0]["number"]
    onec.pay(number, "110.00")
    lose(sales, deal)
    drain(app)

    (event,) = cancel_events(app)
    assert event.state == OutboxState.FAILED
    assert event.last_error == (
        f"{number} is paid in 1С (110.00 RUB), so it cannot be cancelled there, and 1C:Enterprise (web service) "
        "takes no credit notes through the hub: credit it in 1С by hand"
    )
    (created,) = onec.by_reference(number)
    assert created.state != "ПомеченНаУдаление"  # not cancelled behind finance's back
    link = finance.get(f"/api/v1/invoices/{deal['invoices'][0]['id']}").json["links"][0]
    assert link["credit_note"] is None

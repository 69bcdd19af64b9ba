"""Marking a deal won under concurrent requests: exactly one live invoice per deal, whatever arrives
at once (double clicks, two tabs, client retries), on SQLite and PostgreSQL alike.

Races are run two ways: many threads released together by a barrier (what happens, happens; the
invariants must hold), and two requests in a fixed order, the first holding the deal's lock while
the second arrives (the second must wait, then decide from what the first committed)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hub.extensions import db
from hub.models import HubInvoice, InvoiceState, OutboxEvent
from tests.conftest import Caller
from tests.support.races import at_once, in_order


def invoices_of(app, deal_id: int) -> list[HubInvoice]:
    with app.app_context():
        found = db.session.scalars(select(HubInvoice).where(HubInvoice.deal_id == deal_id).order_by(HubInvoice.id))
        out = list(found)
        db.session.expunge_all()
        return out


def push_events(app) -> list[tuple[int, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(OutboxEvent.invoice_id, OutboxEvent.connection_id).where(OutboxEvent.operation == "push_invoice")
        )
        return sorted(tuple(r) for r in rows)


def test_twenty_concurrent_won_requests_make_one_invoice_and_one_push_per_connection(app, users, deal, two_connections):
    answers = at_once(app, users, [("POST", f"/api/v1/deals/{deal['id']}/won", None)] * 20)

    assert [r.status_code for r in answers] == [200] * 20, [r.json for r in answers if r.status_code != 200]
    (invoice,) = invoices_of(app, deal["id"])
    # Every caller is told about the same invoice: won is idempotent.
    assert {tuple(i["number"] for i in r.json["invoices"]) for r in answers} == {(invoice.number,)}
    assert {r.json["status"] for r in answers} == {"won"}
    assert push_events(app) == sorted((invoice.id, c) for c in two_connections)
    history = Caller(app.test_client(), users["sales"]["token"]).get(f"/api/v1/deals/{deal['id']}/stage-history")
    assert [h["to_stage"]["kind"] for h in history.json].count("won") == 1


def test_won_racing_lost_leaves_at_most_one_live_invoice_and_agrees_with_the_deal(app, users, deal, two_connections):
    path = f"/api/v1/deals/{deal['id']}"
    requests = [("POST", f"{path}/won", None), ("POST", f"{path}/lost", {"reason": "went elsewhere"})] * 5
    answers = at_once(app, users, requests)

    assert [r.status_code for r in answers] == [200] * 10
    final = Caller(app.test_client(), users["sales"]["token"]).get(path).json
    invoices = invoices_of(app, deal["id"])
    live = [i for i in invoices if i.state != InvoiceState.CANCELLED]
    history = Caller(app.test_client(), users["sales"]["token"]).get(f"{path}/stage-history").json
    wins = sum(h["to_stage"]["kind"] == "won" for h in history)
    # Each move to won made one invoice, each move away cancelled it; the deal says which is last.
    assert len(invoices) == wins
    assert len(live) == (1 if final["status"] == "won" else 0)
    assert history[-1]["to_stage"]["kind"] == final["status"]


def test_won_then_lost_in_that_order_cancels_the_one_invoice(app, users, deal, two_connections, monkeypatch):
    path = f"/api/v1/deals/{deal['id']}"
    won, lost = in_order(
        app, users, monkeypatch, ("POST", f"{path}/won", None), ("POST", f"{path}/lost", {"reason": "no budget"})
    )
    assert (won.status_code, lost.status_code) == (200, 200)
    assert lost.json["status"] == "lost"
    (invoice,) = invoices_of(app, deal["id"])
    assert invoice.state == InvoiceState.CANCELLED


def test_lost_then_won_in_that_order_leaves_a_won_deal_with_one_invoice(app, users, deal, two_connections, monkeypatch):
    path = f"/api/v1/deals/{deal['id']}"
    lost, won = in_order(
        app, users, monkeypatch, ("POST", f"{path}/lost", {"reason": "no budget"}), ("POST", f"{path}/won", None)
    )
    assert (lost.status_code, won.status_code) == (200, 200)
    assert won.json["status"] == "won"
    (invoice,) = invoices_of(app, deal["id"])
    assert invoice.state == InvoiceState.PENDING
    assert [i["number"] for i in won.json["invoices"]] == [invoice.number]


NEW_LINES = [{"description": "Pump XL", "quantity": "3", "unit_price": "250.00", "tax_rate": "0.19"}]


def test_a_lines_change_that_holds_the_lock_is_what_the_won_invoice_snapshots(
    app, users, deal, two_connections, monkeypatch
):
    path = f"/api/v1/deals/{deal['id']}"
    patch, won = in_order(app, users, monkeypatch, ("PATCH", path, {"lines": NEW_LINES}), ("POST", f"{path}/won", None))
    assert (patch.status_code, won.status_code) == (200, 200)
    (invoice,) = invoices_of(app, deal["id"])
    assert [(ln["description"], Decimal(ln["quantity"])) for ln in invoice.snapshot["lines"]] == [("Pump XL", 3)]
    assert invoice.total == Decimal(won.json["total"]) == Decimal(patch.json["total"])


def test_a_lines_change_after_the_won_request_took_the_lock_is_refused(app, users, deal, two_connections, monkeypatch):
    path = f"/api/v1/deals/{deal['id']}"
    won, patch = in_order(app, users, monkeypatch, ("POST", f"{path}/won", None), ("PATCH", path, {"lines": NEW_LINES}))
    assert (won.status_code, patch.status_code) == (200, 409)
    assert patch.json["errors"] == {"lines": ["Frozen on a won deal."]}
    (invoice,) = invoices_of(app, deal["id"])
    assert [(ln["description"], Decimal(ln["quantity"])) for ln in invoice.snapshot["lines"]] == [("Pump", 2)]
    final = Caller(app.test_client(), users["sales"]["token"]).get(path).json
    assert [ln["description"] for ln in final["lines"]] == ["Pump"]


def test_won_racing_a_lines_change_snapshots_the_committed_lines(app, users, deal, two_connections):
    path = f"/api/v1/deals/{deal['id']}"
    won, patch = at_once(app, users, [("POST", f"{path}/won", None), ("PATCH", path, {"lines": NEW_LINES})])

    assert won.status_code == 200
    assert patch.status_code in (200, 409)
    (invoice,) = invoices_of(app, deal["id"])
    final = Caller(app.test_client(), users["sales"]["token"]).get(path).json

    def content(lines: list[dict]) -> list[tuple]:
        return [(ln["description"], Decimal(ln["quantity"]), Decimal(ln["total"])) for ln in lines]

    snapshot = content(invoice.snapshot["lines"])
    assert snapshot == content(final["lines"])
    assert invoice.total == Decimal(final["total"])
    assert snapshot[0][0] == ("Pump XL" if patch.status_code == 200 else "Pump")


def test_a_lost_deal_won_again_gets_a_second_invoice_after_the_first_is_cancelled(app, sales, deal, two_connections):
    path = f"/api/v1/deals/{deal['id']}"
    first = sales.post(f"{path}/won").json["invoices"][0]["number"]
    assert sales.post(f"{path}/lost", json={"reason": "changed their mind"}).status_code == 200
    again = sales.post(f"{path}/won")

    assert again.status_code == 200
    states = [(i.number, i.state) for i in invoices_of(app, deal["id"])]
    second = again.json["invoices"][-1]["number"]
    assert second != first
    assert states == [(first, InvoiceState.CANCELLED), (second, InvoiceState.PENDING)]


def test_the_database_refuses_a_second_live_invoice_for_one_deal(app, sales, deal, two_connections):
    sales.post(f"/api/v1/deals/{deal['id']}/won")
    with app.app_context():
        (invoice,) = db.session.scalars(select(HubInvoice)).all()
        row = {
            "deal_id": invoice.deal_id,
            "customer_id": invoice.customer_id,
            "customer_name": invoice.customer_name,
            "currency": invoice.currency,
            "issue_date": invoice.issue_date,
            "subtotal": invoice.subtotal,
            "tax_total": invoice.tax_total,
            "total": invoice.total,
            "snapshot": {},
        }
        for state in (InvoiceState.PENDING, InvoiceState.FAILED, InvoiceState.PAID):
            with pytest.raises(IntegrityError):
                db.session.execute(insert(HubInvoice.__table__).values({**row, "state": state.value}))
            db.session.rollback()
        # A cancelled one may stand beside it (a lost deal's old invoice).
        db.session.execute(insert(HubInvoice.__table__).values({**row, "state": InvoiceState.CANCELLED.value}))
        db.session.commit()

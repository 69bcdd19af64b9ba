"""A failed invoice is explained: the deal page and the API say why in plain words and whom to ask,
the target's own words go to finance and admins only, and the deal's owner gets one notice per
failure (not one per retry)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from connectors.errors import AuthError, MappingRefused, PermanentError, RetryableError
from hub.extensions import db
from hub.models import InvoiceNotice, Role
from hub.sync.failures import explain
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.invoice_failures import win, win_with_product
from tests.support.sessions import logged_in

SNAPSHOT = {
    "currency": "EUR",
    "total": "3301.26",
    "customer": {"name": "Acme GmbH"},
    "lines": [
        {"sku": "PUMP-100", "description": "Pump", "net": "2498.00", "tax_rate": "0.19"},
        {"sku": "VALVE-50", "description": "Valve", "net": "276.17", "tax_rate": "0.19"},
    ],
}


@pytest.fixture
def ghost(admin):
    """A product the hub sells and the demo Tryton does not know."""
    r = admin.post(
        "/api/v1/products",
        json={"sku": "GHOST-1", "name": "Ghost part", "list_price": "10.00", "currency": "EUR", "tax_rate": "0.19"},
    )
    assert r.status_code == 201, r.json


def notices_of(app, user_id: int) -> list[InvoiceNotice]:
    with app.app_context():
        return list(db.session.scalars(select(InvoiceNotice).where(InvoiceNotice.user_id == user_id)))


def test_unknown_product_in_real_tryton_is_explained_on_the_deal_page_and_its_owner_told_once(
    app, users, sales, admin, call, ghost, tryton_db
):
    make_connection(app, "Demo Tryton", "tryton", tryton_db.config)
    won = win(sales, "GHOST-1")
    drain(app)
    drain(app)  # a second run finds nothing to do and tells nobody again

    deal = sales.get(f"/api/v1/deals/{won['id']}").json
    (invoice,) = deal["invoices"]
    assert invoice["state"] == "failed"
    (problem,) = invoice["problems"]
    assert problem["connection"] == "Demo Tryton"
    assert problem["reason"] == "Demo Tryton does not know the product GHOST-1 (line 1)."
    assert problem["ask"] == "finance"
    assert problem["ask_people"] == ["Finance User <finance@example.com>"]
    assert problem["detail"] is None  # sales does not get Tryton's technical words
    # Finance does, on the invoice's answer.
    detail = call("finance").get(f"/api/v1/invoices/{invoice['id']}").json["problems"][0]["detail"]
    assert "create_products is off" in detail

    (notice,) = notices_of(app, users["sales"]["id"])
    assert notice.reason == problem["reason"]
    assert notice.read_at is None

    page = logged_in(app, users["sales"]["email"]).get(f"/deals/{won['id']}").get_data(as_text=True)
    assert "Not in any connected system" not in page
    assert "Demo Tryton does not know the product GHOST-1 (line 1)." in page
    assert "Ask finance: Finance User &lt;finance@example.com&gt;." in page
    assert "create_products is off" not in page
    # Finance's invoice page says the same, with Tryton's own words.
    page = logged_in(app, users["finance"]["email"]).get(f"/invoices/{invoice['id']}").get_data(as_text=True)
    assert "Demo Tryton does not know the product GHOST-1 (line 1)." in page
    assert "create_products is off" in page


def test_total_tryton_refuses_is_explained_and_told_once_per_failure(app, users, sales, admin, tryton_db, monkeypatch):
    """A total that Tryton computes differently (here: the hub's total put a cent off, as the rounding
    bug of issue 22 did) is refused; a retry by an admin that fails again is a second failure."""
    for sku in ("VALVE-50",):
        admin.post(
            "/api/v1/products",
            json={"sku": sku, "name": sku, "list_price": "96.90", "currency": "EUR", "tax_rate": "0.19"},
        )
    make_connection(app, "Demo Tryton", "tryton", tryton_db.config)
    from connectors.tryton import connector as tryton_module

    wrong_totals = tryton_module.TrytonConnector._wrong_totals
    monkeypatch.setattr(
        tryton_module.TrytonConnector,
        "_wrong_totals",
        lambda self, rows, ids, docs: wrong_totals(self, rows, ids, [_cent_more(d) for d in docs]),
    )
    won = win(sales, "VALVE-50")
    drain(app)

    (invoice,) = sales.get(f"/api/v1/deals/{won['id']}").json["invoices"]
    (problem,) = invoice["problems"]
    assert problem["reason"] == (
        "Demo Tryton works out a different total than the hub's €230.62, so the invoice was not booked there."
    )
    assert len(notices_of(app, users["sales"]["id"])) == 1

    (item,) = admin.get("/api/v1/sync/failed").json["items"]
    assert admin.post(f"/api/v1/sync/failed/{item['id']}/retry").status_code == 200
    drain(app)
    assert len(notices_of(app, users["sales"]["id"])) == 2


def _cent_more(doc):
    from dataclasses import replace
    from decimal import Decimal

    return replace(doc, total=doc.total + Decimal("0.01"))


def test_retries_before_giving_up_tell_the_owner_once(app, users, sales, admin, ledger, connection, monkeypatch):
    ledger.ledger.faults["error_rate"] = 1.0
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_RETRY_MAX_ATTEMPTS", 3)
        try:
            won = win_with_product(sales, admin)
            for _ in range(3):
                drain(app)
                _due_now(app)
        finally:
            ledger.ledger.faults["error_rate"] = 0.0
    (invoice,) = sales.get(f"/api/v1/deals/{won['id']}").json["invoices"]
    assert invoice["state"] == "failed"
    assert invoice["problems"][0]["reason"] == "Ledger could not be reached, so the invoice was not sent."
    assert invoice["problems"][0]["ask"] == "admin"
    assert len(notices_of(app, users["sales"]["id"])) == 1


def _due_now(app) -> None:
    from hub.models import OutboxEvent, OutboxState

    with app.app_context():
        for event in db.session.scalars(select(OutboxEvent).where(OutboxEvent.state == OutboxState.PENDING)):
            event.available_at = event.created_at
        db.session.commit()


@pytest.mark.parametrize(
    ("exc", "reason", "ask"),
    [
        (
            PermanentError("x", field="lines[1].unit_price"),
            "T cannot invoice line 2 (VALVE-50) at the hub's amount of €276.17.",
            Role.FINANCE,
        ),
        (
            PermanentError("x", field="lines[0].tax"),
            "T has no tax for the rate of 19% on line 1 (PUMP-100).",
            Role.FINANCE,
        ),
        (PermanentError("x", field="lines[1].sku"), "T does not know the product VALVE-50 (line 2).", Role.FINANCE),
        (PermanentError("x", field="contact_name"), "T could not find or create the customer Acme GmbH.", Role.FINANCE),
        (PermanentError("x", field="currency"), "T does not take invoices in EUR.", Role.FINANCE),
        (
            PermanentError("x", field="database"),
            "The connection to T is not set up to take invoices (its setting 'database').",
            Role.ADMIN,
        ),
        (PermanentError("x"), "T refused the invoice.", Role.FINANCE),
        (
            AuthError("x"),
            "T did not accept the hub's log-in, so the invoice was not sent. An admin must renew the "
            "connection's access; the invoice can then be sent again.",
            Role.ADMIN,
        ),
        (RetryableError("x"), "T could not be reached, so the invoice was not sent.", Role.ADMIN),
        (ValueError("x"), "Sending the invoice to T failed because of a fault in the hub.", Role.ADMIN),
    ],
)
def test_each_kind_of_failure_has_its_sentence_and_whom_to_ask(exc, reason, ask):
    explanation = explain(exc, "T", SNAPSHOT, gave_up=not isinstance(exc, PermanentError | AuthError))
    assert (explanation.english, explanation.ask) == (reason, ask)


def test_a_mapping_without_a_row_names_the_values(app):
    from mappings.spec import Problem, ProblemKind

    problem = Problem("lines[0].tax", "no row", ProblemKind.UNMAPPED, table="taxes", value="0.19")
    explanation = explain(MappingRefused((problem,)), "T", SNAPSHOT)
    assert explanation.english == "The hub's settings for T have no match for 0.19, so the invoice was not sent."
    assert explanation.ask == Role.ADMIN


def test_the_notices_page_lists_the_owners_notice_and_marks_it_read(app, users, sales, admin, ledger, connection):
    original = ledger.app.view_functions["create_invoice"]
    ledger.app.view_functions["create_invoice"] = lambda: ({"error": "customer is blocked", "message": "blocked"}, 422)
    try:
        won = win_with_product(sales, admin)
        drain(app)
    finally:
        ledger.app.view_functions["create_invoice"] = original
    browser = logged_in(app, users["sales"]["email"])
    board = browser.get("/board").get_data(as_text=True)
    assert re.search(r"Notices\s*\(1\)", board)
    page = browser.get("/notices").get_data(as_text=True)
    assert "Ledger refused the invoice." in page
    assert won["number"] in page
    (notice,) = notices_of(app, users["sales"]["id"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = browser.post(f"/notices/{notice.id}/read", data={"csrf_token": token})
    assert r.status_code == 302
    assert notices_of(app, users["sales"]["id"])[0].read_at is not None
    assert not re.search(r"Notices\s*\(\d+\)", browser.get("/board").get_data(as_text=True))
    # Another user's notice is not theirs to mark.
    other = logged_in(app, users["admin"]["email"])
    page = other.get("/notices").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert other.post(f"/notices/{notice.id}/read", data={"csrf_token": token}).status_code == 404


def test_the_api_lists_the_callers_notices_and_marks_one_read(
    app, users, sales, admin, call, ledger, connection, monkeypatch
):
    ledger.ledger.faults["error_rate"] = 1.0
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_RETRY_MAX_ATTEMPTS", 1)
        try:
            won = win_with_product(sales, admin)
            drain(app)
        finally:
            ledger.ledger.faults["error_rate"] = 0.0
    (notice,) = sales.get("/api/v1/notices?unread=true").json
    assert notice["deal_number"] == won["number"]
    assert notice["invoice_number"] == won["invoices"][0]["number"]
    assert (notice["connection"], notice["ask"]) == ("Ledger", "admin")
    assert notice["reason"] == "Ledger could not be reached, so the invoice was not sent."
    assert admin.get("/api/v1/notices").json == []
    assert admin.post(f"/api/v1/notices/{notice['id']}/read").status_code == 404
    assert sales.post(f"/api/v1/notices/{notice['id']}/read").json["read_at"] is not None
    assert sales.get("/api/v1/notices?unread=true").json == []
    assert len(sales.get("/api/v1/notices").json) == 1
    assert call(None).get("/api/v1/notices").status_code == 401

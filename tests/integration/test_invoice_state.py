"""One rule for what a target says became of an invoice (hub.sync.status.StateChanges), used by the
status pull and by 1C's order changes. Where the two must differ: a status pull always tells the
amount paid, 1C's "posted" or "cancelled" tells none, so they leave it as it is."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.documents import ExternalState
from connectors.onec.commerceml import OrderChange
from hub.exchange.orders import apply_changes
from hub.extensions import db
from hub.models import Connection, ExternalLink, HubInvoice, InvoiceState
from hub.sync.status import StateChanges
from tests.conftest import make_connection
from tests.support.onec_exchange import won_deal

PART = Decimal("100.00")


def _apply(link: ExternalLink, state: ExternalState, paid: Decimal | None) -> None:
    changes = StateChanges()
    changes.apply(link, state, paid)
    changes.record()


@pytest.fixture
def onec(app) -> int:
    return make_connection(app, "1C", "onec_exchange", {"username": "site-exchange", "password": "s3cret-exchange"})


@pytest.fixture
def invoice_id(sales, admin, onec) -> int:
    return won_deal(sales, admin)["invoices"][0]["id"]


def _invoice(invoice_id: int, *, state: InvoiceState | None = None, paid: Decimal = PART) -> HubInvoice:
    """The invoice with some payment already known (and a state, if given)."""
    invoice = db.session.get(HubInvoice, invoice_id)
    invoice.amount_paid = paid
    if state is not None:
        invoice.state = state
    return invoice


def _link(invoice: HubInvoice, connection_id: int) -> ExternalLink:
    link = ExternalLink(connection_id=connection_id, invoice=invoice, external_id=invoice.number, state="draft")
    link.amount_paid = PART
    db.session.add(link)
    return link


def test_posted_in_1c_leaves_the_amount_paid_as_it_is(app, onec, invoice_id):
    with app.app_context():
        invoice = _invoice(invoice_id)
        link = _link(invoice, onec)
        apply_changes(db.session.get(Connection, onec), [OrderChange(id=invoice.number, number=None, posted=True)])
        assert (invoice.state, invoice.amount_paid) == (InvoiceState.POSTED, PART)
        assert (link.state, link.amount_paid) == ("posted", PART)
        assert link.status_checked_at is not None


def test_posted_by_a_status_pull_takes_the_amount_it_tells(app, onec, invoice_id):
    with app.app_context():
        invoice = _invoice(invoice_id)
        link = _link(invoice, onec)
        _apply(link, ExternalState.POSTED, Decimal(0))
        assert (invoice.state, invoice.amount_paid) == (InvoiceState.POSTED, Decimal(0))
        assert (link.state, link.amount_paid) == ("posted", Decimal(0))


def test_cancelled_in_1c_leaves_the_amount_paid_as_it_is(app, onec, invoice_id):
    with app.app_context():
        invoice = _invoice(invoice_id)
        _link(invoice, onec)  # 1C acknowledged the order: only then may its changes apply
        apply_changes(db.session.get(Connection, onec), [OrderChange(id=invoice.number, number=None, cancelled=True)])
        assert (invoice.state, invoice.amount_paid) == (InvoiceState.CANCELLED, PART)


def test_paid_in_1c_pays_the_whole_invoice(app, onec, invoice_id):
    with app.app_context():
        invoice = _invoice(invoice_id)
        _link(invoice, onec)
        changes = [OrderChange(id=invoice.number, number=None, paid_on=invoice.issue_date)]
        apply_changes(db.session.get(Connection, onec), changes)
        link = db.session.scalar(select(ExternalLink).where(ExternalLink.invoice_id == invoice.id))
        assert (invoice.state, invoice.amount_paid) == (InvoiceState.PAID, invoice.total)
        assert (link.state, link.amount_paid) == ("paid", invoice.total)


@pytest.mark.parametrize("via_1c", [True, False])
def test_an_invoice_cancelled_in_the_hub_stays_cancelled_but_its_payment_is_kept(app, onec, invoice_id, via_1c):
    with app.app_context():
        invoice = _invoice(invoice_id, state=InvoiceState.CANCELLED)
        if via_1c:
            _link(invoice, onec)
            changes = [OrderChange(id=invoice.number, number=None, paid_on=invoice.issue_date)]
            apply_changes(db.session.get(Connection, onec), changes)
        else:
            _apply(_link(invoice, onec), ExternalState.PAID, invoice.total)
        assert (invoice.state, invoice.amount_paid) == (InvoiceState.CANCELLED, invoice.total)
        # The target cancelling it too is no change for the hub invoice, but is taken.
        link = db.session.scalar(select(ExternalLink).where(ExternalLink.invoice_id == invoice.id))
        _apply(link, ExternalState.CANCELLED, None)
        assert (invoice.state, link.state, invoice.amount_paid) == (InvoiceState.CANCELLED, "cancelled", invoice.total)

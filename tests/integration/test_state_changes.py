"""A file of 1C order changes is recorded in one recorder call (hub.sync.status.StateChanges), and
writes the rows that recording each order on its own wrote (links, hub invoices, their audit)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.documents import ExternalState
from connectors.onec.commerceml import OrderChange
from hub.exchange import orders
from hub.extensions import db
from hub.models import AuditEntry, Connection, ExternalLink, HubInvoice, InvoiceState
from hub.sync import results
from hub.sync.status import StateChanges
from tests.conftest import make_connection
from tests.support.onec_exchange import won_deal

PAYMENT = "Выплата безналичных денег"


class OneAtATime(StateChanges):
    """How 1C's changes were recorded before: a flush and a recorder call for each."""

    def apply(self, link, state, paid) -> None:
        super().apply(link, state, paid)
        self.record()


@pytest.fixture
def onec(app) -> int:
    return make_connection(app, "1C", "onec_exchange", {"username": "site-exchange", "password": "s3cret-exchange"})


@pytest.fixture
def recorded(monkeypatch) -> list[int]:
    """How many results each recorder call got."""
    calls: list[int] = []
    record = results.record

    def counted(batch) -> None:
        calls.append(len(batch))
        record(batch)

    monkeypatch.setattr(results, "record", counted)
    return calls


def _exported(app, sales, admin, onec: int, count: int) -> list[str]:
    """`count` invoices 1C acknowledged (a link each, as its exchange writes them): their numbers."""
    ids = [won_deal(sales, admin)["invoices"][0]["id"] for _ in range(count)]
    with app.app_context():
        connection = db.session.get(Connection, onec)
        invoices = [db.session.get(HubInvoice, invoice_id) for invoice_id in ids]
        for invoice in invoices:
            orders._link(connection, invoice)
        db.session.commit()
        return [invoice.number for invoice in invoices]


def _file(numbers: list[str]) -> list[OrderChange]:
    """One file: the first order posted (with 1C's number), the second paid, the third cancelled,
    the fourth paid in part by a payment document."""
    posted, paid, cancelled, in_part = numbers
    return [
        OrderChange(id=posted, number=None, posted=True, onec_number="1C-7"),
        OrderChange(id=paid, number=None, paid_on=date(2026, 12, 1)),
        OrderChange(id=cancelled, number=None, cancelled=True),
        _payment(in_part),
    ]


def _payment(number: str, key: str = "P-1") -> OrderChange:
    """A payment document of 100.00 on order `number`."""
    return OrderChange(id=key, number=key, operation=PAYMENT, amount=Decimal("100.00"), basis=number, paid=True)


def _rows(numbers: list[str]) -> list[tuple]:
    """Each invoice's state, amount paid, link and audit entries, in the order of `numbers`."""
    rows = []
    for number in numbers:
        invoice = db.session.scalar(select(HubInvoice).where(HubInvoice.number == number))
        link = db.session.scalar(select(ExternalLink).where(ExternalLink.invoice_id == invoice.id))
        audit = db.session.scalars(
            select(AuditEntry.changes)
            .where(AuditEntry.entity == HubInvoice.__tablename__, AuditEntry.entity_id == str(invoice.id))
            .where(AuditEntry.action == "update")
            .order_by(AuditEntry.id)
        ).all()
        rows.append((invoice.state, invoice.amount_paid, link.state, link.amount_paid, link.external_number, audit))
    return rows


def test_a_file_of_orders_is_recorded_in_one_call_with_the_rows_of_one_call_each(
    app, sales, admin, onec, recorded, monkeypatch
):
    before = _exported(app, sales, admin, onec, 4)
    now = _exported(app, sales, admin, onec, 4)
    with app.app_context():
        connection = db.session.get(Connection, onec)
        with monkeypatch.context() as old_way:
            old_way.setattr(orders, "StateChanges", OneAtATime)
            orders.apply_changes(connection, _file(before))
        db.session.commit()
        assert recorded == [1, 1, 1, 1]
        recorded.clear()

        orders.apply_changes(connection, _file(now))
        db.session.commit()
        assert recorded == [4]

        expected = _rows(before)
        assert _rows(now) == expected
        posted, paid, cancelled, in_part = (row[:5] for row in expected)
        total = db.session.scalar(select(HubInvoice.total).where(HubInvoice.number == now[1]))
        assert posted == (InvoiceState.POSTED, Decimal(0), "posted", Decimal(0), "1C-7")
        assert paid[:4] == (InvoiceState.PAID, total, "paid", total)
        assert cancelled[:3] == (InvoiceState.CANCELLED, Decimal(0), "cancelled")
        assert in_part[:4] == (InvoiceState.PARTIALLY_PAID, Decimal("100.00"), "partially_paid", Decimal("100.00"))


def test_two_changes_of_one_invoice_in_a_file_end_where_recording_each_ended(app, sales, admin, onec, recorded):
    """Posted, then paid in part by a payment document: one recorder call, and one audit entry from
    its state before the file to the last (recorded one at a time, it had one for each change)."""
    (number,) = _exported(app, sales, admin, onec, 1)
    with app.app_context():
        changes = [OrderChange(id=number, number=None, posted=True), _payment(number)]
        orders.apply_changes(db.session.get(Connection, onec), changes)
        db.session.commit()
        assert recorded == [1]
        ((state, paid, link_state, link_paid, _, audit),) = _rows([number])
        assert (state, paid, link_state, link_paid) == (InvoiceState.PARTIALLY_PAID, 100, "partially_paid", 100)
        assert [entry["state"]["new"] for entry in audit] == ["partially_paid"]


def test_a_change_reads_what_the_file_changed_before_it(app, sales, admin, onec, recorded):
    """A second payment adds to the first; a payment on an order the file cancelled is not counted."""
    paid_twice, cancelled = _exported(app, sales, admin, onec, 2)
    with app.app_context():
        changes = [
            OrderChange(id=cancelled, number=None, cancelled=True),
            _payment(paid_twice, "P-1"),
            _payment(paid_twice, "P-2"),
            _payment(cancelled, "P-3"),
        ]
        orders.apply_changes(db.session.get(Connection, onec), changes)
        db.session.commit()
        assert recorded == [2]
        twice, none = (row[:4] for row in _rows([paid_twice, cancelled]))
        assert twice == (InvoiceState.PARTIALLY_PAID, Decimal("200.00"), "partially_paid", Decimal("200.00"))
        assert none == (InvoiceState.CANCELLED, Decimal(0), "cancelled", Decimal(0))


@pytest.mark.parametrize(
    ("first", "then", "state"),
    [
        ("cancelled", "posted", InvoiceState.CANCELLED),
        ("posted", "cancelled", InvoiceState.CANCELLED),
        ("posted", "paid", InvoiceState.PAID),
    ],
)
def test_a_cancel_among_one_invoices_changes_wins_as_it_did_one_at_a_time(app, sales, admin, onec, first, then, state):
    """The two changes' net move, against both moves recorded in turn."""
    numbers = _exported(app, sales, admin, onec, 2)
    with app.app_context():
        links = [
            db.session.scalar(
                select(ExternalLink)
                .join(HubInvoice)
                .where(HubInvoice.number == number, ExternalLink.connection_id == onec)
            )
            for number in numbers
        ]
        paid = [Decimal("5.00"), None]
        for changes, link in ((StateChanges(), links[0]), (OneAtATime(), links[1])):
            changes.apply(link, ExternalState(first), paid[0])
            changes.apply(link, ExternalState(then), paid[1])
            changes.record()
        db.session.commit()
        ours, one_at_a_time = (row[:4] for row in _rows(numbers))
        assert ours == one_at_a_time
        assert ours == (state, Decimal("5.00"), then, Decimal("5.00"))

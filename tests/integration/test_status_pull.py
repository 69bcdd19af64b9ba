"""The scheduled status pull (hub.sync.status.pull_invoice_status) against Mini Ledgers: what it asks
the target about each open invoice, the run it records for each answer (a failure included, after
which it goes on to the next invoice), which changes it takes, and how many it counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.documents import ExternalRef
from hub.demo_erp.mini_ledger import LedgerServer
from hub.extensions import db
from hub.models import ExternalLink, HubInvoice, RunOutcome, SyncRun
from hub.sync import status
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY, make_connection
from tests.support.outbox_deals import won_deal


@pytest.fixture
def asked(monkeypatch) -> list[ExternalRef]:
    """Every reference the status pull asks a target about."""
    refs: list[ExternalRef] = []
    opened = status.open_connector

    def open_connector(connection):
        connector = opened(connection)
        answer = connector.invoice_status

        def invoice_status(ref: ExternalRef):
            refs.append(ref)
            return answer(ref)

        connector.invoice_status = invoice_status
        return connector

    monkeypatch.setattr(status, "open_connector", open_connector)
    return refs


def _pushed(app, sales, admin, count: int) -> list[int]:
    """`count` won deals pushed to every connection: their invoice ids."""
    ids = [won_deal(sales, admin)["invoices"][0]["id"] for _ in range(count)]
    drain(app)
    return ids


def _link(invoice_id: int, connection_id: int) -> ExternalLink:
    return db.session.scalar(
        select(ExternalLink).where(ExternalLink.invoice_id == invoice_id, ExternalLink.connection_id == connection_id)
    )


def _pay(ledger: LedgerServer, link: ExternalLink, amount: str) -> None:
    answer = ledger.app.test_client().post(
        f"/api/invoices/{link.external_id}/payments", json={"amount": amount}, headers={"X-Api-Key": LEDGER_KEY}
    )
    assert answer.status_code == 200, answer.json


def _runs() -> list[tuple]:
    rows = db.session.scalars(select(SyncRun).where(SyncRun.operation == "invoice_status").order_by(SyncRun.id))
    return [(run.outcome, run.object_type, run.object_id, run.error, run.request, run.response) for run in rows]


def test_each_open_invoice_is_asked_by_its_whole_reference_and_each_answer_is_recorded(
    app, sales, admin, ledger, connection, asked
):
    gone, paid = _pushed(app, sales, admin, 2)
    with app.app_context():
        gone_link, paid_link = _link(gone, connection), _link(paid, connection)
        number = paid_link.external_number
        paid_link.external_number = None  # the target tells it again
        db.session.commit()
        del ledger.ledger.invoices[int(gone_link.external_id)]  # deleted there by hand: it answers 404
        _pay(ledger, paid_link, "10.00")

        assert status.pull_invoice_status() == 1  # the failure counts no change, and stops nothing
        assert sorted(asked, key=lambda ref: int(ref.external_id)) == [
            ExternalRef("mini_ledger", gone_link.external_id, gone_link.external_number, gone_link.url),
            ExternalRef("mini_ledger", paid_link.external_id, None, paid_link.url),
        ]
        runs = {run[2]: run for run in _runs()}
        failed, changed = runs[gone], runs[paid]
        assert failed[:3] == (RunOutcome.FAILED, "invoice", gone)
        assert "404" in failed[3]
        assert failed[4] is not None  # what was asked, and what came back
        assert failed[5][-1]["status"] == 404
        assert changed[:4] == (RunOutcome.SUCCESS, "invoice", paid, None)
        assert changed[4] is not None
        assert changed[5][-1]["status"] == 200

        link = _link(paid, connection)
        assert (link.state, link.amount_paid, link.external_number) == ("partially_paid", Decimal("10.00"), number)
        assert link.status_checked_at is not None
        invoice = db.session.get(HubInvoice, paid)
        assert (invoice.state.value, invoice.amount_paid) == ("partially_paid", Decimal("10.00"))


def test_an_amount_alone_or_a_state_alone_is_a_change_and_each_counts(app, sales, admin, ledger, connection, asked):
    more, cancelled, unchanged = _pushed(app, sales, admin, 3)
    with app.app_context():
        links = {name: _link(i, connection) for name, i in (("more", more), ("cancelled", cancelled))}
        _pay(ledger, links["more"], "10.00")
        assert status.pull_invoice_status() == 1
        _pay(ledger, links["more"], "5.00")  # partially paid still: only the amount changes
        ledger.ledger.invoices[int(links["cancelled"].external_id)]["status"] = "cancelled"  # nothing paid
        assert status.pull_invoice_status() == 2
        more_link, cancelled_link, unchanged_link = (_link(i, connection) for i in (more, cancelled, unchanged))
        assert (more_link.state, more_link.amount_paid) == ("partially_paid", Decimal("15.00"))
        assert db.session.get(HubInvoice, more).amount_paid == Decimal("15.00")
        assert (cancelled_link.state, cancelled_link.amount_paid) == ("cancelled", Decimal(0))
        assert db.session.get(HubInvoice, cancelled).state.value == "cancelled"
        # Asked and unchanged: no run, but the link says when it was last asked.
        assert unchanged_link.status_checked_at is not None
        assert {run[2] for run in _runs()} == {more, cancelled}
        asked.clear()
        assert status.pull_invoice_status() == 0
        # Cancelled is final: not asked again.
        assert sorted(ref.external_id for ref in asked) == sorted([more_link.external_id, unchanged_link.external_id])


@pytest.fixture
def second(app):
    """A second Mini Ledger with its own connection: (server, connection id)."""
    with LedgerServer(api_key=LEDGER_KEY) as server:
        config = {"base_url": server.url, "api_key": LEDGER_KEY, "timeout": 2}
        yield server, make_connection(app, "Second", "mini_ledger", config)


def test_the_changes_of_every_connection_are_counted_and_one_connection_is_asked_alone(
    app, sales, admin, ledger, connection, second
):
    other, other_id = second
    (invoice,) = _pushed(app, sales, admin, 1)
    with app.app_context():
        _pay(ledger, _link(invoice, connection), "10.00")
        _pay(other, _link(invoice, other_id), "10.00")
        asked = other.ledger.requests
        assert status.pull_invoice_status(connection) == 1
        assert other.ledger.requests == asked  # the other connection was not asked
        assert (_link(invoice, other_id).state, _link(invoice, connection).state) == ("draft", "partially_paid")
        _pay(ledger, _link(invoice, connection), "5.00")
        assert status.pull_invoice_status() == 2

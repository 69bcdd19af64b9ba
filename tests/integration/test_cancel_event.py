"""A lost deal's cancel in one target (hub.sync.cancel.cancel_event), run as its job runs it
(hub.sync.run.process_events) against a Mini Ledger: each way it ends, the job's word for it, the
rows it writes (event, link, credit note, run), and what it asked the target by which reference."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from connectors.documents import ExternalRef
from connectors.errors import UnsupportedOperation
from hub.demo_erp.mini_ledger import LedgerServer
from hub.extensions import db
from hub.models import CreditNote, ExternalLink, HubInvoice, OutboxEvent, OutboxState, RunOutcome, SyncRun
from hub.models.base import utcnow
from hub.sync import cancel
from hub.sync.run import process_events
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY, make_connection
from tests.support.outbox_deals import won_deal


class Asked:
    """What the cancel asked the target, by call; `refuse_credit` makes the target take no credit
    notes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.refuse_credit = False


@pytest.fixture
def asked(monkeypatch) -> Asked:
    seen = Asked()
    opened = cancel.open_connector

    def open_connector(connection):
        connector = opened(connection)
        for name in ("find_invoice", "invoice_status", "cancel_invoice", "credit_invoice"):
            setattr(connector, name, _recorded(seen, name, getattr(connector, name)))
        return connector

    monkeypatch.setattr(cancel, "open_connector", open_connector)
    return seen


def _recorded(seen: Asked, name: str, call):
    def recorded(first, *rest):
        seen.calls.append((name, first))
        if name == "credit_invoice" and seen.refuse_credit:
            raise UnsupportedOperation("Mini Ledger takes no credit notes through the hub")
        return call(first, *rest)

    return recorded


def _pushed(app, sales, admin) -> dict:
    won = won_deal(sales, admin)
    drain(app)
    return won


def _lose(app, sales, won: dict, connection: int) -> int:
    """The deal lost: its cancel event for `connection`."""
    assert sales.post(f"/api/v1/deals/{won['id']}/lost", json={"reason": "budget"}).status_code == 200
    with app.app_context():
        return db.session.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.operation == "cancel_invoice",
                OutboxEvent.connection_id == connection,
                OutboxEvent.invoice_id == won["invoices"][0]["id"],
            )
        )


def _cancel_again(app, invoice_id: int, connection: int) -> int:
    """Another cancel of the invoice, as a retried or repeated one comes."""
    with app.app_context():
        event = OutboxEvent(operation="cancel_invoice", connection_id=connection, invoice_id=invoice_id)
        db.session.add(event)
        db.session.commit()
        return event.id


def _link(invoice_id: int, connection: int) -> ExternalLink | None:
    return db.session.scalar(
        select(ExternalLink).where(ExternalLink.invoice_id == invoice_id, ExternalLink.connection_id == connection)
    )


def _run(event_id: int) -> SyncRun:
    return db.session.scalars(select(SyncRun).where(SyncRun.event_id == event_id)).one()


def _ledger_invoice(ledger: LedgerServer) -> dict:
    (invoice,) = ledger.ledger.invoices.values()
    return invoice


def test_a_draft_is_cancelled_by_its_links_reference_and_the_run_keeps_the_exchange(
    app, sales, admin, ledger, connection, asked
):
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        link = _link(invoice_id, connection)
        ref = ExternalRef("mini_ledger", link.external_id, link.external_number, link.url)
        assert process_events([event_id]) == "cancelled"
        assert asked.calls == [("invoice_status", ref), ("cancel_invoice", ref)]
        assert _ledger_invoice(ledger)["status"] == "cancelled"
        assert _link(invoice_id, connection).state == "cancelled"
        event = db.session.get(OutboxEvent, event_id)
        assert (event.state, event.locked_until, event.last_error) == (OutboxState.DONE, None, None)
        run = _run(event_id)
        assert (run.operation, run.outcome, run.object_type, run.object_id) == (
            "cancel_invoice",
            RunOutcome.SUCCESS,
            "invoice",
            invoice_id,
        )
        assert run.request[-1]["url"].endswith(f"/api/invoices/{link.external_id}/cancel")
        assert run.response[-1]["status"] == 200
        assert LEDGER_KEY not in str(run.request)


def test_a_partly_paid_invoice_is_credited_once_for_its_total(app, sales, admin, ledger, connection, asked):
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    external = _ledger_invoice(ledger)
    external["status"], external["amount_paid"] = "partially_paid", "10.00"
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        assert process_events([event_id]) == "credited by CN-000001"
        link = _link(invoice_id, connection)
        assert link.state == "partially_paid"  # the invoice stays as it is; the note settles it
        note = link.credit_note
        total = db.session.get(HubInvoice, invoice_id).total
        assert (note.external_id, note.external_number, note.amount) == ("1", "CN-000001", total)
        assert note.url.endswith(f"/api/credit-notes?invoice_id={link.external_id}")
        assert _run(event_id).outcome == RunOutcome.SUCCESS

        # Asked again (a repeated cancel): nothing more is asked of the target or written.
        asked.calls.clear()
        again = _cancel_again(app, invoice_id, connection)
        assert process_events([again]) == "already credited by CN-000001"
        assert asked.calls == []
        assert _link(invoice_id, connection).state == "partially_paid"
        assert db.session.scalars(select(CreditNote)).all() == [note]
        assert len(ledger.ledger.credit_notes) == 1
        assert (_run(again).outcome, db.session.get(OutboxEvent, again).state) == (RunOutcome.SUCCESS, OutboxState.DONE)


def test_without_a_link_the_target_is_asked_by_the_invoices_key(app, sales, admin, ledger, connection, asked):
    """A push whose answer was lost left no link: the target may have the invoice all the same."""
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    external = _ledger_invoice(ledger)
    with app.app_context():
        db.session.execute(delete(ExternalLink).where(ExternalLink.invoice_id == invoice_id))
        db.session.commit()
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        key = external["reference"]
        assert process_events([event_id]) == "cancelled"
        assert asked.calls[0] == ("find_invoice", key)
        link = _link(invoice_id, connection)
        assert (link.external_id, link.external_number, link.state) == (
            str(external["id"]),
            external["number"],
            "cancelled",
        )
        assert link.url.endswith(f"/api/invoices/{external['id']}")
        assert external["status"] == "cancelled"


def test_an_invoice_the_target_never_got_is_skipped_saying_so(app, sales, admin, ledger, connection, asked):
    won = won_deal(sales, admin)  # never pushed: the target has no such invoice
    invoice_id = won["invoices"][0]["id"]
    event_id = _cancel_again(app, invoice_id, connection)
    with app.app_context():
        assert process_events([event_id]) == "nothing to cancel: no invoice was created"
        assert [name for name, _ in asked.calls] == ["find_invoice"]
        run = _run(event_id)
        assert (run.outcome, run.error) == (RunOutcome.SKIPPED, "nothing to cancel: no invoice was created")
        assert db.session.get(OutboxEvent, event_id).state == OutboxState.DONE
        assert _link(invoice_id, connection) is None


def test_a_target_that_fails_the_cancel_has_it_retried(app, sales, admin, ledger, connection, asked):
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    event_id = _lose(app, sales, won, connection)
    ledger.ledger.faults["error_rate"] = 1.0
    with app.app_context():
        assert process_events([event_id]) == "retry"
        event = db.session.get(OutboxEvent, event_id)
        assert (event.state, event.attempts) == (OutboxState.PENDING, 1)
        assert "503" in event.last_error
        run = _run(event_id)
        assert (run.outcome, run.object_id, run.attempt) == (RunOutcome.RETRY, invoice_id, 1)
        assert run.response[-1]["status"] == 503
        assert _ledger_invoice(ledger)["status"] == "draft"


def test_a_paid_invoice_the_target_cannot_credit_is_parked_with_what_to_do(
    app, sales, admin, ledger, connection, asked
):
    won = _pushed(app, sales, admin)
    external = _ledger_invoice(ledger)
    external["status"], external["amount_paid"] = "paid", external["total"]
    asked.refuse_credit = True
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        assert process_events([event_id]) == "cannot cancel"
        event = db.session.get(OutboxEvent, event_id)
        number = won["invoices"][0]["number"]
        assert event.state == OutboxState.FAILED
        assert event.last_error.startswith(f"{number} is paid in Ledger ({Decimal(external['total'])} ")
        assert "credit it in Ledger by hand" in event.last_error
        run = _run(event_id)
        assert (run.outcome, run.error) == (RunOutcome.FAILED, event.last_error)


@pytest.fixture
def second(app):
    """A second Mini Ledger with its own connection: (server, connection id)."""
    with LedgerServer(api_key=LEDGER_KEY) as server:
        config = {"base_url": server.url, "api_key": LEDGER_KEY, "timeout": 2}
        yield server, make_connection(app, "Second", "mini_ledger", config)


def _push_of(invoice_id: int, connection: int) -> OutboxEvent:
    return db.session.scalar(
        select(OutboxEvent).where(
            OutboxEvent.operation == "push_invoice",
            OutboxEvent.invoice_id == invoice_id,
            OutboxEvent.connection_id == connection,
        )
    )


def test_a_cancel_waits_while_a_worker_still_pushes_the_invoice(app, sales, admin, ledger, connection, asked):
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        # A worker took the push again (a retry after a lost answer) and still holds it.
        push = _push_of(invoice_id, connection)
        push.state, push.locked_until = OutboxState.DISPATCHED, utcnow() + timedelta(minutes=1)
        db.session.commit()
        before = utcnow()
        assert process_events([event_id]) == "waiting for the push"
        after = utcnow()
        event = db.session.get(OutboxEvent, event_id)
        assert (event.state, event.locked_until, event.locked_by) == (OutboxState.PENDING, None, None)
        assert before + timedelta(seconds=5) <= event.available_at <= after + timedelta(seconds=5)
        assert asked.calls == []
        assert _ledger_invoice(ledger)["status"] == "draft"


@pytest.mark.parametrize("push", ["lease run out", "dispatched, not leased", "another invoice", "another connection"])
def test_a_cancel_goes_on_when_no_worker_pushes_this_invoice_here(
    app, sales, admin, ledger, connection, second, asked, push
):
    _, other = second
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    later = won_deal(sales, admin)["invoices"][0]["id"]  # its push waits
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        in_flight = {
            "lease run out": _push_of(invoice_id, connection),
            "dispatched, not leased": _push_of(invoice_id, connection),
            "another invoice": _push_of(later, connection),
            "another connection": _push_of(invoice_id, other),
        }[push]
        in_flight.state = OutboxState.DISPATCHED
        live = push != "dispatched, not leased"
        in_flight.locked_until = utcnow() + timedelta(minutes=-1 if push == "lease run out" else 1) if live else None
        db.session.commit()
        assert process_events([event_id]) == "cancelled"
        (cancelled,) = [i for i in ledger.ledger.invoices.values() if i["reference"] == won["invoices"][0]["number"]]
        assert cancelled["status"] == "cancelled"


def test_another_connections_link_is_not_this_ones(app, sales, admin, ledger, connection, second, asked):
    """The invoice's link here was lost (a push whose answer never came); the second connection's
    link to its own target tells nothing about this one: the target is asked by the invoice's key."""
    _, other = second
    won = _pushed(app, sales, admin)
    invoice_id = won["invoices"][0]["id"]
    with app.app_context():
        db.session.execute(
            delete(ExternalLink).where(ExternalLink.invoice_id == invoice_id, ExternalLink.connection_id == connection)
        )
        db.session.commit()
    event_id = _lose(app, sales, won, connection)
    with app.app_context():
        assert process_events([event_id]) == "cancelled"
        assert asked.calls[0] == ("find_invoice", won["invoices"][0]["number"])
        assert _link(invoice_id, connection).state == "cancelled"
        assert _link(invoice_id, other).state == "draft"  # its own cancel is its own event


def test_only_the_lost_deals_invoice_is_cancelled(app, sales, admin, ledger, connection, asked):
    kept = won_deal(sales, admin)
    lost = _pushed(app, sales, admin)
    event_id = _lose(app, sales, lost, connection)
    with app.app_context():
        assert process_events([event_id]) == "cancelled"
    states = {i["reference"]: i["status"] for i in ledger.ledger.invoices.values()}
    assert states == {kept["invoices"][0]["number"]: "draft", lost["invoices"][0]["number"]: "cancelled"}

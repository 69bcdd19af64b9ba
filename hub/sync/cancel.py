"""Cancelling (voiding) an invoice in a target after its deal was lost.

An invoice that was paid in the target, in part or in full, cannot be cancelled there (Tryton, the
Mini Ledger, Odoo, ERPNext, QuickBooks, Xero and Zoho Books all refuse): it is credited instead,
with a credit note of its whole total, and the credit note is kept with the invoice's link so that
finance sees it. Which way is decided by the target's own status of the invoice, asked first: its
refusals are not told apart reliably (Tryton refuses a posted unpaid customer invoice with the same
error as a paid one). A target that reports no status is asked to cancel. A target that cancels
no posted invoice at all (Tryton by default: `credits_posted_invoices`) credits those too, paid
or not.

Nothing is doubled on a retry: the connector finds a credit note it made earlier for the invoice
before it creates one, and the hub records one credit note per link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import select

from connectors.base import Connector
from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceStatus, invoice_from_dict
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.extensions import db
from hub.i18n import N_
from hub.models import Connection, ExternalLink, OutboxEvent, OutboxState
from hub.models.base import utcnow
from hub.sentences import english, sentence
from hub.sync import outbox, results
from hub.sync.factory import open_connector, secret_values


def _push_in_flight(connection: Connection, event: OutboxEvent) -> bool:
    return (
        db.session.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.connection_id == connection.id,
                OutboxEvent.invoice_id == event.invoice_id,
                OutboxEvent.operation == "push_invoice",
                OutboxEvent.state == OutboxState.DISPATCHED,
                OutboxEvent.locked_until > utcnow(),
            )
        )
        is not None
    )


@dataclass(frozen=True)
class Settled:
    """What became of the target's invoice: its state afterwards, and the credit note if it was
    credited rather than cancelled."""

    state: ExternalState
    credit_note: ExternalRef | None = None


def settle(connector: Connector, ref: ExternalRef, doc: InvoiceDocument, where: str) -> Settled:
    """Cancel the target's invoice, or credit it when the target says money was paid on it.
    `where` names the connection in the refusal of a target that takes no credit notes."""
    try:
        status = connector.invoice_status(ref)
    except UnsupportedOperation:
        status = None
    if status is not None and status.status == ExternalState.CANCELLED and connector.credits_posted_invoices:
        # Cancelled already: against the credit note an earlier attempt made, whose answer was
        # lost (Tryton's refund cancels and credits in one call), or by hand there. Keep the note.
        return Settled(ExternalState.CANCELLED, connector.credit_note_of(ref))
    posted = status is not None and status.status == ExternalState.POSTED
    if status is None or not (_paid(status) or (posted and connector.credits_posted_invoices)):
        connector.cancel_invoice(ref)
        return Settled(ExternalState.CANCELLED)
    try:
        note = connector.credit_invoice(ref, doc)
    except UnsupportedOperation:
        raise UnsupportedOperation(
            f"{doc.number} is paid in {where} ({status.amount_paid} {doc.currency}), so it cannot be cancelled "
            f"there, and {connector.label} takes no credit notes through the hub: credit it in {where} by hand"
        ) from None
    # A posted invoice nothing was paid on is cancelled against its credit note (Tryton's refund).
    return Settled(status.status if _paid(status) else ExternalState.CANCELLED, note)


def _paid(status: InvoiceStatus) -> bool:
    """Money was paid on the invoice, in part or in full (a cancelled one is left to the cancel)."""
    if status.status == ExternalState.CANCELLED:
        return False
    return status.status in (ExternalState.PAID, ExternalState.PARTIALLY_PAID) or status.amount_paid > 0


def cancel_event(connection: Connection, event: OutboxEvent) -> str:
    if _push_in_flight(connection, event):
        # Let the push finish first; then there is something to cancel (or nothing was created).
        outbox.release(event, OutboxState.PENDING, available_at=utcnow() + timedelta(seconds=5))
        db.session.commit()
        return "waiting for the push"
    started = utcnow()
    link = db.session.scalar(
        select(ExternalLink).where(
            ExternalLink.connection_id == connection.id, ExternalLink.invoice_id == event.invoice_id
        )
    )
    connector = open_connector(connection)
    run = {"operation": "cancel_invoice", "started_at": started, "secrets": secret_values(connection)}
    what = (connection.id, event.id, event.invoice_id)
    # Each branch names its result's maker (hub.sync.results); it is made once the exchanges are in.
    try:
        if link is not None:
            ref = ExternalRef(connection.type, link.external_id, link.external_number, link.url)
        else:
            # A push that ended uncertain may still have created it: ask the target.
            ref = connector.find_invoice(invoice_from_dict(event.invoice.snapshot).idempotency_key)
        if ref is None:
            nothing = sentence(N_("nothing to cancel: no invoice was created"))
            word = english(nothing)
            outcome = partial(results.cancelled, *what, None, None, error=nothing)
        elif link is not None and link.credit_note is not None:
            word = f"already credited by {link.credit_note.external_number or link.credit_note.external_id}"
            outcome = partial(results.cancelled, *what, ref, None)
        else:
            settled = settle(connector, ref, invoice_from_dict(event.invoice.snapshot), connection.name)
            note = settled.credit_note
            word = "cancelled" if note is None else f"credited by {note.external_number or note.external_id}"
            outcome = partial(
                results.cancelled, *what, ref, settled.state, credit_note=note, amount=event.invoice.total
            )
    except UnsupportedOperation as exc:
        word = "cannot cancel"
        outcome = partial(results.not_cancelled, *what, exc)
    except ConnectorError as exc:
        outcome = partial(results.failed, connection, event.id, event.invoice_id, event.attempts, exc)
        word = ""
    finally:
        exchanges = connector.take_exchanges()
        connector.close()
    result = outcome(**run, exchanges=exchanges)
    results.record([result])
    db.session.commit()
    return word or result.outcome.value

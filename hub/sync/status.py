"""Reading invoice states and payments back from the targets (scheduled): posted, partially paid,
paid or cancelled land on the external link, the hub invoice and so on the deal."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import select

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.extensions import db
from hub.models import Connection, ExternalLink, InvoiceState
from hub.models.base import utcnow
from hub.sync import results
from hub.sync.factory import open_connector, secret_values

log = logging.getLogger(__name__)
FINAL = (ExternalState.PAID.value, ExternalState.CANCELLED.value)


def pull_invoice_status(connection_id: int | None = None) -> int:
    """Refresh every open link (of one connection, or all); returns how many changed."""
    query = select(Connection).where(Connection.enabled.is_(True), Connection.paused.is_(False))
    if connection_id is not None:
        query = query.where(Connection.id == connection_id)
    changed = 0
    for connection in db.session.scalars(query).all():
        changed += _pull_one(connection)
    return changed


def _pull_one(connection: Connection) -> int:
    links = db.session.scalars(
        select(ExternalLink).where(ExternalLink.connection_id == connection.id, ExternalLink.state.not_in(FINAL))
    ).all()
    if not links:
        return 0
    connector = open_connector(connection)
    changed = 0
    try:
        for link in links:
            run = {"operation": "invoice_status", "started_at": utcnow(), "secrets": secret_values(connection)}
            ref = ExternalRef(connection.type, link.external_id, link.external_number, link.url)
            try:
                status = connector.invoice_status(ref)
            except UnsupportedOperation:
                return changed
            except ConnectorError as exc:
                run["exchanges"] = connector.take_exchanges()
                results.record([results.status_unknown(connection.id, link.invoice_id, exc, **run)])
                db.session.commit()
                continue
            run["exchanges"] = connector.take_exchanges()
            checked = {"status_checked_at": utcnow()}
            if link.state != status.status.value or link.amount_paid != status.amount_paid:
                if status.external_number:
                    checked["external_number"] = status.external_number
                result = results.status_changed(
                    connection.id, link.invoice_id, status.status, status.amount_paid, checked, **run
                )
                results.record([result])
                changed += 1
            else:
                link.status_checked_at = checked["status_checked_at"]
            db.session.commit()
    finally:
        connector.close()
    return changed


class StateChanges:
    """What a target says became of invoices, gathered over one file of changes (1C's order
    changes) and written by one recorder call when the file is done, rather than a flush and a
    recorder call per order.

    Each change goes onto its link at once, so that what follows in the file reads it (a payment
    reads the amount paid so far, a repeated order the state it moved to); the hub invoice moves
    when recorded (the rule: hub.sync.results.status_changed). Two changes of one invoice are
    recorded as the one change they make in turn: the audit has one entry for it, where recording
    each change on its own wrote one per change."""

    def __init__(self) -> None:
        self._changes: list[tuple[ExternalLink, ExternalState, Decimal | None]] = []

    def apply(self, link: ExternalLink, state: ExternalState, paid: Decimal | None) -> None:
        link.state = state.value
        if paid is not None:
            link.amount_paid = paid
        self._changes.append((link, state, paid))

    def record(self) -> None:
        """Write the gathered changes, without a sync run (1C's exchange keeps its own)."""
        if not self._changes:
            return
        db.session.flush()  # a link just made has its ids then
        by_invoice: dict[tuple[int, int], results.Result] = {}
        for link, state, paid in self._changes:
            result = results.status_changed(link.connection_id, link.invoice_id, state, paid, {})
            key = (link.connection_id, link.invoice_id)
            by_invoice[key] = _in_turn(by_invoice[key], result) if key in by_invoice else result
        self._changes = []
        results.record(list(by_invoice.values()))


def _in_turn(first: results.Result, then: results.Result) -> results.Result:
    """Two status changes of one invoice as the one they make in turn. The hub invoice: a move to
    cancelled is taken from any state and no other move leaves cancelled, so a first move to
    cancelled stands, else the later move does; the amount paid is the last one told. The link
    has both changes already (`apply`)."""
    move = first.invoice if first.invoice.state == InvoiceState.CANCELLED else then.invoice
    paid = then.invoice.amount_paid if then.invoice.amount_paid is not None else first.invoice.amount_paid
    return replace(then, invoice=replace(move, amount_paid=paid))

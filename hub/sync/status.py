"""Reading invoice states and payments back from the targets (scheduled): posted, partially paid,
paid or cancelled land on the external link, the hub invoice and so on the deal."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.extensions import db
from hub.models import Connection, ExternalLink, InvoiceState, RunOutcome
from hub.models.base import utcnow
from hub.sync.factory import open_connector, secret_values
from hub.sync.history import record_run
from hub.sync.push import STATE_OF

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
            started = utcnow()
            ref = ExternalRef(connection.type, link.external_id, link.external_number, link.url)
            try:
                status = connector.invoice_status(ref)
            except UnsupportedOperation:
                return changed
            except ConnectorError as exc:
                record_run(
                    connection_id=connection.id,
                    operation="invoice_status",
                    outcome=RunOutcome.FAILED,
                    started_at=started,
                    object_type="invoice",
                    object_id=link.invoice_id,
                    exchanges=connector.take_exchanges(),
                    secrets=secret_values(connection),
                    error=exc.message,
                )
                db.session.commit()
                continue
            exchanges = connector.take_exchanges()
            link.status_checked_at = utcnow()
            if link.state != status.status.value or link.amount_paid != status.amount_paid:
                if status.external_number:
                    link.external_number = status.external_number
                apply_state(link, status.status, status.amount_paid)
                record_run(
                    connection_id=connection.id,
                    operation="invoice_status",
                    outcome=RunOutcome.SUCCESS,
                    started_at=started,
                    object_type="invoice",
                    object_id=link.invoice_id,
                    exchanges=exchanges,
                    secrets=secret_values(connection),
                )
                changed += 1
            db.session.commit()
    finally:
        connector.close()
    return changed


def apply_state(link: ExternalLink, state: ExternalState, paid: Decimal | None) -> None:
    """What the target says became of an invoice, onto its link and the hub invoice: the target's
    state maps to a hub state, except that an invoice cancelled in the hub stays cancelled unless
    the target cancelled it too. `paid` None leaves the amounts paid as they are: 1C's "posted" or
    "cancelled" says nothing about payments, where a status pull always gives the amount."""
    invoice = link.invoice
    link.state = state.value
    if paid is not None:
        link.amount_paid = paid
        invoice.amount_paid = paid
    if invoice.state != InvoiceState.CANCELLED or state == ExternalState.CANCELLED:
        invoice.state = STATE_OF[state]

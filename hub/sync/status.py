"""Reading invoice states and payments back from the targets (scheduled): posted, partially paid,
paid or cancelled land on the external link, the hub invoice and so on the deal."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.extensions import db
from hub.models import Connection, ExternalLink
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


def apply_state(link: ExternalLink, state: ExternalState, paid: Decimal | None) -> None:
    """What the target says became of an invoice, onto its link and the hub invoice (the rule:
    hub.sync.results.status_changed), without a sync run: 1C's order changes keep their own."""
    db.session.flush()  # a link just made has its ids then
    results.record([results.status_changed(link.connection_id, link.invoice_id, state, paid, {})])

"""Cancelling (voiding) an invoice in a target after its deal was lost."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connectors.documents import ExternalRef, ExternalState, invoice_from_dict
from connectors.errors import ConnectorError, UnsupportedOperation
from hub.extensions import db
from hub.models import Connection, ExternalLink, OutboxEvent, OutboxState, RunOutcome
from hub.models.base import utcnow
from hub.sync import outbox
from hub.sync.connectors import open_connector, secret_values
from hub.sync.history import record_run
from hub.sync.push import apply_failure


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
    outcome, error, word = RunOutcome.SUCCESS, None, "cancelled"
    try:
        if link is not None:
            ref = ExternalRef(connection.type, link.external_id, link.external_number, link.url)
        else:
            # A push that ended uncertain may still have created it: ask the target.
            ref = connector.find_invoice(invoice_from_dict(event.invoice.snapshot).idempotency_key)
        if ref is None:
            outcome, word = RunOutcome.SKIPPED, "nothing to cancel: no invoice was created"
            error = word
        else:
            connector.cancel_invoice(ref)
            if link is None:
                link = ExternalLink(
                    connection=connection,
                    invoice=event.invoice,
                    external_id=ref.external_id,
                    external_number=ref.external_number,
                    url=ref.url,
                    state="",
                )
                db.session.add(link)
            link.state = ExternalState.CANCELLED.value
        outbox.release(event, OutboxState.DONE)
    except UnsupportedOperation as exc:
        outcome, error, word = RunOutcome.FAILED, exc.message, "cannot cancel"
        event.last_error = exc.message
        outbox.release(event, OutboxState.FAILED)
    except ConnectorError as exc:
        outcome, error = apply_failure(connection, event, exc)
        word = outcome.value
    finally:
        exchanges = connector.take_exchanges()
        connector.close()
    record_run(
        connection_id=connection.id,
        operation="cancel_invoice",
        outcome=outcome,
        started_at=started,
        event_id=event.id,
        object_type="invoice",
        object_id=event.invoice_id,
        exchanges=exchanges,
        secrets=secret_values(connection),
        error=error,
    )
    db.session.commit()
    return word

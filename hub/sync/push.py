"""The push job: a leased outbox event (and the other due events of its connection, in one
batch) becomes invoices in the target system — looked up first, created only if absent.

Outcomes per event
| what happened | event | hub invoice | connection |
| --- | --- | --- | --- |
| found or created | done, link written | sent / posted | failures reset |
| RetryableError, UncertainOutcomeError, other error | pending, retried later; failed when out of attempts \
  | unchanged | failure counted; the breaker may open |
| PermanentError | failed (parked) with the target's message | failed | unchanged |
| AuthError | failed (parked) | failed | `attention` says why |
| ReauthorizationRequired (OAuth) | failed (parked), requeued by itself once authorised again \
  | failed | re-authorisation needed (the token store marked it) |
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from connectors.base import Connector, Exchange
from connectors.documents import ExternalRef, InvoiceDocument, invoice_from_dict
from connectors.errors import AuthError, ConnectorError, PermanentError
from hub.extensions import db
from hub.models import Connection, HubInvoice, OutboxEvent, RunOutcome
from hub.models.base import utcnow
from hub.sync import failures, results
from hub.sync.factory import open_connector, secret_values
from hub.sync.history import exchanges_by_document, redact_exchanges

log = logging.getLogger(__name__)

Result = ExternalRef | Exception


def hold_until(connection: Connection):
    """When a connection may not be called now: until when to wait (None = go ahead)."""
    now = utcnow()
    if not connection.enabled or connection.paused:
        return now + timedelta(seconds=30)
    if connection.breaker_open_until and connection.breaker_open_until > now:
        return connection.breaker_open_until
    return None


@dataclass
class Batch:
    """Events pushed together: loaded from the database (prepare_batch), sent to the target (send,
    which touches no database), then recorded (record_batch)."""

    events: list[OutboxEvent]
    event_ids: list[int]
    invoice_ids: list[int]
    job_ids: set[str]  # the queued jobs that carried these events
    attempts: list[int]  # each event's attempts before this one (leased: nobody else changes them)
    # The events' documents, in the same order: what `send` reads (never the ORM objects, which
    # belong to the job thread's session).
    documents: list[InvoiceDocument]
    # The batch's invoices: the session's identity map keeps each event's `invoice` while this does.
    invoices: list[HubInvoice]
    started: datetime = field(default_factory=utcnow)
    results: dict[str, Result] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)

    def idempotency_keys(self) -> list[str]:
        return [doc.idempotency_key for doc in self.documents]


def prepare_batch(events: Sequence[OutboxEvent]) -> Batch:
    # The batch's invoices in one query; each event's `invoice` then comes from the session.
    invoices = db.session.scalars(select(HubInvoice).where(HubInvoice.id.in_([e.invoice_id for e in events]))).all()
    documents = [invoice_from_dict(event.invoice.snapshot) for event in events]
    return Batch(
        events=list(events),
        event_ids=[e.id for e in events],
        invoice_ids=[e.invoice_id for e in events],
        job_ids={e.job_id for e in events if e.job_id},
        attempts=[e.attempts for e in events],
        documents=documents,
        invoices=list(invoices),
    )


def send(connector: Connector, batch: Batch) -> None:
    """Look the batch's documents up in the target and create the missing ones; fills in results
    and exchanges. Never raises; touches no database (it may run in a thread of its own)."""
    try:
        batch.results = _push(connector, list(batch.documents))
    except Exception as exc:  # a bug, or a connector failing in a way it should have typed
        log.exception("push to the target failed")
        batch.results = dict.fromkeys(batch.idempotency_keys(), exc)
    batch.exchanges = connector.take_exchanges()


def push_batch(connection: Connection, events: Sequence[OutboxEvent]) -> None:
    """Prepare, send and record one batch with a connector of its own."""
    batch = prepare_batch(events)
    try:
        connector = open_connector(connection, maps_documents=True)
    except Exception as exc:  # could not even start: config, secrets, the mapping
        log.exception("push to %s failed before it started", connection.name)
        batch.results = dict.fromkeys(batch.idempotency_keys(), exc)
    else:
        send(connector, batch)
        connector.close()
    record_batch(connection, batch)


def record_batch(connection: Connection, batch: Batch) -> None:
    """Write what happened to each event of a sent batch (hub.sync.results: links, states, events,
    audit, run history), tell the owners of invoices parked, count for the breaker; commit."""
    secrets = secret_values(connection)
    keys = batch.idempotency_keys()
    about = exchanges_by_document(redact_exchanges(batch.exchanges, secrets), keys)
    recorded = []
    for event_id, invoice_id, key, attempts in zip(
        batch.event_ids, batch.invoice_ids, keys, batch.attempts, strict=True
    ):
        result = batch.results[key]
        run = {
            "operation": "push_invoice",
            "started_at": batch.started,
            "attempt": attempts + 1,
            "exchanges": about[key],
            "secrets": secrets,
        }
        if isinstance(result, ExternalRef):
            recorded.append(results.pushed(connection.id, event_id, invoice_id, result, **run))
        else:
            recorded.append(results.failed(connection, event_id, invoice_id, attempts, result, **run))
    results.record(recorded)
    for event, key, result in zip(batch.events, keys, recorded, strict=True):
        if result.outcome == RunOutcome.FAILED:  # parked: the deal's owner is told, once per parking
            exc = batch.results[key]
            failures.notify_parked(connection, event, exc, gave_up=not isinstance(exc, PermanentError | AuthError))
    _count_for_breaker(connection, failed=any(r.outcome in (RunOutcome.RETRY, RunOutcome.UNCERTAIN) for r in recorded))
    db.session.commit()


def troubled(batch: Batch) -> bool:
    """Whether the target failed the batch in a way worth a retry later (not a refused document)."""
    return any(
        isinstance(r, Exception) and not isinstance(r, PermanentError | AuthError) for r in batch.results.values()
    )


def _push(connector: Connector, docs: list[InvoiceDocument]) -> dict[str, Result]:
    """Look every document up, create the missing ones (one batch call), per-document results."""
    docs = list({d.idempotency_key: d for d in docs}.values())  # one key is never pushed twice in a batch
    results: dict[str, Result] = {}
    try:
        found = connector.find_invoices([d.idempotency_key for d in docs])
    except ConnectorError as exc:
        return {d.idempotency_key: exc for d in docs}
    results.update(found)
    missing = [d for d in docs if d.idempotency_key not in found]
    if not missing:
        return results
    try:
        refs = connector.push_invoices(missing)
        results.update({d.idempotency_key: ref for d, ref in zip(missing, refs, strict=True)})
    except PermanentError as exc:
        if len(missing) == 1:
            results[missing[0].idempotency_key] = exc
        else:
            # One bad document refuses the whole batch; push them one by one so only it is parked.
            for doc in missing:
                try:
                    results[doc.idempotency_key] = connector.push_invoice(doc)
                except ConnectorError as one:
                    results[doc.idempotency_key] = one
    except ConnectorError as exc:
        results.update({d.idempotency_key: exc for d in missing})
    return results


def _count_for_breaker(connection: Connection, *, failed: bool) -> None:
    if not failed:
        connection.consecutive_failures = 0
        return
    connection.consecutive_failures += 1
    config = current_app.config
    if connection.consecutive_failures >= config["HUB_BREAKER_THRESHOLD"]:
        connection.breaker_open_until = utcnow() + timedelta(seconds=config["HUB_BREAKER_COOLDOWN_SECONDS"])
        connection.consecutive_failures = 0
        log.warning("connection %s rests until %s", connection.name, connection.breaker_open_until)

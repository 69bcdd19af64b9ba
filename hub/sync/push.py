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
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, insert, select, update

from connectors.base import Connector, Exchange
from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, invoice_from_dict
from connectors.errors import (
    AuthError,
    ConnectorError,
    MappingRefused,
    PermanentError,
    RetryableError,
    UncertainOutcomeError,
)
from connectors.oauth import ReauthorizationRequired
from hub.audit import updated_in_bulk
from hub.extensions import db
from hub.models import (
    PARKED_FOR_REAUTHORISATION,
    Connection,
    ExternalLink,
    HubInvoice,
    InvoiceState,
    OutboxEvent,
    OutboxState,
    RunOutcome,
    SyncRun,
)
from hub.models.base import utcnow
from hub.sync import failures, outbox
from hub.sync.backoff import retry_delay
from hub.sync.factory import open_connector, secret_values
from hub.sync.history import exchanges_by_document, redact, redact_exchanges, run_values
from hub.sync.oauth_tokens import reauthorise_attention

log = logging.getLogger(__name__)

Result = ExternalRef | Exception
STATE_OF = {
    ExternalState.DRAFT: InvoiceState.SENT,
    ExternalState.POSTED: InvoiceState.POSTED,
    ExternalState.PARTIALLY_PAID: InvoiceState.PARTIALLY_PAID,
    ExternalState.PAID: InvoiceState.PAID,
    ExternalState.CANCELLED: InvoiceState.CANCELLED,
}


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
    """Write what happened to each event of a sent batch: link, states, run history; commit.

    This runs beside the target's work on the next batch, on the same two cores, and most batches
    are all successes: those are written with a few statements for the whole batch, not an ORM object
    per row (which was most of the hub's time beside Tryton's creates). Failures go through the ORM
    one by one, each with its own backoff, parking and message."""
    secrets = secret_values(connection)
    keys = batch.idempotency_keys()
    about = exchanges_by_document(redact_exchanges(batch.exchanges, secrets), keys)
    done: dict[int, tuple[int, ExternalRef]] = {}
    for event_id, invoice_id, key in zip(batch.event_ids, batch.invoice_ids, keys, strict=True):
        result = batch.results[key]
        if isinstance(result, ExternalRef):
            done[event_id] = (invoice_id, result)
    _record_successes(connection, done)
    failed = {event.id: event for event in _reload([i for i in batch.event_ids if i not in done])}
    runs, any_failure = [], False
    for event_id, invoice_id, key, attempts in zip(
        batch.event_ids, batch.invoice_ids, keys, batch.attempts, strict=True
    ):
        if event_id in done:
            outcome, error = RunOutcome.SUCCESS, None
        else:
            outcome, error = apply_failure(connection, failed[event_id], batch.results[key])
            if outcome == RunOutcome.FAILED:  # parked: the deal's owner is told, once per parking
                exc = batch.results[key]
                gave_up = not isinstance(exc, PermanentError | AuthError)
                failures.notify_parked(connection, failed[event_id], exc, gave_up=gave_up)
            any_failure = any_failure or outcome in (RunOutcome.RETRY, RunOutcome.UNCERTAIN)
        runs.append(
            run_values(
                connection_id=connection.id,
                operation="push_invoice",
                outcome=outcome,
                started_at=batch.started,
                event_id=event_id,
                object_type="invoice",
                object_id=invoice_id,
                attempt=attempts + 1,
                exchanges=about[key],
                secrets=secrets,
                error=error,
            )
        )
    db.session.execute(insert(SyncRun.__table__), runs)
    _count_for_breaker(connection, failed=any_failure)
    db.session.commit()


def _record_successes(connection: Connection, done: dict[int, tuple[int, ExternalRef]]) -> None:
    """Links, invoice states and events of the pushed events, `done` by event id: (invoice id, ref)."""
    if not done:
        return
    refs = dict(done.values())
    linked = dict(
        db.session.execute(
            select(ExternalLink.invoice_id, ExternalLink.id).where(
                ExternalLink.connection_id == connection.id, ExternalLink.invoice_id.in_(refs)
            )
        ).all()
    )
    new = [
        {"connection_id": connection.id, "invoice_id": i, **_link_values(ref)}
        for i, ref in refs.items()
        if i not in linked
    ]
    if new:
        db.session.execute(insert(ExternalLink.__table__), new)
    if len(new) < len(refs):  # found again after an uncertain outcome, or pushed again by an admin
        db.session.execute(
            update(ExternalLink.__table__).where(ExternalLink.id == bindparam("link_id")),
            [{"link_id": linked[i], **_link_values(ref)} for i, ref in refs.items() if i in linked],
        )
    _advance_invoices(refs)
    outbox.release_many(done, OutboxState.DONE, last_error=None)


def _link_values(ref: ExternalRef) -> dict[str, str | None]:
    return {
        "external_id": ref.external_id,
        "external_number": ref.external_number,
        "url": ref.url,
        "state": ref.status.value,
    }


def _advance_invoices(refs: dict[int, ExternalRef]) -> None:
    """Invoices not yet further than sent take the state the target reports; audited as the ORM
    would, from the states each had (an update by state, so a change made meanwhile wins)."""
    moves: dict[tuple[InvoiceState, InvoiceState], list[int]] = {}
    for invoice_id, state in db.session.execute(
        select(HubInvoice.id, HubInvoice.state).where(HubInvoice.id.in_(refs))
    ).all():
        new = STATE_OF[refs[invoice_id].status]
        if state in (InvoiceState.PENDING, InvoiceState.FAILED, InvoiceState.SENT) and state != new:
            moves.setdefault((state, new), []).append(invoice_id)
    table = HubInvoice.__table__
    for (old, new), ids in moves.items():
        moved = db.session.scalars(
            update(table).where(table.c.id.in_(ids), table.c.state == old).values(state=new).returning(table.c.id)
        ).all()
        updated_in_bulk(db.session, table, {i: {"state": (old, new)} for i in moved})


def _reload(event_ids: list[int]) -> list[OutboxEvent]:
    """Events, fresh (a commit since their batch was prepared expired them), with their invoices."""
    if not event_ids:
        return []
    events = db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(event_ids))).all()
    invoice_ids = [e.invoice_id for e in events]
    db.session.scalars(select(HubInvoice).where(HubInvoice.id.in_(invoice_ids))).all()
    return list(events)


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


def apply_failure(connection: Connection, event: OutboxEvent, exc: Exception) -> tuple[RunOutcome, str]:
    message = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
    message = redact(message, secret_values(connection))  # a target's answer may echo them
    event.last_error = message
    if isinstance(exc, ReauthorizationRequired):
        # Not lost: parked until an admin authorises the connection again, then requeued by itself.
        message = (
            f"{connection.name} ({connection.type}): not sent, re-authorisation needed ({message}). "
            "Re-authorise the connection on the connections page; this push is then sent again by itself."
        )
        event.last_error = message
        connection.attention = reauthorise_attention(exc.message)
        event.parked_for = PARKED_FOR_REAUTHORISATION
        _park(event)
        return RunOutcome.FAILED, message
    if isinstance(exc, AuthError):
        connection.attention = f"The target refused the credentials: {message}"
        _park(event)
        return RunOutcome.FAILED, message
    if isinstance(exc, MappingRefused):
        # Nothing was sent: the mapping has no row for a value. Name the connection, the tables and
        # the values, so that whoever reads the failed queue knows which row to add before retrying.
        tables = sorted({p.table for p in exc.problems if getattr(p, "table", None)})
        hint = (
            f" Add the missing rows to table {', '.join(tables)} of connection '{connection.name}' "
            f"(PUT /api/v1/connections/{connection.id}/mapping/tables/<table>/rows/<value>), then retry."
            if tables
            else f" Fix the mapping of connection '{connection.name}', then retry."
        )
        message = f"{connection.name} ({connection.type}): not sent, the mapping cannot map it: {message}.{hint}"
        event.last_error = message
        _park(event)
        return RunOutcome.FAILED, message
    if isinstance(exc, PermanentError):
        # Parked until someone fixes the data: say where, so the failed queue reads on its own.
        message = f"{connection.name} ({connection.type}) refused it: {message}"
        event.last_error = message
        _park(event)
        return RunOutcome.FAILED, message
    if not isinstance(exc, ConnectorError):
        message = f"{message}\n{''.join(traceback.format_exception(exc)[-3:])}"
    event.attempts += 1
    if event.attempts >= current_app.config["HUB_RETRY_MAX_ATTEMPTS"]:
        _park(event)
        return RunOutcome.FAILED, f"gave up after {event.attempts} attempts: {message}"
    wait = exc.wait if isinstance(exc, RetryableError) else None
    delay = retry_delay(event.attempts, wait)
    outbox.release(event, OutboxState.PENDING, available_at=utcnow() + timedelta(seconds=delay))
    return (RunOutcome.UNCERTAIN if isinstance(exc, UncertainOutcomeError) else RunOutcome.RETRY), message


def _park(event: OutboxEvent) -> None:
    outbox.release(event, OutboxState.FAILED)
    invoice: HubInvoice | None = event.invoice
    if invoice is not None and invoice.state == InvoiceState.PENDING:
        invoice.state = InvoiceState.FAILED


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

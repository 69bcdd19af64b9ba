"""The reconciliation report: what a connection's target holds next to the hub's invoices of a
period, matched by reference (the idempotency key, which is the hub number: what `find_invoice`
searches).

Which hub invoices a connection should hold: those dated in the period that were queued for it (a
push event) or linked to it, except a cancelled one it never got. What is reported, once each:

| kind | when |
| --- | --- |
| missing | no target invoice carries the hub number (also not outside the period: looked up by key) |
| duplicated | two or more target invoices carry it (the extra ones are named) |
| mismatched | a field differs: total, tax, currency, customer, state; issue_date when it is dated \
outside the period in the target. One line per field, with both values |
| unknown | a target invoice in the period with a hub-like reference (INV-nnnnnn) that no hub \
invoice queued for this connection has |

A run is an RQ job (`hub.sync.jobs.reconcile`, enqueued by name) that lists the target a page at a
time, keeping its progress on the run's row; the scheduler starts one per connection nightly.
The comparison itself (`compare`) is plain: dicts keyed by reference.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext, pgettext
from sqlalchemy import and_, delete, insert, or_, select

from connectors.base import Connector
from connectors.documents import ExternalState, ListedInvoice
from connectors.errors import ConnectorError
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.extensions import db
from hub.i18n import N_
from hub.locale_numbers import date_text
from hub.models import (
    Connection,
    ExternalLink,
    FindingKind,
    HubInvoice,
    InvoiceState,
    OutboxEvent,
    ReconciliationLine,
    ReconciliationRun,
    RunState,
)
from hub.models.base import utcnow
from hub.money import minor_unit, round_to
from hub.sentences import english, sentence
from hub.sync import outbox
from hub.sync.factory import open_connector
from hub.sync.queue import RedisError, enqueue_once, get_queue, wake_embedded_worker
from hub.sync.registry import registry

log = logging.getLogger(__name__)

# What a hub number looks like (hub.invoicing.invoice_number): a target invoice whose reference has
# this form and that no hub invoice explains is reported as unknown; any other is the target's own.
HUB_REFERENCE = re.compile(r"INV-\d{6,}")
RUN_JOB = "hub.sync.jobs.reconcile"
# The nightly run looks this many days back (today included): a month and a day, so that a month's
# invoices are compared again after the month's end.
NIGHTLY_DAYS = 32
# Hub numbers per read-only look-up of the invoices the period's listing did not show.
LOOK_UP_CHUNK = 100
# Share of a run's progress spent listing the target (the rest: comparing and writing the lines).
LISTING_SHARE = 80
# The hub's invoice state → the target's state it stands for, when the invoice has no link to read.
EXPECTED_STATE = {
    InvoiceState.SENT: ExternalState.DRAFT,
    InvoiceState.POSTED: ExternalState.POSTED,
    InvoiceState.PARTIALLY_PAID: ExternalState.PARTIALLY_PAID,
    InvoiceState.PAID: ExternalState.PAID,
    InvoiceState.CANCELLED: ExternalState.CANCELLED,
}


@dataclass(frozen=True)
class HubSide:
    """A hub invoice as it is compared: amounts rounded to its currency, the state it should have
    in the target (None when the hub does not know), and the target invoice it is linked to."""

    invoice_id: int
    reference: str
    total: Decimal
    tax: Decimal
    currency: str
    customer: str
    issue_date: date
    state: ExternalState | None
    linked_id: str | None


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    reference: str | None
    invoice_id: int | None = None
    field: str | None = None
    hub_value: str | None = None
    target_value: str | None = None
    target_external_id: str | None = None
    target_url: str | None = None


# ---- starting runs ----------------------------------------------------------------------------


def start_run(connection_id: int, period_from: date, period_to: date, requested_by_id: int | None) -> ReconciliationRun:
    """A queued run for the connection and period, committed and handed to the queue. 404 for an
    unknown connection; 422 naming `to` (before `from`) or `connection_id` (its type cannot list
    invoices)."""
    connection = db.session.get(Connection, connection_id)
    if connection is None:
        raise NotFound(gettext("No connection with id %(id)s.", id=connection_id))
    if period_from > period_to:
        raise ValidationFailed({"to": gettext("Must be on or after from (%(date)s).", date=date_text(period_from))})
    if not can_reconcile(connection):
        label = registry().get(connection.type).label
        raise ValidationFailed(
            {
                "connection_id": gettext(
                    "%(system)s connections cannot list their invoices, so they cannot be reconciled.", system=label
                )
            }
        )
    run = ReconciliationRun(
        connection=connection, period_from=period_from, period_to=period_to, requested_by_id=requested_by_id
    )
    db.session.add(run)
    db.session.commit()
    _enqueue(run)
    return run


def can_reconcile(connection: Connection) -> bool:
    return connection.type in registry() and registry().get(connection.type).lists_invoices()


def _enqueue(run: ReconciliationRun) -> None:
    try:
        enqueue_once(get_queue(), f"reconcile-{run.id}", RUN_JOB, run.id, timeout=3600)
    except RedisError as exc:
        run.state, run.finished_at = RunState.FAILED, utcnow()
        run.error_message = sentence(
            N_("The job queue is unavailable (%(error)s); start the run again later."), error=str(exc)
        )
        run.error = english(run.error_message)
        db.session.commit()
        return
    wake_embedded_worker()


def start_nightly_runs(today: date | None = None) -> int:
    """A run for the last NIGHTLY_DAYS of every enabled connection that can list its invoices and
    has none queued or running; how many were started."""
    today = today or utcnow().date()
    busy = select(ReconciliationRun.connection_id).where(
        ReconciliationRun.state.in_([RunState.QUEUED, RunState.RUNNING])
    )
    connections = db.session.scalars(
        select(Connection).where(Connection.enabled.is_(True), Connection.id.not_in(busy)).order_by(Connection.id)
    ).all()
    started = 0
    for connection in connections:
        if can_reconcile(connection):
            start_run(connection.id, today - timedelta(days=NIGHTLY_DAYS - 1), today, None)
            started += 1
    return started


# ---- running one -------------------------------------------------------------------------------


def execute(run_id: int) -> str:
    """The job: compare, write the lines and counts, commit. Does nothing for a run that is done or
    failed; a run left running by a dead worker starts over. A failure is kept on the run."""
    run = db.session.get(ReconciliationRun, run_id)
    if run is None or run.state in (RunState.DONE, RunState.FAILED):
        return "nothing to do"
    db.session.execute(delete(ReconciliationLine).where(ReconciliationLine.run_id == run.id))
    run.state, run.started_at, run.progress = RunState.RUNNING, utcnow(), 0
    run.error = run.error_message = None
    run.hub_count = run.target_count = 0
    db.session.commit()
    connector = None
    try:
        connector = open_connector(run.connection)
        findings = reconcile(connector, run)
    except Exception as exc:
        db.session.rollback()
        if not isinstance(exc, ConnectorError):
            log.exception("reconciliation run %s failed", run_id)
        run.state, run.finished_at = RunState.FAILED, utcnow()
        run.error = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        db.session.commit()
        return f"failed: {run.error}"
    finally:
        if connector is not None:
            connector.close()
    _record(run, findings)
    return ", ".join(f"{n} {kind}" for kind, n in run.counts.items())


def reconcile(connector: Connector, run: ReconciliationRun) -> list[Finding]:
    """What differs between the target and the hub for the run's connection and period. Commits the
    run's progress after each page the target hands out."""
    hub = hub_invoices(run.connection_id, run.period_from, run.period_to)
    run.hub_count = len(hub)
    listed: dict[str, list[ListedInvoice]] = {}
    for page in connector.list_invoices(run.period_from, run.period_to):
        for invoice in page:
            if invoice.reference:
                listed.setdefault(invoice.reference, []).append(invoice)
        run.target_count += len(page)
        run.progress = min(LISTING_SHARE, run.target_count * LISTING_SHARE // max(run.hub_count, 1))
        db.session.commit()
    hub.update(_dated_elsewhere(run.connection_id, [ref for ref in listed if ref not in hub]))
    run.hub_count = len(hub)
    findings = compare(hub, listed)
    return _confirm_missing(connector, hub, findings)


def _record(run: ReconciliationRun, findings: list[Finding]) -> None:
    if findings:
        db.session.execute(
            insert(ReconciliationLine.__table__),
            [{"run_id": run.id, **finding.__dict__} for finding in findings],
        )
    for kind in FindingKind:
        setattr(run, kind.value, sum(1 for f in findings if f.kind == kind))
    differing = {f.reference for f in findings if f.invoice_id is not None}
    run.matched = run.hub_count - len(differing)
    run.state, run.progress, run.finished_at = RunState.DONE, 100, utcnow()
    db.session.commit()


def hub_invoices(connection_id: int, period_from: date, period_to: date) -> dict[str, HubSide]:
    """The hub invoices dated in the period that the connection should hold, by reference."""
    in_period = and_(HubInvoice.issue_date >= period_from, HubInvoice.issue_date <= period_to)
    return _hub_sides(connection_id, in_period)


def _dated_elsewhere(connection_id: int, references: list[str]) -> dict[str, HubSide]:
    """Hub invoices of the connection with these references, whatever their date (a target invoice
    in the period whose hub invoice is dated outside it is compared, not called unknown)."""
    hub_like = [ref for ref in references if HUB_REFERENCE.fullmatch(ref)]
    sides: dict[str, HubSide] = {}
    for k in range(0, len(hub_like), LOOK_UP_CHUNK):
        sides.update(_hub_sides(connection_id, HubInvoice.number.in_(hub_like[k : k + LOOK_UP_CHUNK])))
    return sides


def _hub_sides(connection_id: int, condition) -> dict[str, HubSide]:
    pushed = select(OutboxEvent.invoice_id).where(
        OutboxEvent.connection_id == connection_id, OutboxEvent.operation == "push_invoice"
    )
    link = and_(ExternalLink.invoice_id == HubInvoice.id, ExternalLink.connection_id == connection_id)
    rows = db.session.execute(
        select(
            HubInvoice.id,
            HubInvoice.number,
            HubInvoice.total,
            HubInvoice.tax_total,
            HubInvoice.currency,
            HubInvoice.customer_name,
            HubInvoice.issue_date,
            HubInvoice.state,
            ExternalLink.external_id,
            ExternalLink.state,
        )
        .select_from(HubInvoice)
        .outerjoin(ExternalLink, link)
        .where(condition, or_(ExternalLink.id.is_not(None), HubInvoice.id.in_(pushed)))
    ).all()
    units: dict[str, Decimal] = {}
    sides = {}
    for invoice_id, number, total, tax, currency, customer, issued, state, linked_id, link_state in rows:
        if state == InvoiceState.CANCELLED and linked_id is None:
            continue  # cancelled before the target got it: nothing is owed there
        unit = units.get(currency) or units.setdefault(currency, minor_unit(currency))
        sides[number] = HubSide(
            invoice_id=invoice_id,
            reference=number,
            total=round_to(total, unit),
            tax=round_to(tax, unit),
            currency=currency,
            customer=customer,
            issue_date=issued,
            state=ExternalState(link_state) if link_state else EXPECTED_STATE.get(state),
            linked_id=linked_id,
        )
    return sides


def compare(hub: dict[str, HubSide], listed: dict[str, list[ListedInvoice]]) -> list[Finding]:
    """The differences between the hub's invoices and the target's, both by reference. A hub
    invoice without a target invoice is reported missing here; `_confirm_missing` then looks for
    it outside the period."""
    findings: list[Finding] = []
    for reference, side in hub.items():
        held = listed.get(reference)
        if not held:
            findings.append(Finding(FindingKind.MISSING, reference, side.invoice_id, hub_value=str(side.total)))
            continue
        kept = next((inv for inv in held if inv.external_id == side.linked_id), held[0])
        if len(held) > 1:
            findings.append(_duplicated(side, kept, held))
        findings.extend(_mismatches(side, kept))
    for reference, held in listed.items():
        if reference not in hub and HUB_REFERENCE.fullmatch(reference):
            findings.extend(
                Finding(
                    FindingKind.UNKNOWN,
                    reference,
                    target_value=f"{inv.number or inv.external_id}: {inv.total} {inv.currency}",
                    target_external_id=inv.external_id,
                    target_url=inv.url,
                )
                for inv in held
            )
    return findings


def _duplicated(side: HubSide, kept: ListedInvoice, held: list[ListedInvoice]) -> Finding:
    extra = [inv for inv in held if inv is not kept]
    return Finding(
        FindingKind.DUPLICATED,
        side.reference,
        side.invoice_id,
        hub_value=kept.number or kept.external_id,
        target_value=f"{len(held)} invoices: " + ", ".join(inv.number or inv.external_id for inv in held),
        target_external_id=extra[0].external_id,
        target_url=extra[0].url,
    )


def _mismatches(side: HubSide, target: ListedInvoice) -> Iterable[Finding]:
    pairs: list[tuple[str, object, object]] = [
        ("total", side.total, target.total),
        ("currency", side.currency, target.currency),
    ]
    if target.tax is not None:
        pairs.append(("tax", side.tax, target.tax))
    if target.customer is not None:
        pairs.append(("customer", side.customer.strip(), target.customer.strip()))
    if side.state is not None:
        pairs.append(("state", side.state.value, target.state.value))
    for name, hub_value, target_value in pairs:
        if hub_value != target_value:
            yield Finding(
                FindingKind.MISMATCHED,
                side.reference,
                side.invoice_id,
                field=name,
                hub_value=str(hub_value),
                target_value=str(target_value),
                target_external_id=target.external_id,
                target_url=target.url,
            )


def _confirm_missing(connector: Connector, hub: dict[str, HubSide], findings: list[Finding]) -> list[Finding]:
    """Missing ones looked up by key (a read only, in chunks): one the target dates outside the
    period is there, and reported as a date mismatch instead."""
    missing = [f.reference for f in findings if f.kind == FindingKind.MISSING]
    found = {}
    for k in range(0, len(missing), LOOK_UP_CHUNK):
        found.update(connector.look_up_invoices(missing[k : k + LOOK_UP_CHUNK]))
    confirmed = []
    for finding in findings:
        ref = found.get(finding.reference) if finding.kind == FindingKind.MISSING else None
        if ref is None:
            confirmed.append(finding)
            continue
        confirmed.append(
            Finding(
                FindingKind.MISMATCHED,
                finding.reference,
                finding.invoice_id,
                field="issue_date",
                hub_value=hub[finding.reference].issue_date.isoformat(),
                target_value="outside the period",
                target_external_id=ref.external_id,
                target_url=ref.url,
            )
        )
    return confirmed


# ---- reading and acting on a report -------------------------------------------------------------


def line_query(run: ReconciliationRun, kind: FindingKind | None = None):
    query = select(ReconciliationLine).where(ReconciliationLine.run_id == run.id)
    return query.where(ReconciliationLine.kind == kind) if kind is not None else query


CSV_COLUMNS = ("kind", "reference", "field", "hub_value", "target_value", "target_external_id", "target_url")


def csv_header() -> list[str]:
    """CSV_COLUMNS in the reader's language; in English, the names scripts read them by."""
    return [
        pgettext("reconciliation.csv", "kind"),
        pgettext("reconciliation.csv", "reference"),
        pgettext("reconciliation.csv", "field"),
        pgettext("reconciliation.csv", "hub_value"),
        pgettext("reconciliation.csv", "target_value"),
        pgettext("reconciliation.csv", "target_external_id"),
        pgettext("reconciliation.csv", "target_url"),
    ]


def lines_csv(run: ReconciliationRun) -> str:
    """Every line of the run as CSV, in the order they were found (the page hands it out with the
    byte order mark Excel needs: hub.ui.downloads)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_header())
    for line in db.session.scalars(line_query(run).order_by(ReconciliationLine.id)):
        writer.writerow(["" if getattr(line, c) is None else str(getattr(line, c)) for c in CSV_COLUMNS])
    return out.getvalue()


def repush(line_id: int, run_id: int | None = None) -> OutboxEvent:
    """Send a missing invoice to the run's connection again: its push event goes back to pending,
    as a retry from the failed queue does (the push still looks the key up before creating), or a
    new one is queued if it never had one. Committed and kicked. 404 for no such line (in that
    run); 409 when the line is no missing invoice, it is cancelled, or its push is under way."""
    line = db.session.get(ReconciliationLine, line_id)
    if line is None or (run_id is not None and line.run_id != run_id):
        raise NotFound(gettext("No reconciliation line with id %(id)s.", id=line_id))
    if line.kind != FindingKind.MISSING or line.invoice_id is None:
        raise Conflict(
            gettext(
                "Line %(id)s is %(kind)s: only a missing invoice can be pushed again.", id=line.id, kind=line.kind.value
            )
        )
    run = db.session.get(ReconciliationRun, line.run_id)
    invoice = db.session.get(HubInvoice, line.invoice_id)
    if invoice is None or invoice.state == InvoiceState.CANCELLED:
        raise Conflict(gettext("Invoice %(reference)s is cancelled: it is not pushed again.", reference=line.reference))
    event = db.session.scalar(
        select(OutboxEvent)
        .where(
            OutboxEvent.connection_id == run.connection_id,
            OutboxEvent.invoice_id == invoice.id,
            OutboxEvent.operation == "push_invoice",
        )
        .order_by(OutboxEvent.id.desc())
    )
    if event is not None and event.state in outbox.LIVE:
        raise Conflict(
            gettext("%(number)s is already on its way to %(name)s.", number=invoice.number, name=run.connection.name)
        )
    if event is None:
        event = OutboxEvent(operation="push_invoice", connection_id=run.connection_id, invoice_id=invoice.id)
        db.session.add(event)
    else:
        outbox.requeue(event)
    db.session.commit()
    outbox.kick()
    return event

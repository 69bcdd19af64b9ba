"""Hub invoices: the snapshot taken when a deal is won, and the outbox events that carry it to
every enabled connection — all in the deal's own transaction, so nothing is lost.

The snapshot is the canonical `InvoiceDocument` in JSON form. It is finance's source of truth:
later edits to the customer or the products do not change an invoice that was already made.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount, invoice_to_dict
from hub.extensions import db
from hub.models import Connection, Deal, HubInvoice, InvoiceState, OutboxEvent, OutboxState
from hub.models.base import utcnow
from hub.money import round_money
from hub.sync.connectors import registry

DEFAULT_PAYMENT_DAYS = 14


def invoice_number(invoice_id: int) -> str:
    return f"INV-{invoice_id:06d}"


def build_document(deal: Deal, number: str) -> InvoiceDocument:
    customer = deal.customer
    issue = utcnow().date()
    days = int(current_app.config.get("HUB_PAYMENT_DAYS", DEFAULT_PAYMENT_DAYS))
    cur = deal.currency
    return InvoiceDocument(
        number=number,
        # The hub number is unique and never reused, so it is the key every target looks up.
        idempotency_key=number,
        deal_reference=deal.number or "",
        customer=Party(
            name=customer.name,
            tax_id=customer.tax_id,
            email=customer.email,
            phone=customer.phone,
            address=Address(
                street=customer.billing_street,
                city=customer.billing_city,
                postal_code=customer.billing_postal_code,
                region=customer.billing_region,
                country=customer.billing_country,
            ),
            hub_id=customer.id,
        ),
        currency=cur,
        issue_date=issue,
        due_date=issue + timedelta(days=days),
        lines=tuple(
            InvoiceLine(
                sku=line.product.sku if line.product else None,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                tax_rate=line.tax_rate,
                net=line.amounts.net,
                tax=line.amounts.tax,
                total=line.amounts.total,
                unit=line.product.unit if line.product else "unit",
            )
            for line in deal.lines
        ),
        subtotal=round_money(deal.subtotal, cur),
        tax_total=round_money(deal.tax_total, cur),
        total=round_money(deal.total, cur),
        taxes=tuple(TaxAmount(rate=t["rate"], net=t["net"], tax=t["tax"]) for t in deal.tax_breakdown()),
        notes=f"{deal.number} {deal.title}",
    )


def create_for_won_deal(deal: Deal) -> HubInvoice:
    """Snapshot the won deal into a hub invoice and queue a push to each enabled connection.

    Runs inside the caller's transaction: the deal, the invoice and the outbox rows commit together.
    """
    invoice = HubInvoice(
        deal=deal,
        customer=deal.customer,
        customer_name=deal.customer.name,
        currency=deal.currency,
        issue_date=utcnow().date(),
        subtotal=deal.subtotal,
        tax_total=deal.tax_total,
        total=deal.total,
        state=InvoiceState.PENDING,
        snapshot={},
    )
    db.session.add(invoice)
    db.session.flush()
    invoice.number = invoice_number(invoice.id)
    doc = build_document(deal, invoice.number)
    invoice.issue_date, invoice.due_date = doc.issue_date, doc.due_date
    invoice.snapshot = invoice_to_dict(doc)
    for connection in enabled_connections("won"):
        if _fetches_invoices(connection):
            continue  # the target collects it (1C's site exchange asks for orders not yet acknowledged)
        db.session.add(OutboxEvent(operation="push_invoice", connection=connection, invoice=invoice))
    return invoice


def invoice_targets() -> list[str]:
    """The names of the systems a deal's invoice goes to when it is won (what the UI warns of)."""
    return [connection.name for connection in enabled_connections("won")]


def enabled_connections(trigger: str) -> list[Connection]:
    return list(
        db.session.scalars(
            select(Connection)
            .where(Connection.enabled.is_(True), Connection.trigger == trigger)
            .order_by(Connection.id)
        )
    )


def _fetches_invoices(connection: Connection) -> bool:
    return connection.type in registry() and registry().get(connection.type).fetches_invoices


def cancel_for_lost_deal(deal: Deal) -> list[HubInvoice]:
    """A won deal was lost: cancel its invoices in the hub and queue a cancel in every target
    that has (or may have) the invoice. Pushes that never started are simply discarded."""
    invoices = db.session.scalars(
        select(HubInvoice).where(HubInvoice.deal_id == deal.id, HubInvoice.state != InvoiceState.CANCELLED)
    ).all()
    now = utcnow()
    for invoice in invoices:
        invoice.state = InvoiceState.CANCELLED
        pushes = db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.invoice_id == invoice.id, OutboxEvent.operation == "push_invoice")
        ).all()
        for connection_id in sorted({e.connection_id for e in pushes}):
            events = [e for e in pushes if e.connection_id == connection_id]
            may_exist = False
            for event in events:
                if event.state == OutboxState.DONE or not _discard_if_never_sent(event.id, now):
                    may_exist = True
            if may_exist:
                db.session.add(OutboxEvent(operation="cancel_invoice", connection_id=connection_id, invoice=invoice))
    return list(invoices)


def _discard_if_never_sent(event_id: int, now) -> bool:
    """Discard a push that no worker has tried yet; a compare-and-set, so a push a worker takes at
    this very moment is left alone (and then gets a cancel)."""
    result = db.session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == event_id,
            OutboxEvent.attempts == 0,
            OutboxEvent.state.in_([OutboxState.PENDING, OutboxState.DISPATCHED]),
            or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until < now),
        )
        .values(
            state=OutboxState.DISCARDED,
            finished_at=now,
            last_error="discarded: the deal was lost before the invoice was sent",
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1

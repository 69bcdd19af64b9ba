"""Orders for 1C: which won deals' invoices a query sends, what 1C's acknowledgement marks as
exported, and what 1C's order changes (paid, shipped, cancelled) do to the hub invoice and deal.

An invoice is exported to a connection once it has an ExternalLink there: written only on
`mode=success` for the invoices the session's last query sent. A query without a success leaves
them unmarked, so the next session sends them again (1C matches orders by their Ид). An exported
invoice the hub cancels (its deal was lost) is sent once more, marked «Отменен».

What 1C says was paid: an order's «Дата оплаты по 1С» alone means the whole invoice (1C sets it
once the order is paid off). 1C with partial payments (the exchange 1C-Bitrix's sale module 16 and
1C's module for it from version 6 speak) sends each payment as a Документ of its own, ХозОперация
«Выплата безналичных денег», «Выплата наличных денег» or «Эквайринговая операция», its Сумма, and
the order's number in Основание; those add up to the amount paid, partially paid below the total,
and an order of the same file with a date of payment is not taken as paid in full on its own word.
A payment counts once, by its 1C number (else its Номер or Ид): the hub keeps each one it was sent
(onec_payments), not a note that a user may delete. One 1C undoes after it was counted is taken off
the amount paid again (paid becomes partially paid, or posted), and noted on the deal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import exists, select

from connectors.documents import ExternalState, invoice_from_dict
from connectors.errors import ConnectorError
from connectors.onec.commerceml import OrderChange
from connectors.onec.exchange import OneCExchangeConnector
from hub.extensions import db
from hub.i18n import N_
from hub.models import (
    Activity,
    ActivityKind,
    Connection,
    ExchangeSession,
    ExternalLink,
    HubInvoice,
    InvoiceState,
    OneCPayment,
)
from hub.models.base import utcnow
from hub.sentences import Stored, canonical, day, joined, money, sentence, state_word
from hub.sync.status import StateChanges

log = logging.getLogger(__name__)
DRAFT, POSTED, PARTIALLY_PAID, PAID, CANCELLED = "draft", "posted", "partially_paid", "paid", "cancelled"
RANK = {DRAFT: 0, POSTED: 1, PARTIALLY_PAID: 2, PAID: 3, CANCELLED: 4}


@dataclass
class Query:
    xml: bytes
    sent: list[str]  # invoice numbers
    refused: dict[int, ConnectorError]  # invoice id → why it was held back


def pending_invoices(connection: Connection, limit: int) -> list[HubInvoice]:
    """What 1C has still to hear about: invoices made since the connection exists, not cancelled
    and not yet acknowledged; and acknowledged ones the hub cancelled since (a lost deal), which
    go again marked «Отменен» until 1C acknowledges that too."""
    acknowledged = exists().where(ExternalLink.invoice_id == HubInvoice.id, ExternalLink.connection_id == connection.id)
    cancel_unheard = exists().where(
        ExternalLink.invoice_id == HubInvoice.id,
        ExternalLink.connection_id == connection.id,
        ExternalLink.state != CANCELLED,
    )
    new = (HubInvoice.state != InvoiceState.CANCELLED) & ~acknowledged
    cancelled = (HubInvoice.state == InvoiceState.CANCELLED) & cancel_unheard
    return list(
        db.session.scalars(
            select(HubInvoice)
            .where(HubInvoice.created_at >= connection.created_at, new | cancelled)
            .order_by(HubInvoice.id)
            .limit(limit)
        )
    )


def query(session: ExchangeSession, connector: OneCExchangeConnector) -> Query:
    """The orders document; the session remembers what it sent until 1C acknowledges it."""
    invoices = pending_invoices(session.connection, connector.config["orders_per_query"])
    by_key = {}
    docs = []
    for invoice in invoices:
        doc = invoice_from_dict(invoice.snapshot)
        by_key[doc.idempotency_key] = invoice
        docs.append(doc)
    cancelled = {k for k, invoice in by_key.items() if invoice.state == InvoiceState.CANCELLED}
    xml, sent, refused = connector.orders_document(docs, utcnow(), cancelled=cancelled)
    session.sent_invoice_ids = [by_key[d.idempotency_key].id for d in sent]
    return Query(xml, [d.number for d in sent], {by_key[k].id: exc for k, exc in refused.items()})


def acknowledge(session: ExchangeSession) -> list[HubInvoice]:
    """1C received the last query's orders: mark them exported (an ExternalLink each), and the
    cancellations among them as heard."""
    ids = list(session.sent_invoice_ids or [])
    invoices = db.session.scalars(select(HubInvoice).where(HubInvoice.id.in_(ids)).order_by(HubInvoice.id)).all()
    for invoice in invoices:
        link = _link(session.connection, invoice)
        if invoice.state == InvoiceState.CANCELLED:
            link.state = CANCELLED
        elif invoice.state in (InvoiceState.PENDING, InvoiceState.FAILED):
            invoice.state = InvoiceState.SENT
    session.sent_invoice_ids = []
    return list(invoices)


def _link(connection: Connection, invoice: HubInvoice) -> ExternalLink:
    link = db.session.scalar(
        select(ExternalLink).where(ExternalLink.connection_id == connection.id, ExternalLink.invoice_id == invoice.id)
    )
    if link is None:
        link = ExternalLink(connection=connection, invoice=invoice, external_id=invoice.number or "", state=DRAFT)
        db.session.add(link)
    return link


@dataclass
class ChangesResult:
    applied: list[str] = field(default_factory=list)  # what changed, in words
    # Order ids this connection was never sent (unknown to the hub, or another system's invoice):
    # changed nothing.
    unknown: list[str] = field(default_factory=list)


def apply_changes(connection: Connection, changes: Iterable[OrderChange]) -> ChangesResult:
    """What 1C says became of the orders, onto the hub invoices (state, amount paid, 1C's number)
    and their deals (a note for sales): the orders first, then the payments on them. The file's
    changes are recorded together at its end. Flushes; the caller commits or rolls back all of it."""
    result = ChangesResult()
    states = StateChanges()
    now = utcnow()
    changes = list(changes)
    payments = [c for c in changes if c.is_payment]
    paid_in_parts = {p.basis for p in payments if p.basis}
    for change in changes:
        if not change.is_payment:
            in_parts = change.id in paid_in_parts or change.number in paid_in_parts
            _apply_order(connection, change, in_parts, states, result, now)
    for payment in payments:
        _apply_payment(connection, payment, states, result, now)
    states.record()
    db.session.flush()
    return result


def _apply_order(
    connection: Connection,
    change: OrderChange,
    paid_in_parts: bool,
    states: StateChanges,
    result: ChangesResult,
    now: datetime,
) -> None:
    # Only an order this connection was sent (and 1C acknowledged) can change: a file naming
    # any other invoice, of the hub or of another system, changes nothing.
    link = _exported(connection, change.id) or (change.number and _exported(connection, change.number))
    if not link:
        result.unknown.append(change.id)
        return
    invoice = link.invoice
    if change.onec_number:
        link.external_number = change.onec_number
    # With payment documents in the file, they say how much was paid (see _apply_payment).
    paid = change.paid_on and not paid_in_parts
    state = CANCELLED if change.cancelled else PAID if paid else POSTED if change.posted else None
    # States only move forward (a payment does not undo a cancellation, a repeat changes nothing).
    if state is not None and RANK[state] > RANK.get(link.state, 0):
        link.status_checked_at = utcnow()
        # Only a payment tells an amount: 1C's date of payment means the whole invoice.
        states.apply(link, ExternalState(state), invoice.total if state == PAID else None)
        if state == PAID:
            words = sentence(
                N_("%(number)s paid according to 1C on %(day)s"), number=invoice.number, day=day(change.paid_on)
            )
        else:
            template = {CANCELLED: N_("%(number)s cancelled in 1C"), POSTED: N_("%(number)s posted in 1C")}[state]
            words = sentence(template, number=invoice.number)
        _note(invoice, words, change, now)
        result.applied.append(f"{invoice.number}: {state}")
    if change.shipped_on:
        subject = sentence(N_("%(number)s shipped according to 1C"), number=invoice.number)
        if not _noted(invoice, canonical(subject)):
            _note(invoice, subject, change, now, sentence(N_("Shipped on %(day)s."), day=day(change.shipped_on)))
            result.applied.append(f"{invoice.number}: shipped")


def _apply_payment(
    connection: Connection, payment: OrderChange, states: StateChanges, result: ChangesResult, now: datetime
) -> None:
    """One payment document: its amount added to what was paid on its order once (its row in
    onec_payments says it was), and taken off again if 1C undoes it."""
    link = _exported(connection, payment.basis) if payment.basis else None
    if not link:
        result.unknown.append(payment.basis or payment.id)
        return
    invoice = link.invoice
    label = (payment.attributes.get("Номер оплаты по 1С") or payment.number or payment.id)[:100]
    kept = db.session.scalar(
        select(OneCPayment).where(OneCPayment.link_id == link.id, OneCPayment.payment_key == label)
    )
    if not payment.payment_received:
        if kept is not None and kept.counted and kept.undone_at is None:
            kept.undone_at = now
            paid = max(link.amount_paid - kept.amount, Decimal(0))
            state = _paid_state(paid, invoice.total)
            link.status_checked_at = utcnow()
            states.apply(link, ExternalState(state), paid)
            body = sentence(
                N_("%(amount)s taken off: %(paid)s of %(total)s paid."),
                amount=money(kept.amount, invoice.currency),
                paid=money(paid, invoice.currency),
                total=money(invoice.total, invoice.currency),
            )
            undone = sentence(N_("%(number)s payment %(payment)s undone in 1C"), number=invoice.number, payment=label)
            _note(invoice, undone, payment, now, body)
            result.applied.append(f"{invoice.number}: payment {label} undone in 1C, {state}")
        return
    if kept is not None and kept.undone_at is None:
        return  # counted (or set aside) before: 1C sends a payment again with each change
    subject = sentence(N_("%(number)s payment %(payment)s according to 1C"), number=invoice.number, payment=label)
    amount = payment.amount if payment.amount is not None else Decimal(0)
    if amount <= 0 or link.state in (PAID, CANCELLED):
        # Nothing to add: no amount, or the order is settled already (paid in full, cancelled).
        log.warning("1C payment %s of %s (%s) not counted: order %s", label, invoice.number, payment.amount, link.state)
        if kept is None:
            db.session.add(OneCPayment(link_id=link.id, payment_key=label, amount=amount, counted=False))
        else:
            kept.undone_at, kept.counted = None, False
        body = sentence(
            N_("%(amount)s not counted: the invoice is %(state)s in the hub."),
            amount=money(amount, invoice.currency),
            state=state_word(link.state),
        )
        _note(invoice, subject, payment, now, body)
        result.applied.append(f"{invoice.number}: payment {label} not counted ({link.state})")
        return
    if kept is None:
        db.session.add(OneCPayment(link_id=link.id, payment_key=label, amount=amount, counted=True))
    else:  # undone before, paid again
        kept.undone_at, kept.counted, kept.amount = None, True, amount
    paid = link.amount_paid + amount
    state = _paid_state(paid, invoice.total)
    link.status_checked_at = utcnow()
    states.apply(link, ExternalState(state), paid)
    cur = invoice.currency
    figures = {"amount": money(amount, cur), "paid": money(paid, cur), "total": money(invoice.total, cur)}
    if payment.paid_on:
        body = sentence(N_("%(amount)s paid on %(day)s: %(paid)s of %(total)s."), day=day(payment.paid_on), **figures)
    else:
        body = sentence(N_("%(amount)s paid: %(paid)s of %(total)s."), **figures)
    _note(invoice, subject, payment, now, body)
    result.applied.append(f"{invoice.number}: {state} ({_amount(paid)} of {_amount(invoice.total)})")


def _paid_state(paid: Decimal, total: Decimal) -> str:
    return PAID if paid >= total else PARTIALLY_PAID if paid > 0 else POSTED


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _exported(connection: Connection, number: str) -> ExternalLink | None:
    """The link of the invoice with this number to this connection, if 1C acknowledged it."""
    return db.session.scalar(
        select(ExternalLink)
        .join(HubInvoice, HubInvoice.id == ExternalLink.invoice_id)
        .where(ExternalLink.connection_id == connection.id, HubInvoice.number == number)
    )


def _noted(invoice: HubInvoice, subject: str) -> bool:
    return (
        db.session.scalar(
            select(Activity.id).where(Activity.deal_id == invoice.deal_id, Activity.subject == subject).limit(1)
        )
        is not None
    )


def _note(invoice: HubInvoice, subject: Stored, change: OrderChange, now: datetime, body: Stored | None = None) -> None:
    """A note for sales on the invoice's deal, kept as sentences (said in the reader's language) and
    as their English (`canonical`: what `_noted` finds it by)."""
    details = [body] if body else []
    if change.onec_number:
        details.append(sentence(N_("1C order number %(number)s."), number=change.onec_number))
    if change.status:  # 1C's own word for it, as 1C wrote it
        details.append(sentence(N_("1C status: %(status)s."), status=change.status))
    said = joined(details, " ") if details else None
    db.session.add(
        Activity(
            kind=ActivityKind.NOTE,
            subject=canonical(subject)[:200],
            subject_message=subject,
            body=canonical(said) if said else None,
            body_message=said,
            occurred_at=now,
            deal_id=invoice.deal_id,
            customer_id=invoice.customer_id,
        )
    )

"""Hub invoices: the snapshot taken when a deal is won, and the outbox events that carry it to
every enabled connection — all in the deal's own transaction, so nothing is lost.

The snapshot is the canonical `InvoiceDocument` in JSON form. It is finance's source of truth:
later edits to the customer or the products do not change an invoice that was already made.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, insert, literal, or_, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from connectors.arithmetic import Unfit, unfit_lines
from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount, invoice_to_dict
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.i18n import N_
from hub.locale_numbers import number_text
from hub.models import Connection, Deal, HubInvoice, InvoiceState, OutboxEvent, OutboxState
from hub.models.base import UTCDateTime, utcnow
from hub.money import minor_unit, round_money
from hub.sentences import english, number, render, sentence
from hub.sync import outbox
from hub.sync.registry import registry

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


def create_for_won_deal(deal: Deal, *, first_win: bool) -> HubInvoice:
    """Snapshot the won deal into a hub invoice, in the caller's transaction. `first_win`: the deal
    was never won before, so this is its only invoice (a deal has invoices only once it has been
    won), and the deal's answer can list it without reading the others back."""
    invoice_id = next_invoice_id()
    number = invoice_number(invoice_id)
    doc = build_document(deal, number)
    invoice = HubInvoice(
        id=invoice_id,
        number=number,
        deal=deal,
        customer=deal.customer,
        customer_name=deal.customer.name,
        currency=deal.currency,
        issue_date=doc.issue_date,
        due_date=doc.due_date,
        subtotal=deal.subtotal,
        tax_total=deal.tax_total,
        total=deal.total,
        state=InvoiceState.PENDING,
        snapshot=invoice_to_dict(doc),
    )
    db.session.add(invoice)
    if first_win:
        set_committed_value(invoice, "links", [])
        set_committed_value(deal, "invoices", [invoice])
    return invoice


def next_invoice_id() -> int:
    """The id the next invoice gets, so that its number and snapshot are written with it. The
    caller holds the deal's lock, which on SQLite is the database's one write lock: the next id is
    then the largest plus one, as SQLite would give it."""
    with db.session.no_autoflush:  # the deal's changes are flushed once, with the invoice
        if db.session.get_bind().dialect.name == "postgresql":
            return db.session.scalar(text("SELECT nextval(pg_get_serial_sequence('invoices', 'id'))"))
        return db.session.scalar(select(func.coalesce(func.max(HubInvoice.id), 0) + 1))


def queue_pushes(invoice: HubInvoice, *, dispatched: bool) -> list[outbox.Written]:
    """A push of the (flushed) invoice to every enabled connection that takes won deals, in one
    statement; the events written. `dispatched`: the caller hands them to the queue after its commit
    (else the dispatcher does). A target that fetches invoices itself (1C's site exchange asks for
    orders not yet acknowledged) gets none."""
    now = utcnow()
    fetching = [cls.type_name for cls in registry() if cls.fetches_invoices]
    columns = ("operation", "connection_id", "invoice_id", "state", "attempts", "created_at", "available_at")
    values = [literal("push_invoice"), Connection.id, literal(invoice.id), literal(_state(dispatched).value)]
    values += [literal(0), literal(now, UTCDateTime), literal(now, UTCDateTime)]
    if dispatched:
        columns += ("dispatched_at",)
        values.append(literal(now, UTCDateTime))
    targets = (
        select(*values)
        .where(Connection.enabled.is_(True), Connection.trigger == "won", Connection.type.not_in(fetching))
        .order_by(Connection.id)
    )
    table = OutboxEvent.__table__
    written = db.session.execute(
        insert(table).from_select(columns, targets).returning(table.c.id, table.c.connection_id)
    )
    return [outbox.Written(event_id, connection_id, "push_invoice") for event_id, connection_id in sorted(written)]


def _state(dispatched: bool) -> OutboxState:
    return OutboxState.DISPATCHED if dispatched else OutboxState.PENDING


def refuse_lines_targets_cannot_take(deal: Deal) -> None:
    """422 naming each line that an enabled connection's target cannot invoice at the hub's net
    (connectors/arithmetic.py): refused now, while the salesperson can change it, rather than parked
    after the fact. Nothing is read unless some line does not fit some kind of target."""
    unit = minor_unit(deal.currency)
    places = max(0, -unit.as_tuple().exponent)
    lines = [(line.quantity, line.unit_price, line.discount_percent, line.amounts.net) for line in deal.lines]
    unfit: dict[str, dict[int, Unfit]] = {}  # connection type → line index → why
    for cls in registry():
        if cls.line_arithmetic is not None:
            refused = unfit_lines(cls.line_arithmetic, lines, unit)
            if refused:
                unfit[cls.type_name] = refused
    if not unfit:
        return
    in_use = db.session.execute(
        select(Connection.type, Connection.name)
        .where(Connection.enabled.is_(True), Connection.trigger == "won", Connection.type.in_(unfit))
        .order_by(Connection.id)
    ).all()
    errors: dict[str, list[str]] = {}
    for type_name, name in in_use:
        for i, why in unfit[type_name].items():
            path = why.path(i)
            if why.field == "currency":  # every line: said once, of the deal
                message = gettext(
                    "The invoice for %(name)s cannot be in %(currency)s: %(why)s. Choose another currency.",
                    name=name,
                    currency=deal.currency,
                    why=_unfit_text(why),
                )
            else:
                net = number_text(deal.lines[i].amounts.net, places)
                if why.field == "quantity":
                    template = N_(
                        "The invoice for %(name)s cannot carry this line at %(net)s: %(why)s. "
                        "Split the line or change its quantity."
                    )
                else:
                    template = N_(
                        "The invoice for %(name)s cannot carry this line at %(net)s: %(why)s. "
                        "Split the line or change its price."
                    )
                message = gettext(template, name=name, net=net, why=_unfit_text(why))
            if message not in errors.get(path, []):
                errors.setdefault(path, []).append(message)
    if errors:
        raise ValidationFailed(errors)


def _unfit_text(why: Unfit) -> str:
    """A target's reason (connectors/arithmetic.py) in the reader's language and figures."""
    values = {name: number(v) if isinstance(v, Decimal) else str(v) for name, v in why.values.items()}
    return render(sentence(why.template, **values))


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


def cancel_for_lost_deal(deal: Deal, *, dispatched: bool) -> list[outbox.Written]:
    """A won deal was lost: cancel its invoices in the hub and queue a cancel in every target
    that has (or may have) the invoice; the cancel events' ids. Pushes that never started are
    simply discarded. `dispatched` as for `queue_pushes`."""
    invoices = db.session.scalars(
        select(HubInvoice).where(HubInvoice.deal_id == deal.id, HubInvoice.state != InvoiceState.CANCELLED)
    ).all()
    now = utcnow()
    cancels = []
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
                cancels.append(
                    OutboxEvent(
                        operation="cancel_invoice",
                        connection_id=connection_id,
                        invoice=invoice,
                        state=_state(dispatched),
                        dispatched_at=now if dispatched else None,
                    )
                )
    db.session.add_all(cancels)
    db.session.flush()
    return [outbox.Written(event.id, event.connection_id, event.operation) for event in cancels]


DISCARDED = sentence(N_("discarded: the deal was lost before the invoice was sent"))


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
            last_error=english(DISCARDED),
            last_error_message=DISCARDED,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1

"""What sales has sold that the target's stock does not show yet.

A won deal's quantities count against stock until the target's stock reflects them: for targets
whose invoices take goods out of stock, until its hub invoice is there and a stock pull has begun
since (the levels the hub holds were read after the goods left); for the others (where a shipment
moves stock, which the hub does not see), until the invoice is paid. Cancelled invoices count for
nothing. Open deals can count too, weighted by their probability.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Select, and_, exists, func, select

from hub.extensions import db
from hub.models import Connection, Deal, DealLine, ExternalLink, HubInvoice, InvoiceState, Stage, StageKind
from hub.sync.registry import registry

HUNDRED = Decimal(100)


def _lines(product_ids: Iterable[int] | None, kind: StageKind) -> Select:
    query = (
        select(DealLine.product_id, DealLine.quantity)
        .join(Deal, DealLine.deal_id == Deal.id)
        .join(Stage, Deal.stage_id == Stage.id)
        .where(Stage.kind == kind, DealLine.product_id.is_not(None))
    )
    if product_ids is not None:
        query = query.where(DealLine.product_id.in_(list(product_ids)))
    return query


def on_won_deals(product_ids: Iterable[int] | None = None, *, except_deal: int | None = None) -> dict[int, Decimal]:
    """Quantities per product on won deals that the target's stock does not reflect yet (all but
    `except_deal`, the one being looked at)."""
    moving = [cls.type_name for cls in registry() if cls.invoices_move_stock]
    reflected = exists().where(
        ExternalLink.invoice_id == HubInvoice.id,
        ExternalLink.connection_id == Connection.id,
        Connection.type.in_(moving),
        ExternalLink.created_at <= Connection.stock_pulled_at,
    )
    query = (
        _lines(product_ids, StageKind.WON)
        .outerjoin(HubInvoice, and_(HubInvoice.deal_id == Deal.id))
        .where(
            func.coalesce(HubInvoice.state, InvoiceState.PENDING.value).not_in(
                [InvoiceState.PAID.value, InvoiceState.CANCELLED.value]
            ),
            ~reflected,
        )
    )
    if except_deal is not None:
        query = query.where(Deal.id != except_deal)
    return _per_product(query, weighted=False)


def on_open_deals(product_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Quantities per product on open deals, each weighted by the deal's probability."""
    return _per_product(_lines(product_ids, StageKind.OPEN), weighted=True)


def _per_product(lines: Select, *, weighted: bool) -> dict[int, Decimal]:
    """Σ quantity (× probability %) per product over the lines. PostgreSQL adds them (NUMERIC is
    exact, and a popular product may sit on thousands of deals); SQLite keeps quantities as text
    and would add them as floats, so Python adds there."""
    probability = func.coalesce(Deal.probability, Stage.probability, 0)
    if db.engine.dialect.name == "postgresql":
        amount = DealLine.quantity * probability if weighted else DealLine.quantity
        grouped = lines.with_only_columns(DealLine.product_id, func.sum(amount)).group_by(DealLine.product_id)
        return {
            product_id: Decimal(total) / HUNDRED if weighted else Decimal(total)
            for product_id, total in db.session.execute(grouped)
        }
    totals: dict[int, Decimal] = {}
    for product_id, quantity, percent in db.session.execute(
        lines.with_only_columns(DealLine.product_id, DealLine.quantity, probability)
    ):
        amount = Decimal(quantity) * Decimal(percent) / HUNDRED if weighted else Decimal(quantity)
        totals[product_id] = totals.get(product_id, Decimal(0)) + amount
    return totals

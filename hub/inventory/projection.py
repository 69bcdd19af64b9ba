"""What sales has sold that the target's stock does not show yet.

A won deal's quantities count against stock until the target's stock reflects them: for targets
whose invoices take goods out of stock, until its hub invoice is there; for the others (where a
shipment moves stock, which the hub does not see), until the invoice is paid. Cancelled invoices
count for nothing. Open deals can count too, weighted by their probability.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Select, and_, exists, func, select

from hub.extensions import db
from hub.models import Connection, Deal, DealLine, ExternalLink, HubInvoice, InvoiceState, Stage, StageKind
from hub.sync.connectors import registry

HUNDRED = Decimal(100)


def _stock_moving_connections() -> list[int]:
    return [
        cid
        for cid, type_name in db.session.execute(select(Connection.id, Connection.type))
        if type_name in registry() and registry().get(type_name).invoices_move_stock
    ]


def _lines(product_ids: Iterable[int] | None, kind: StageKind) -> Select:
    query = (
        select(DealLine.product_id, DealLine.quantity, Deal.id, Deal.probability, Stage.probability)
        .join(Deal, DealLine.deal_id == Deal.id)
        .join(Stage, Deal.stage_id == Stage.id)
        .where(Stage.kind == kind, DealLine.product_id.is_not(None))
    )
    if product_ids is not None:
        query = query.where(DealLine.product_id.in_(list(product_ids)))
    return query


def on_won_deals(product_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Quantities per product on won deals that the target's stock does not reflect yet."""
    moving = _stock_moving_connections()
    reflected = exists().where(
        ExternalLink.invoice_id == HubInvoice.id,
        ExternalLink.connection_id.in_(moving) if moving else False,
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
    totals: dict[int, Decimal] = {}
    for product_id, quantity, *_ in db.session.execute(query):
        totals[product_id] = totals.get(product_id, Decimal(0)) + Decimal(quantity)
    return totals


def on_open_deals(product_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Quantities per product on open deals, each weighted by the deal's probability."""
    totals: dict[int, Decimal] = {}
    for product_id, quantity, _deal, override, stage_probability in db.session.execute(
        _lines(product_ids, StageKind.OPEN)
    ):
        probability = Decimal(override if override is not None else stage_probability or 0)
        totals[product_id] = totals.get(product_id, Decimal(0)) + Decimal(quantity) * probability / HUNDRED
    return totals

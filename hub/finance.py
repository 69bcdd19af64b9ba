"""Finance's view of the hub invoices: the filters the invoices page and `GET /api/v1/invoices`
share, and the totals by period and currency that keep apart what is issued, pending and failed.

| bucket | hub invoice states | means |
| --- | --- | --- |
| issued | sent, posted, partially paid, paid | a target holds it |
| pending | pending | on its way to the targets |
| failed | failed | a target refused it or could not be reached: not issued anywhere |
Cancelled invoices are left out of the totals (no revenue).

Filters that cannot match anything by construction are refused, naming the field, rather than
answered with an empty list: a currency that is not ISO 4217, an `issued_from` after `issued_to`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from hub.errors import ValidationFailed
from hub.locale_numbers import date_text
from hub.models import ExternalLink, HubInvoice, InvoiceState
from hub.money import ZERO
from hub.unicode_text import ContainsText

ISSUED = frozenset({InvoiceState.SENT, InvoiceState.POSTED, InvoiceState.PARTIALLY_PAID, InvoiceState.PAID})
BUCKET_OF = dict.fromkeys(ISSUED, "issued") | {InvoiceState.PENDING: "pending", InvoiceState.FAILED: "failed"}
BUCKETS = ("issued", "pending", "failed")
PERIODS = ("month", "quarter", "year")


def check_period(args: dict[str, Any]) -> None:
    """Refuse a period that ends before it starts (the schemas check each date and the currency)."""
    start, end = args.get("issued_from"), args.get("issued_to")
    if start and end and start > end:
        raise ValidationFailed(
            {"issued_to": [gettext("Must be on or after issued_from (%(date)s).", date=date_text(start))]}
        )


def invoice_query(args: dict[str, Any]) -> Select:
    """The invoices matching the (loaded) list arguments, with their links and deals."""
    check_period(args)
    query = select(HubInvoice).options(
        selectinload(HubInvoice.links).joinedload(ExternalLink.connection), selectinload(HubInvoice.deal)
    )
    if args.get("q"):
        query = query.where(_containing(args["q"]))
    for name in ("state", "customer_id", "deal_id", "currency"):
        if args.get(name) is not None:
            query = query.where(getattr(HubInvoice, name) == args[name])
    if "connection_id" in args:
        linked = select(ExternalLink.invoice_id).where(ExternalLink.connection_id == args["connection_id"])
        query = query.where(HubInvoice.id.in_(linked))
    if args.get("issued_from"):
        query = query.where(HubInvoice.issue_date >= args["issued_from"])
    if args.get("issued_to"):
        query = query.where(HubInvoice.issue_date <= args["issued_to"])
    return query


def _containing(text: str):
    """Number or customer name contains the text, case-insensitively in any script (% and _ taken literally)."""
    return or_(*(ContainsText(column, text.strip()) for column in (HubInvoice.number, HubInvoice.customer_name)))


@dataclass
class Bucket:
    currency: str  # what the amounts are in (the API rounds them to it)
    count: int = 0
    subtotal: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    paid: Decimal = ZERO

    def add(self, invoice: HubInvoice) -> None:
        self.count += 1
        self.subtotal += invoice.subtotal
        self.tax += invoice.tax_total
        self.total += invoice.total
        self.paid += invoice.amount_paid


@dataclass
class PeriodTotals:
    period: str
    currency: str
    buckets: dict[str, Bucket] = field(init=False)

    def __post_init__(self) -> None:
        self.buckets = {name: Bucket(self.currency) for name in BUCKETS}

    @property
    def issued(self) -> Bucket:
        return self.buckets["issued"]

    @property
    def pending(self) -> Bucket:
        return self.buckets["pending"]

    @property
    def failed(self) -> Bucket:
        return self.buckets["failed"]


def period_key(invoice: HubInvoice, period: str) -> str:
    d = invoice.issue_date
    if period == "year":
        return f"{d.year}"
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return f"{d.year}-{d.month:02d}"


def totals(invoices: Iterable[HubInvoice], period: str) -> list[PeriodTotals]:
    """Per period and currency (newest first, never mixing currencies): issued, pending and failed
    apart, each with count, net, tax, total and paid."""
    groups: dict[tuple[str, str], PeriodTotals] = {}
    for invoice in invoices:
        bucket = BUCKET_OF.get(invoice.state)
        if bucket is None:  # cancelled: no revenue
            continue
        key = (period_key(invoice, period), invoice.currency)
        groups.setdefault(key, PeriodTotals(*key)).buckets[bucket].add(invoice)
    return [groups[key] for key in sorted(groups, reverse=True)]

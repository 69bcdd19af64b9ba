"""The canonical documents: the contract between the hub and every connector.

Money is Decimal, currencies ISO 4217, dates ISO 8601 (`datetime.date`). Tax rates are fractions
(0.19 is 19 %), discounts percentages (10 is 10 %).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Address:
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None  # ISO 3166 alpha-2

    def named(self, street: str, city: str, postal_code: str, region: str, country: str) -> dict[str, str]:
        """The parts that are filled in, under the target's names for them."""
        names = {street: self.street, city: self.city, postal_code: self.postal_code, region: self.region}
        return {name: value for name, value in {**names, country: self.country}.items() if value}


@dataclass(frozen=True)
class Party:
    """The customer as the invoice names it."""

    name: str
    tax_id: str | None = None
    email: str | None = None
    phone: str | None = None
    address: Address = field(default_factory=Address)
    hub_id: int | None = None
    # Ids this customer is already known by, per connection: {"tryton-main": "42"}.
    external_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InvoiceLine:
    sku: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal
    unit: str = "unit"


@dataclass(frozen=True)
class TaxAmount:
    rate: Decimal
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    number: str  # the hub's invoice number, e.g. INV-000042
    idempotency_key: str  # stable across retries; what find_invoice looks up
    deal_reference: str  # e.g. D-000123
    customer: Party
    currency: str
    issue_date: date
    due_date: date | None
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    taxes: tuple[TaxAmount, ...] = ()
    notes: str | None = None


class ExternalState(enum.StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ExternalRef:
    """Where a pushed document lives in the target system."""

    system: str  # connector type, e.g. "tryton"
    external_id: str
    external_number: str | None = None
    url: str | None = None
    status: ExternalState = ExternalState.DRAFT


@dataclass(frozen=True)
class InvoiceStatus:
    external_id: str
    status: ExternalState
    amount_total: Decimal | None = None
    amount_paid: Decimal = Decimal(0)
    currency: str | None = None
    external_number: str | None = None


def amount_paid(state: ExternalState, total: Decimal, due: Decimal) -> Decimal:
    """What was paid of an invoice of `total` of which the target says `due` is still owed: all of
    it once paid, the difference while posted or partly paid, nothing for a draft or a cancelled
    invoice (one settled by a credit note was not paid, though nothing is due)."""
    if state == ExternalState.PAID:
        return total
    if state in (ExternalState.POSTED, ExternalState.PARTIALLY_PAID):
        return total - due
    return Decimal(0)


@dataclass(frozen=True)
class ListedInvoice:
    """A customer invoice as the target lists it, for the reconciliation report: matched to the
    hub's invoices by `reference` (the field `find_invoice` searches: the idempotency key, which is
    the hub number). `tax` is None where the target keeps no tax amount of its own."""

    reference: str | None
    external_id: str
    number: str | None
    total: Decimal
    tax: Decimal | None
    currency: str
    customer: str | None
    state: ExternalState
    url: str | None = None
    issue_date: date | None = None


@dataclass(frozen=True)
class StockLevel:
    sku: str
    warehouse: str  # the target's warehouse code
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    as_of: datetime


# ---- plain JSON form, for snapshots and queues -------------------------------------------------


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def invoice_to_dict(doc: InvoiceDocument) -> dict:
    """JSON-safe form: Decimals and dates as strings, exactly."""
    return _plain(doc)


def invoice_from_dict(data: dict) -> InvoiceDocument:
    def dec(v):
        return Decimal(v)

    customer = data["customer"]
    return InvoiceDocument(
        number=data["number"],
        idempotency_key=data["idempotency_key"],
        deal_reference=data["deal_reference"],
        customer=Party(
            name=customer["name"],
            tax_id=customer.get("tax_id"),
            email=customer.get("email"),
            phone=customer.get("phone"),
            address=Address(**customer.get("address", {})),
            hub_id=customer.get("hub_id"),
            external_ids=dict(customer.get("external_ids", {})),
        ),
        currency=data["currency"],
        issue_date=date.fromisoformat(data["issue_date"]),
        due_date=date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
        lines=tuple(
            InvoiceLine(
                sku=ln.get("sku"),
                description=ln["description"],
                quantity=dec(ln["quantity"]),
                unit_price=dec(ln["unit_price"]),
                discount_percent=dec(ln["discount_percent"]),
                tax_rate=dec(ln["tax_rate"]),
                net=dec(ln["net"]),
                tax=dec(ln["tax"]),
                total=dec(ln["total"]),
                unit=ln.get("unit", "unit"),
            )
            for ln in data["lines"]
        ),
        subtotal=dec(data["subtotal"]),
        tax_total=dec(data["tax_total"]),
        total=dec(data["total"]),
        taxes=tuple(
            TaxAmount(rate=dec(t["rate"]), net=dec(t["net"]), tax=dec(t["tax"])) for t in data.get("taxes", ())
        ),
        notes=data.get("notes"),
    )

"""Canonical documents for the Tryton connector, with their amounts as the hub computes them, and a
connector's settings for a Tryton server."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount
from hub.demo_erp.tryton import TrytonServer
from hub.models import line_amounts


def line(
    sku: str | None, quantity: str, price: str, tax: str = "0.19", discount: str = "0", **more: Any
) -> InvoiceLine:
    """A document line with its amounts as the hub computes them (hub.models.line_amounts)."""
    q, p, d, t = Decimal(quantity), Decimal(price), Decimal(discount), Decimal(tax)
    amounts = line_amounts(q, p, d, t, "EUR")
    return InvoiceLine(
        sku=sku,
        description=more.pop("description", f"{sku} item"),
        quantity=q,
        unit_price=p,
        discount_percent=d,
        tax_rate=t,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
        **more,
    )


def document(
    *lines: InvoiceLine, customer: str | None = None, tax_id: str | None = None, currency: str = "EUR", **more: Any
) -> InvoiceDocument:
    """A document with a reference and a customer no other test uses."""
    key = more.pop("key", f"T-{uuid.uuid4().hex[:12]}")
    lines = lines or (line("VALVE-25", "2", "48.50"),)
    subtotal = sum((ln.net for ln in lines), Decimal(0))
    taxes = [  # as the hub sums them: per line, rounded half-up, then per rate
        TaxAmount(
            rate=rate,
            net=sum((ln.net for ln in lines if ln.tax_rate == rate), Decimal(0)),
            tax=sum((ln.tax for ln in lines if ln.tax_rate == rate), Decimal(0)),
        )
        for rate in sorted({ln.tax_rate for ln in lines})
    ]
    tax = sum((t.tax for t in taxes), Decimal(0))
    today = more.pop("issue_date", date.today())
    return InvoiceDocument(
        number=key,
        idempotency_key=key,
        deal_reference="D-000001",
        customer=Party(
            name=customer or f"Customer {uuid.uuid4().hex[:8]}",
            tax_id=tax_id,
            email="billing@example.com",
            phone="+49 30 1234567",
            address=Address(street="Hauptstraße 1", city="Berlin", postal_code="10115", country="DE"),
        ),
        currency=currency,
        issue_date=today,
        due_date=today + timedelta(days=14),
        lines=tuple(lines),
        subtotal=subtotal,
        tax_total=tax,
        total=subtotal + tax,
        taxes=tuple(taxes),
        **more,
    )


def config(server: TrytonServer, **more: Any) -> dict[str, Any]:
    return {**server.config, "timeout": 30, **more}

"""What the Odoo and ERPNext tests share: a canonical invoice and a won deal through the API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount


def invoice(key: str = "INV-000042", *, discount: str = "0", sku: str = "PUMP-100") -> InvoiceDocument:
    """Two pumps at 19.90 (19 % tax) for Acme GmbH, hub customer 7."""
    net = (Decimal("39.80") * (100 - Decimal(discount)) / 100).quantize(Decimal("0.01"))
    tax = (net * Decimal("0.19")).quantize(Decimal("0.01"))
    return InvoiceDocument(
        number=key,
        idempotency_key=key,
        deal_reference="D-000007",
        customer=Party(
            name="Acme GmbH",
            tax_id="DE123456789",
            email="ap@acme.example",
            address=Address(street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE"),
            hub_id=7,
        ),
        currency="EUR",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 23),
        lines=(
            InvoiceLine(
                sku=sku,
                description="Pump 100",
                quantity=Decimal("2"),
                unit_price=Decimal("19.90"),
                discount_percent=Decimal(discount),
                tax_rate=Decimal("0.19"),
                net=net,
                tax=tax,
                total=net + tax,
            ),
        ),
        subtotal=net,
        tax_total=tax,
        total=net + tax,
        taxes=(TaxAmount(Decimal("0.19"), net, tax),),
        notes=None,
    )


def won_deal(sales, admin, sku: str = "PUMP-100") -> dict:
    """A deal for two of `sku` at 19.90, marked won: its invoice waits in the outbox."""
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    r = admin.post(
        "/api/v1/products",
        json={"sku": sku, "name": "Pump 100", "list_price": "19.90", "currency": "EUR", "tax_rate": "0.19"},
    )
    assert r.status_code == 201, r.json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Pumps", "customer_id": customer["id"], "lines": [{"sku": sku, "quantity": 2}]},
    ).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json

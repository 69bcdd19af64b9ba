"""Zoho Books' API as the connector tests answer it with `responses`: invoices and answers in Zoho's
shapes, a hub document to send, and a connector with its tokens in memory."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party
from connectors.oauth import MemoryTokenStore
from connectors.zoho_books import ZohoBooksConnector
from tests.support.hosted_fixtures import RecordingPacer, tokens

ORG = "10234695"
API = "https://www.zohoapis.eu"
BOOKS = f"{API}/books/v3"
CONFIG = {
    "client_id": "1000.APPID",
    "client_secret": "app-secret",
    "organization_id": ORG,
    "data_centre": "eu",
    "inventory": True,
}


ACME = {"contact_id": "460000000026049", "contact_name": "Acme GmbH", "currency_code": "EUR", "email": ""}


def invoice(**changes) -> dict:
    return {
        "invoice_id": "982000000567114",
        "invoice_number": "INV-00003",
        "reference_number": "INV-000042",
        "status": "draft",
        "customer_id": ACME["contact_id"],
        "currency_code": "EUR",
        "total": 2713.88,
        "balance": 2713.88,
        **changes,
    }


def document(*, email: str | None = None, discount: str = "10") -> InvoiceDocument:
    pump = InvoiceLine(
        sku="PUMP-100",
        description="Pump",
        quantity=Decimal(2),
        unit_price=Decimal("1249.00"),
        discount_percent=Decimal(discount),
        tax_rate=Decimal("0.19"),
        net=Decimal("2248.20"),
        tax=Decimal("427.16"),
        total=Decimal("2675.36"),
    )
    manual = InvoiceLine(
        sku="MANUAL-DE",
        description="Manual",
        quantity=Decimal(3),
        unit_price=Decimal("12.00"),
        discount_percent=Decimal(0),
        tax_rate=Decimal("0.07"),
        net=Decimal("36.00"),
        tax=Decimal("2.52"),
        total=Decimal("38.52"),
    )
    return InvoiceDocument(
        number="INV-000042",
        idempotency_key="INV-000042",
        deal_reference="D-000007",
        customer=Party(name="Acme GmbH", email=email, address=Address(city="Berlin", country="DE"), hub_id=7),
        currency="EUR",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        lines=(pump, manual),
        subtotal=Decimal("2284.20"),
        tax_total=Decimal("429.68"),
        total=Decimal("2713.88"),
        notes=None,
    )


def connector(*, post: bool = False, store: MemoryTokenStore | None = None, pacer=None, mapping=None):
    return ZohoBooksConnector(
        CONFIG,
        post=post,
        mapping=mapping,
        tokens=store or MemoryTokenStore(tokens(api_domain=API)),
        pacer=pacer or RecordingPacer(),
    )


def ok(**body) -> dict:
    return {"code": 0, "message": "success", **body}

"""Xero's Accounting API as the connector tests answer it with `responses`: invoices and answers in
Xero's shapes, an invoice's total as Xero computes it, hub documents to send, and a connector with its
tokens in memory."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party
from connectors.oauth import MemoryTokenStore
from connectors.xero import XeroConnector
from tests.support.hosted_fixtures import RecordingPacer, tokens

API = "https://api.xero.com/api.xro/2.0"
TENANT = "70784a63-d24b-46a9-a4db-0e70a274b056"
CONFIG = {"client_id": "XERO-APP", "client_secret": "xero-secret"}
ACME = {"ContactID": "bd2270c3-8706-4c11-9cfb-000b551c3f51", "ContactNumber": "CRM-7", "Name": "Acme GmbH"}
TAX_RATES = {
    "TaxRates": [
        {"Name": "VAT 19%", "TaxType": "OUTPUT2", "CanApplyToRevenue": True, "EffectiveRate": 19.0, "Status": "ACTIVE"},
        {
            "Name": "Input 19%",
            "TaxType": "INPUT2",
            "CanApplyToRevenue": False,
            "EffectiveRate": 19.0,
            "Status": "ACTIVE",
        },
        {"Name": "VAT 7%", "TaxType": "OUTPUT3", "CanApplyToRevenue": True, "EffectiveRate": 7.0, "Status": "ACTIVE"},
    ]
}


def xero_invoice(**changes) -> dict:
    return {
        "Type": "ACCREC",
        "InvoiceID": "243216c5-369e-4056-ac67-05388f86dc81",
        "InvoiceNumber": "INV-0010",
        "Reference": "INV-000042",
        "Status": "DRAFT",
        "CurrencyCode": "EUR",
        "Total": 2713.88,
        "AmountDue": 2713.88,
        "AmountPaid": 0.0,
        "HasErrors": False,
        "StatusAttributeString": "OK",
        "UpdatedDateUTC": "/Date(1763880000000+0000)/",
        **changes,
    }


def answer(**body) -> dict:
    return {"Id": "e4bd3f32-2c4b-4a7d-8f4b-6c0ab8e9b4e1", "Status": "OK", "ProviderName": "CRM Hub", **body}


def line(sku: str, price: str, quantity: str, rate: str, discount: str = "0") -> InvoiceLine:
    net = Decimal(price) * Decimal(quantity) * (100 - Decimal(discount)) / 100
    return InvoiceLine(
        sku=sku,
        description=sku.title(),
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        discount_percent=Decimal(discount),
        tax_rate=Decimal(rate),
        net=net,
        tax=(net * Decimal(rate)).quantize(Decimal("0.01")),
        total=net + (net * Decimal(rate)).quantize(Decimal("0.01")),
    )


def document(
    number: str = "INV-000042", *, customer: str = "Acme GmbH", hub_id: int = 7, lines=None
) -> InvoiceDocument:
    lines = lines or (line("PUMP-100", "1249.00", "2", "0.19", "10"), line("MANUAL-DE", "12.00", "3", "0.07"))
    return InvoiceDocument(
        number=number,
        idempotency_key=number,
        deal_reference="D-000007",
        customer=Party(
            name=customer, email="buyer@acme.example", address=Address(city="Berlin", country="DE"), hub_id=hub_id
        ),
        currency="EUR",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        lines=tuple(lines),
        subtotal=sum((ln.net for ln in lines), Decimal(0)),
        tax_total=sum((ln.tax for ln in lines), Decimal(0)),
        total=sum((ln.total for ln in lines), Decimal(0)),
    )


def connector(*, post: bool = False, store: MemoryTokenStore | None = None, pacer=None, mapping=None, config=None):
    return XeroConnector(
        config or CONFIG,
        post=post,
        mapping=mapping,
        tokens=store or MemoryTokenStore(tokens(tenant_id=TENANT)),
        pacer=pacer or RecordingPacer(),
    )


def xero_total(invoice: dict) -> float:
    """An invoice's Total as Xero computes it from what it was sent: each line's Quantity ×
    UnitAmount × (100 − DiscountRate) / 100 to 2 decimals, plus the lines' TaxAmounts."""
    total = Decimal(0)
    for line in invoice["LineItems"]:
        gross = Decimal(str(line["Quantity"])) * Decimal(str(line["UnitAmount"]))
        total += (gross * (100 - Decimal(str(line.get("DiscountRate", 0)))) / 100).quantize(Decimal("0.01"))
        total += Decimal(str(line.get("TaxAmount", 0)))
    return float(total)

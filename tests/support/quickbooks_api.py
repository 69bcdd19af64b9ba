"""QuickBooks Online's Accounting API as the connector tests answer it with `responses`: invoices,
items and query answers in Intuit's shapes, the time a fault carries, hub documents to send, and a
connector with its tokens in memory."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party
from connectors.oauth import MemoryTokenStore, Pacer, Tokens
from connectors.quickbooks import QuickBooksConnector

REALM = "9130357766215456"
BASE = f"https://sandbox-quickbooks.api.intuit.com/v3/company/{REALM}"
CONFIG = {"client_id": "ABcd1234", "client_secret": "app-secret-xyz", "environment": "sandbox", "minor_version": 75}
FAULT_TIME = "2024-05-06T09:17:31.892-07:00"


def tokens(access: str = "eyJ-access-1", refresh: str = "AB11-refresh-1", expires_in: int = 3600) -> Tokens:
    return Tokens(access, refresh, datetime.now(UTC) + timedelta(seconds=expires_in), {"realmId": REALM})


def connector(store: MemoryTokenStore | None = None, *, pacer: Pacer | None = None, mapping=None, **config):
    return QuickBooksConnector(
        {**CONFIG, **config}, tokens=store or MemoryTokenStore(tokens()), pacer=pacer, mapping=mapping
    )


def line(sku: str, quantity: str, price: str, discount: str = "0") -> InvoiceLine:
    q, p, d = Decimal(quantity), Decimal(price), Decimal(discount)
    net = (q * p * (1 - d / 100)).quantize(Decimal("0.01"))
    tax = (net * Decimal("0.19")).quantize(Decimal("0.01"))
    return InvoiceLine(sku, f"{sku} item", q, p, d, Decimal("0.19"), net, tax, net + tax)


def document(*lines: InvoiceLine, key: str = "INV-000042", customer: str = "Amy's Bird Sanctuary") -> InvoiceDocument:
    lines = lines or (line("PUMP-100", "2", "48.50"),)
    subtotal = sum((ln.net for ln in lines), Decimal(0))
    tax = sum((ln.tax for ln in lines), Decimal(0))
    return InvoiceDocument(
        number=key,
        idempotency_key=key,
        deal_reference="D-000007",
        customer=Party(name=customer, email="birds@intuit.com", address=Address(city="Bayshore")),
        currency="USD",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        lines=tuple(lines),
        subtotal=subtotal,
        tax_total=tax,
        total=subtotal + tax,
        notes="Thank you for your business",
    )


def query_of(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def qbo_invoice(id_: str = "130", *, doc_number: str = "INV-000042", total="97.00", balance="97.00", **more) -> dict:
    """An Invoice as QuickBooks returns it (abridged from the API reference's sample)."""
    return {
        "AllowIPNPayment": False,
        "domain": "QBO",
        "sparse": False,
        "Id": id_,
        "SyncToken": more.pop("sync_token", "0"),
        "MetaData": {"CreateTime": "2026-11-23T10:48:27-08:00", "LastUpdatedTime": "2026-11-23T10:48:27-08:00"},
        "DocNumber": doc_number,
        "TxnDate": "2026-11-23",
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "Line": [
            {
                "Id": "1",
                "LineNum": 1,
                "Amount": 97.0,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "11", "name": "Pump"}, "UnitPrice": 48.5, "Qty": 2},
            },
            {"Amount": 97.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        ],
        "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
        "DueDate": "2026-12-07",
        "TotalAmt": float(total),
        "Balance": float(balance),
        **more,
    }


def query_answer(entity: str, rows: list[dict], start: int = 1) -> dict:
    body = {"QueryResponse": {}, "time": FAULT_TIME}
    if rows:
        body["QueryResponse"] = {entity: rows, "startPosition": start, "maxResults": len(rows)}
    return body


ITEM = {"Name": "Pump", "Sku": "PUMP-100", "Id": "11", "Type": "Inventory", "QtyOnHand": 25, "SyncToken": "2"}

"""What the tests of the hub's loop through a real Tryton share: the catalogue's products in the
hub (`products`), a Tryton connection, a won deal, and the invoices Tryton made, read back."""

from __future__ import annotations

import pytest

from connectors.tryton.connector import TrytonConnector
from hub.models import DocumentMode
from tests.conftest import make_connection


@pytest.fixture
def products(admin):
    for sku, price, tax in [("PUMP-100", "1249.00", "0.19"), ("MANUAL-DE", "12.00", "0.07")]:
        r = admin.post(
            "/api/v1/products", json={"sku": sku, "name": sku, "list_price": price, "currency": "EUR", "tax_rate": tax}
        )
        assert r.status_code == 201, r.json


def connect(app, config, posted=False, name="Tryton"):
    mode = DocumentMode.POSTED if posted else DocumentMode.DRAFT
    return make_connection(app, name, "tryton", config, document_mode=mode)


def win(sales, customer_name, lines):
    customer = sales.post("/api/v1/customers", json={"name": customer_name, "billing_city": "Berlin"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Pumps", "customer_id": customer["id"], "lines": lines}).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json


def tryton_client(tryton_db) -> TrytonConnector:
    return TrytonConnector(tryton_db.config)


def tryton_invoices(tryton_db, reference: str) -> list[dict]:
    client = tryton_client(tryton_db)
    fields = ["id", "state", "number", "party.name", "untaxed_amount", "tax_amount", "total_amount", "lines"]
    return client.search_read("account.invoice", [["reference", "=", reference]], fields)


def tryton_lines(tryton_db, invoice: dict) -> list[tuple]:
    client = tryton_client(tryton_db)
    rows = client.call(
        "model.account.invoice.line.read", invoice["lines"], ["product.code", "quantity", "unit_price", "taxes"]
    )
    taxes = {t["id"]: t["rate"] for t in client.search_read("account.tax", [], ["id", "rate"])}
    return sorted((r["product."]["code"], r["quantity"], r["unit_price"], [taxes[t] for t in r["taxes"]]) for r in rows)

"""Mappings against a real Tryton 8.2: an admin changes through the API which Tryton tax a tax rate
maps to, previews it on a deal, activates it, and the next pushed invoice uses it — the preview
being exactly what the push then sends; an unmapped SKU is parked, its row added through the API,
and the retry makes the invoice."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from connectors.tryton.connector import TrytonConnector
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.services import TrytonProxy

V = "/api/v1"


@pytest.fixture
def proxy(tryton_db):
    """Tryton behind a proxy that records every call the hub makes."""
    proxy = TrytonProxy(tryton_db.url)
    yield proxy
    proxy.stop()


@pytest.fixture
def tryton(tryton_db):
    client = TrytonConnector(tryton_db.config)
    yield client
    client.close()


def product(admin, sku: str, price: str, tax: str) -> None:
    r = admin.post(
        f"{V}/products", json={"sku": sku, "name": sku, "list_price": price, "currency": "EUR", "tax_rate": tax}
    )
    assert r.status_code == 201, r.json


def win(sales, customer_id: int, lines: list[dict]) -> dict:
    deal = sales.post(f"{V}/deals", json={"title": "Pumps", "customer_id": customer_id, "lines": lines})
    assert deal.status_code == 201, deal.json
    won = sales.post(f"{V}/deals/{deal.json['id']}/won")
    assert won.status_code == 200, won.json
    return won.json


def invoice_lines(tryton: TrytonConnector, number: str) -> list[tuple]:
    (invoice,) = tryton.search_read("account.invoice", [["reference", "=", number]], ["lines", "total_amount"])
    rows = tryton.call("model.account.invoice.line.read", invoice["lines"], ["product.code", "taxes"])
    return sorted((r["product."]["code"], r["taxes"]) for r in rows)


def created_values(proxy: TrytonProxy) -> list[dict]:
    """The values of every invoice the hub created in Tryton, as they went over the wire."""
    return [v for c in proxy.calls if c["method"] == "model.account.invoice.create" for v in c["params"][0]]


def test_an_admin_maps_a_tax_rate_to_another_tryton_tax_previews_activates_and_the_next_invoice_uses_it(
    app, admin, sales, tryton_db, tryton, proxy
):
    connection = make_connection(app, "Tryton", "tryton", {**tryton_db.config, "url": proxy.url})
    mapping = f"{V}/connections/{connection}/mapping"
    product(admin, "PUMP-100", "1249.00", "0.19")
    product(admin, "MANUAL-DE", "12.00", "0.07")
    customer = sales.post(f"{V}/customers", json={"name": "Mapped Customer", "billing_city": "Berlin"}).json
    (standard,) = tryton.search_read("account.tax", [["name", "=", "Tax 0.19"]], ["id"])
    (reduced,) = tryton.search_read("account.tax", [["name", "=", "Tax 0.07"]], ["id"])

    # A first invoice with the shipped default: 19 % is Tryton's customer tax of that rate.
    first = win(sales, customer["id"], [{"sku": "PUMP-100", "quantity": 1}])
    drain(app)
    assert invoice_lines(tryton, first["invoices"][0]["number"]) == [("PUMP-100", [standard["id"]])]

    # In Tryton, finance sets up a second 19 % tax (say, for services) and wants the hub to use it.
    (services,) = tryton.call(
        "model.account.tax.copy", [standard["id"]], {"name": "VAT 19 % services"}, changes_data=True
    )
    # The next deal is won while the connection is paused: its push waits for the new mapping.
    assert admin.patch(f"{V}/connections/{connection}", json={"paused": True}).status_code == 200
    second = win(sales, customer["id"], [{"sku": "PUMP-100", "quantity": 2}, {"sku": "MANUAL-DE", "quantity": 3}])

    # The admin edits the mapping: rate 0.19 → the Tryton tax named "VAT 19 % services".
    document = copy.deepcopy(admin.get(mapping).json["document"])
    document["tables"]["taxes"]["rows"]["0.19"] = "VAT 19 % services"
    draft = admin.post(f"{mapping}/versions", json={"document": document, "note": "services tax"})
    assert draft.status_code == 201, draft.json
    assert draft.json["state"] == "draft"
    diff = admin.get(f"{mapping}/diff?from=0&to={draft.json['version']}").json
    assert diff["changes"] == [
        {"path": "tables.taxes.rows['0.19']", "kind": "added", "old": None, "new": "VAT 19 % services"}
    ]

    # Preview on the deal: the draft gives the new tax, the active mapping still the old one.
    preview = admin.post(f"{mapping}/preview", json={"deal_id": second["id"], "version": draft.json["version"]})
    assert preview.status_code == 200, preview.json
    body = preview.json
    assert (body["valid"], body["problems"]) == (True, [])
    assert body["invoice_number"] == second["invoices"][0]["number"]
    assert [ln["tax"] for ln in body["mapped"]["lines"]] == ["VAT 19 % services", "0.0700"]  # kept: looked up by rate
    (create,) = body["payload"]["lines"]
    assert [line["taxes"] for line in create[1]] == [[["add", [services]]], [["add", [reduced["id"]]]]]
    now = admin.post(f"{mapping}/preview", json={"deal_id": second["id"]}).json
    assert [line["taxes"] for line in now["payload"]["lines"][0][1]] == [
        [["add", [standard["id"]]]],
        [["add", [reduced["id"]]]],
    ]
    assert len(created_values(proxy)) == 1  # previews send nothing

    # Activate, resume, push: the invoice uses the new tax, and Tryton was sent exactly the preview.
    assert admin.post(f"{mapping}/versions/{draft.json['version']}/activate").json["state"] == "active"
    assert admin.patch(f"{V}/connections/{connection}", json={"paused": False}).status_code == 200
    drain(app)
    number = second["invoices"][0]["number"]
    assert invoice_lines(tryton, number) == [("MANUAL-DE", [reduced["id"]]), ("PUMP-100", [services])]
    assert created_values(proxy)[-1] == body["payload"]
    (invoice,) = tryton.search_read("account.invoice", [["reference", "=", number]], ["total_amount"])
    assert invoice["total_amount"] == Decimal(second["total"])  # 2 × 1249 at 19 % + 3 × 12 at 7 %

    # Rolling back brings the default's tax back for the invoice after that.
    assert admin.post(f"{mapping}/rollback", json={}).status_code == 409  # nothing was active before
    back = admin.post(f"{mapping}/rollback", json={"version": 0})
    assert back.json["state"] == "active"
    third = win(sales, customer["id"], [{"sku": "PUMP-100", "quantity": 1}])
    drain(app)
    assert invoice_lines(tryton, third["invoices"][0]["number"]) == [("PUMP-100", [standard["id"]])]


def test_an_unmapped_sku_is_parked_then_its_row_is_added_through_the_api_and_the_retry_invoices(
    app, admin, sales, tryton_db, tryton
):
    connection = make_connection(app, "Tryton", "tryton", tryton_db.config)
    mapping = f"{V}/connections/{connection}/mapping"
    # This connection maps every hub SKU explicitly: an SKU without a row is refused, not guessed.
    document = copy.deepcopy(admin.get(mapping).json["document"])
    document["tables"]["products"]["unmapped"] = "refuse"
    assert admin.post(f"{mapping}/versions", json={"document": document, "activate": True}).status_code == 201
    product(admin, "HUB-VALVE", "48.50", "0.19")  # the hub's SKU; Tryton calls it VALVE-25
    customer = sales.post(f"{V}/customers", json={"name": "Valve Buyer", "billing_city": "Hamburg"}).json
    deal = win(sales, customer["id"], [{"sku": "HUB-VALVE", "quantity": 4}])
    number = deal["invoices"][0]["number"]

    drain(app)
    (failed,) = admin.get(f"{V}/sync/failed").json["items"]
    assert failed["last_error"].startswith(
        "Tryton (tryton): not sent, the mapping cannot map it: lines[0].sku: no entry for HUB-VALVE in table products."
    )
    assert "of connection 'Tryton'" in failed["last_error"]
    assert sales.get(f"{V}/deals/{deal['id']}").json["invoices"][0]["state"] == "failed"
    assert tryton.search_read("account.invoice", [["reference", "=", number]], ["id"]) == []
    assert tryton.search_read("party.party", [["name", "=", "Valve Buyer"]], ["id"]) == []  # nothing written

    row = admin.put(f"{mapping}/tables/products/rows/HUB-VALVE", json={"value": "VALVE-25"})
    assert row.status_code == 200, row.json
    assert admin.post(f"{V}/sync/failed/{failed['id']}/retry").status_code == 200
    drain(app)

    assert admin.get(f"{V}/sync/failed").json["total"] == 0
    assert [code for code, _taxes in invoice_lines(tryton, number)] == ["VALVE-25"]
    (invoice,) = tryton.search_read("account.invoice", [["reference", "=", number]], ["total_amount"])
    assert invoice["total_amount"] == Decimal(deal["total"])
    assert sales.get(f"{V}/deals/{deal['id']}").json["invoices"][0]["state"] == "sent"


def test_a_currency_tryton_does_not_have_is_refused_clearly(app, admin, sales, tryton_db):
    connection = make_connection(app, "Tryton", "tryton", tryton_db.config)
    product(admin, "PUMP-100", "1249.00", "0.19")
    customer = sales.post(f"{V}/customers", json={"name": "Yen Buyer", "default_currency": "JPY"}).json
    deal = sales.post(
        f"{V}/deals",
        json={
            "title": "Pump",
            "customer_id": customer["id"],
            "currency": "JPY",
            "lines": [{"sku": "PUMP-100", "quantity": 1, "unit_price": "199000"}],
        },
    ).json
    preview = admin.post(f"{V}/connections/{connection}/mapping/preview", json={"deal_id": deal["id"]}).json
    assert preview["valid"] is False
    assert preview["problems"] == [
        {
            "path": "currency",
            "message": "currency JPY is not set up in Tryton",
            "kind": "target",
            "table": None,
            "value": None,
        }
    ]
    assert sales.post(f"{V}/deals/{deal['id']}/won").status_code == 200
    drain(app)
    (failed,) = admin.get(f"{V}/sync/failed").json["items"]
    assert "currency JPY is not set up in Tryton" in failed["last_error"]


def test_a_mapping_giving_tryton_the_wrong_type_is_a_problem_naming_the_field(app, admin, sales):
    # Nothing listens at this address: the type check comes before Tryton is asked anything.
    config = {"url": "http://127.0.0.1:9", "database": "crmhub", "username": "admin", "password": "x"}
    connection = make_connection(app, "Tryton", "tryton", config)
    mapping = f"{V}/connections/{connection}/mapping"
    document = copy.deepcopy(admin.get(mapping).json["document"])
    document["lines"]["fields"]["quantity"] = {"expr": "to_string(quantity)", "required": True}
    assert admin.post(f"{mapping}/versions", json={"document": document, "activate": True}).status_code == 201
    product(admin, "PUMP-100", "1249.00", "0.19")
    customer = sales.post(f"{V}/customers", json={"name": "Typed Customer"}).json
    deal = win(sales, customer["id"], [{"sku": "PUMP-100", "quantity": 2}])

    preview = admin.post(f"{mapping}/preview", json={"deal_id": deal["id"]}).json
    assert preview["mapped"]["lines"][0]["quantity"] == "2.0000"
    assert preview["problems"] == [
        {
            "path": "lines[0].quantity",
            "message": "lines[0].quantity: the mapping gives '2.0000'; Tryton needs Decimal",
            "kind": "target",
            "table": None,
            "value": None,
        }
    ]
    assert preview["payload"] is None


def test_a_customer_mapped_to_a_tryton_party_is_invoiced_to_that_party(app, admin, sales, tryton_db, tryton):
    connection = make_connection(app, "Tryton", "tryton", tryton_db.config)
    mapping = f"{V}/connections/{connection}/mapping"
    # The customer is known in Tryton under another name; the parties table says which party it is.
    (party,) = tryton.call(
        "model.party.party.create",
        [{"name": "ACME Pumpen GmbH (Tryton)", "addresses": [["create", [{"city": "Köln"}]]]}],
        changes_data=True,
    )
    product(admin, "VALVE-25", "48.50", "0.19")
    customer = sales.post(f"{V}/customers", json={"name": "Acme", "billing_city": "Köln"}).json
    row = admin.put(f"{mapping}/tables/parties/rows/{customer['id']}", json={"value": party})
    assert row.json["value"] == str(party)
    assert admin.put(f"{mapping}/tables/parties/rows/{customer['id']}", json={"value": "Acme"}).status_code == 422

    deal = win(sales, customer["id"], [{"sku": "VALVE-25", "quantity": 1}])
    drain(app)

    (invoice,) = tryton.search_read(
        "account.invoice", [["reference", "=", deal["invoices"][0]["number"]]], ["party", "total_amount"]
    )
    assert (invoice["party"], invoice["total_amount"]) == (party, Decimal(deal["total"]))
    assert tryton.search_read("party.party", [["name", "=", "Acme"]], ["id"]) == []  # no duplicate made

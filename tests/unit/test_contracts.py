"""Contract tests: every request body the connectors build, checked against the vendors' own
definitions as this repository writes them down in `tests/support/contracts/` (one file per vendor, each
fact group naming its source and version): every field sent exists, has the documented type, an
enum value is allowed, a required field is there, a documented length or count holds, and a
field the vendor computes itself (read-only) is not sent.

The requests are built as the connector tests build them (their helpers, `responses` recording
the bodies); the checker is small and generic: a body against a contract's schema."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import responses
import yaml

from connectors.documents import ExternalRef
from connectors.errors import PermanentError
from mappings.defaults import default_document
from mappings.parse import parse
from tests.support.recorded_requests import query, sent

CONTRACTS = Path(__file__).resolve().parents[1] / "support" / "contracts"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@cache
def contract(vendor: str) -> dict[str, Any]:
    return yaml.safe_load((CONTRACTS / f"{vendor}.yaml").read_text(encoding="utf-8"))


# ---- the checker -------------------------------------------------------------------------------


def problems(value: Any, schema: str, facts: dict[str, Any], path: str = "") -> list[str]:
    """What in `value` (an object of `schema`) the contract does not allow, each naming its path."""
    spec = facts["schemas"][schema]
    found: list[str] = []
    if not isinstance(value, dict):
        return [f"{path or schema}: an object of {schema} expected, got {value!r}"]
    for name in spec.get("required", ()):
        if name not in value:
            found.append(f"{path}{name}: required by {schema}, missing")
    for name, item in value.items():
        where = f"{path}{name}"
        field = spec["fields"].get(name)
        if field is None:
            found.append(f"{where}: no such field in {schema}")
            continue
        if field.get("read_only"):
            found.append(f"{where}: read-only in {schema}, not to be sent")
        found += field_problems(item, field, facts, where)
    if spec.get("detail_matches_type") and "DetailType" in value:
        details = {k for k in value if k.endswith("LineDetail")}
        if details != {value["DetailType"]}:
            found.append(f"{path}DetailType: {value['DetailType']!r} with the details {sorted(details)}")
    for name in spec.get("line_items_without", ()):
        for i, line in enumerate(value.get("LineItems") or ()):
            if name in line:
                found.append(f"{path}LineItems[{i}].{name}: {schema} line items do not take it")
    return found


def field_problems(value: Any, field: dict[str, Any], facts: dict[str, Any], where: str) -> list[str]:
    """One field's value against its facts: type, enum, format, length, count, nested schema."""
    kind = field["type"]
    if value is None:
        return [] if field.get("nullable") else [f"{where}: null is not a {kind}"]
    checks = TYPES.get(kind)
    if checks is None:
        raise AssertionError(f"the contract names an unknown type {kind!r} at {where}")
    if not checks(value):
        return [f"{where}: {value!r} is not of type {kind}"]
    found = []
    allowed = field.get("enum") or facts.get("enums", {}).get(field.get("enum_of"))
    if allowed is not None and value not in allowed:
        found.append(f"{where}: {value!r} is not one of the documented values")
    if isinstance(value, str):
        if field.get("max_length") is not None and len(value) > field["max_length"]:
            found.append(f"{where}: {len(value)} characters, at most {field['max_length']}")
        if field.get("min_length") is not None and len(value) < field["min_length"]:
            found.append(f"{where}: {len(value)} characters, at least {field['min_length']}")
        if field.get("pattern") and not re.search(field["pattern"], value):
            found.append(f"{where}: {value!r} does not match {field['pattern']}")
        if field.get("format") == "uuid" and not UUID.match(value):
            found.append(f"{where}: {value!r} is not a uuid")
    if isinstance(value, list):
        if field.get("max_items") is not None and len(value) > field["max_items"]:
            found.append(f"{where}: {len(value)} items, at most {field['max_items']}")
        if field.get("min_items") is not None and len(value) < field["min_items"]:
            found.append(f"{where}: {len(value)} items, at least {field['min_items']}")
        if field.get("items"):
            for i, item in enumerate(value):
                found += problems(item, field["items"], facts, f"{where}[{i}].")
    if isinstance(value, dict) and field.get("schema"):
        found += problems(value, field["schema"], facts, f"{where}.")
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


TYPES = {
    "string": lambda v: isinstance(v, str),
    "date": lambda v: isinstance(v, str) and bool(DATE.match(v)),
    "number": _number,
    "integer": lambda v: _number(v) and Decimal(v) == Decimal(v).to_integral_value(),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def envelope_problems(body: Any, facts: dict[str, Any]) -> list[str]:
    """A body that wraps arrays of documents under their plural names (Xero's envelopes)."""
    if not isinstance(body, dict):
        return [f"body: an object expected, got {body!r}"]
    found = []
    for name, items in body.items():
        schema = facts["envelopes"].get(name)
        if schema is None:
            found.append(f"{name}: no such envelope")
            continue
        for i, item in enumerate(items):
            found += problems(item, schema, facts, f"{name}[{i}].")
    return found


def parameter_problems(params: dict[str, str], facts: dict[str, Any]) -> list[str]:
    """Query parameters (as strings on the wire) against the documented ones and their types."""
    found = []
    for name, text in params.items():
        field = facts["parameters"].get(name)
        if field is None:
            found.append(f"?{name}: no such parameter")
        elif field["type"] == "boolean" and text not in ("true", "false"):
            found.append(f"?{name}={text}: not a boolean")
        elif field["type"] == "integer" and not text.isdigit():
            found.append(f"?{name}={text}: not an integer")
    return found


# ---- the checker catches what it is meant to ---------------------------------------------------


def test_the_checker_names_unknown_fields_wrong_types_enums_lengths_read_only_and_missing_ones():
    facts = contract("xero")
    good = {
        "Type": "ACCREC",
        "Contact": {"ContactID": "bd2270c3-8706-4c11-9cfb-000b551c3f51"},
        "Date": "2026-11-23",
        "CurrencyCode": "EUR",
        "LineItems": [{"Description": "Pump", "Quantity": 2, "UnitAmount": Decimal("1249.00")}],
    }
    assert problems(good, "Invoice", facts) == []
    bad = {
        **good,
        "Type": "SALE",
        "Date": "23/11/2026",
        "CurrencyCode": "EURO",
        "Total": 10,
        "Customer": "Acme",
        "InvoiceNumber": "N" * 256,
        "Contact": {"ContactID": "bd2270c3"},
        "LineItems": [{"Description": "", "Quantity": "2", "Tracking": [{}, {}, {}]}],
    }
    assert sorted(problems(bad, "Invoice", facts)) == sorted(
        [
            "Type: 'SALE' is not one of the documented values",
            "Date: '23/11/2026' is not of type date",
            "CurrencyCode: 'EURO' is not one of the documented values",
            "Total: read-only in Invoice, not to be sent",
            "Customer: no such field in Invoice",
            "InvoiceNumber: 256 characters, at most 255",
            "Contact.ContactID: 'bd2270c3' is not a uuid",
            "LineItems[0].Description: 0 characters, at least 1",
            "LineItems[0].Quantity: '2' is not of type number",
            "LineItems[0].Tracking: 3 items, at most 2",
        ]
    )
    assert problems({"Name": "Pump"}, "Item", facts) == ["Code: required by Item, missing"]
    assert problems({"LineItems": [{"DiscountRate": 10}]}, "CreditNote", facts) == [
        "LineItems[0].DiscountRate: CreditNote line items do not take it"
    ]


# ---- Xero --------------------------------------------------------------------------------------


def xero_where_fields(where: str) -> list[str]:
    """The field names a Xero `where` filter compares (`Name=="x"`, `Date>=DateTime(...)`)."""
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', where)
    return re.findall(r"([A-Za-z][\w.]*)\s*(?:==|!=|>=|<=|>|<)", unquoted)


def assert_xero_call_keeps_the_contract(call) -> None:
    facts = contract("xero")
    params = query(call)
    assert parameter_problems(params, facts) == []
    if "where" in params:
        resource = call.request.url.split("?")[0].rsplit("/", 1)[1]
        schema = facts["where_fields"][resource]
        fields = xero_where_fields(params["where"])
        assert fields, params["where"]
        unknown = [f for f in fields if f.split(".")[0] not in facts["schemas"][schema]["fields"]]
        assert unknown == [], f"{resource} where names fields {schema} does not have"
    if call.request.body:
        assert envelope_problems(sent(call), facts) == []


@responses.activate
def test_xero_invoices_contacts_and_their_look_ups_keep_the_openapi_contract():
    from tests.support.xero_api import ACME, API, TAX_RATES, answer, connector, document, line, xero_invoice

    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    made = responses.post(
        f"{API}/Contacts",
        json=answer(Contacts=[{"ContactID": "0b2a7a5e-6a8c-4ad7-9b6e-1c0d6c4f6c11", "Name": "Bolt AG"}]),
    )
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    created = responses.post(
        f"{API}/Invoices",
        json=answer(
            Invoices=[
                xero_invoice(),
                xero_invoice(InvoiceID="5b96e86b-418e-48e8-8949-308c14aec278", Reference="INV-000043", Total=1486.31),
            ]
        ),
    )
    responses.get(f"{API}/Invoices", json=answer(Invoices=[]))
    docs = [
        document(),
        document("INV-000043", customer="Bolt AG", hub_id=8, lines=[line("PUMP-100", "1249.00", "1", "0.19")]),
    ]
    xero = connector()
    assert xero.find_invoices([d.idempotency_key for d in docs]) == {}
    xero.push_invoices(docs)

    body = sent(created.calls[0])
    assert [i["Reference"] for i in body["Invoices"]] == ["INV-000042", "INV-000043"]
    assert body["Invoices"][0]["LineItems"][0]["DiscountRate"] == 10  # an ACCREC line may carry it
    sent_contact = sent(made.calls[0])["Contacts"][0]
    assert sent_contact["Addresses"] == [{"AddressType": "POBOX", "City": "Berlin", "Country": "DE"}]
    assert sorted(c.request.method for c in responses.calls) == ["GET", "GET", "GET", "POST", "POST"]
    for call in responses.calls:
        assert_xero_call_keeps_the_contract(call)


@responses.activate
def test_xero_void_delete_listing_and_stock_requests_keep_the_openapi_contract():
    from tests.support.xero_api import API, answer, connector, xero_invoice

    invoice_id = "243216c5-369e-4056-ac67-05388f86dc81"
    responses.get(f"{API}/Invoices/{invoice_id}", json=answer(Invoices=[xero_invoice(Status="AUTHORISED")]))
    voided = responses.post(f"{API}/Invoices/{invoice_id}", json=answer(Invoices=[xero_invoice(Status="VOIDED")]))
    responses.get(f"{API}/Invoices", json=answer(Invoices=[xero_invoice()]))
    responses.get(f"{API}/Items", json=answer(Items=[{"Code": "PUMP-100", "IsTrackedAsInventory": True}]))
    xero = connector()
    xero.cancel_invoice(ExternalRef("xero", invoice_id))
    assert len([row for page in xero.list_invoices(date(2026, 11, 1), date(2026, 11, 30)) for row in page]) == 1
    assert [s.sku for s in xero.pull_stock()] == ["PUMP-100"]

    assert sent(voided.calls[0]) == {"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]}
    for call in responses.calls:
        assert_xero_call_keeps_the_contract(call)


@responses.activate
def test_xero_credit_notes_keep_the_openapi_contract_and_carry_no_discount():
    """Xero's LineItem: discounts are "only supported on ACCREC invoices – ACCPAY invoices and
    credit notes in Xero do not support discounts". A discounted invoice line is credited by its
    LineAmount (Xero's own, read with unitdp=4) and quantity, Xero working out the unit amount."""
    from tests.support.credit_note_answers import XERO_INVOICE_ID, XERO_LINES, XERO_NOTE
    from tests.support.xero_api import API, answer, connector, document, xero_invoice

    contact = {"ContactID": "bd2270c3-8706-4c11-9cfb-000b551c3f51"}
    responses.get(f"{API}/CreditNotes", json=answer(CreditNotes=[]))
    paid = xero_invoice(Status="PAID", AmountPaid=2713.88, AmountDue=0.0, Contact=contact, LineItems=XERO_LINES)
    responses.get(f"{API}/Invoices/{XERO_INVOICE_ID}", json=answer(Invoices=[paid]))
    made = responses.put(f"{API}/CreditNotes", json=answer(CreditNotes=[XERO_NOTE]))

    connector().credit_invoice(ExternalRef("xero", XERO_INVOICE_ID), document())

    (note,) = sent(made.calls[0])["CreditNotes"]
    discounted, plain = note["LineItems"]
    assert "DiscountRate" not in discounted
    assert "UnitAmount" not in discounted
    assert (discounted["Quantity"], discounted["LineAmount"], discounted["TaxAmount"]) == (
        Decimal("2.0"),
        Decimal("2248.2"),
        Decimal("427.16"),
    )
    assert (plain["Quantity"], plain["UnitAmount"], plain["LineAmount"]) == (
        Decimal("3.0"),
        Decimal("12.0"),
        Decimal("36.0"),
    )
    for call in responses.calls:
        assert_xero_call_keeps_the_contract(call)


# ---- QuickBooks Online -------------------------------------------------------------------------

QBO_STATEMENT = re.compile(
    r"^select \* from (?P<entity>\w+)(?: where (?P<where>.+?))?"
    r"(?: STARTPOSITION (?P<start>\d+) MAXRESULTS (?P<max>\d+))?$"
)


def qbo_query_problems(statement: str, facts: dict[str, Any]) -> list[str]:
    """A query of QuickBooks' query language against the filterable fields and the page limit."""
    match = QBO_STATEMENT.match(statement)
    if match is None:
        return [f"not a statement of the documented form: {statement!r}"]
    entity, where = match["entity"], match["where"] or ""
    if entity not in facts["filterable"]:
        return [f"{entity}: not an entity the contract knows"]
    unquoted = re.sub(r"'(?:[^'\\]|\\.)*'", "''", where)
    found = []
    fields = re.findall(r"(\w+)\s*(?:=|<=|>=|<|>|\bin\b|\blike\b)", unquoted, flags=re.IGNORECASE)
    if where and not fields:
        found.append(f"{statement!r}: no field compared")
    found += [f"{entity}.{f}: not filterable" for f in fields if f not in facts["filterable"][entity]]
    if match["max"] and int(match["max"]) > facts["max_results"]:
        found.append(f"MAXRESULTS {match['max']}: at most {facts['max_results']}")
    return found


def assert_qbo_call_keeps_the_contract(call) -> None:
    from tests.support.quickbooks_api import query_of

    facts = contract("quickbooks")
    params = query_of(call)
    resource = call.request.url.split("?")[0].rsplit("/", 1)[1]
    if resource == "query":
        assert qbo_query_problems(params["query"][0], facts) == []
        return
    if call.request.method != "POST":
        return
    body = sent(call)
    if "operation" in params:
        assert params["operation"][0] in facts["operations"]
        schema = "EntityVersion"
    else:
        schema = {"invoice": "Invoice", "creditmemo": "CreditMemo", "customer": "Customer", "batch": "Batch"}[resource]
    assert problems(body, schema, facts) == [], resource


@responses.activate
def test_quickbooks_invoice_customer_and_look_ups_keep_the_xsd_contract():
    from tests.support.quickbooks_api import (
        BASE,
        FAULT_TIME,
        ITEM,
        connector,
        document,
        line,
        qbo_invoice,
        query_answer,
    )

    mapping = default_document("quickbooks")
    mapping["options"] = {"create_customers": True}
    responses.get(f"{BASE}/query", json=query_answer("Invoice", []))
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    responses.get(f"{BASE}/query", json=query_answer("Customer", []))
    made = responses.post(f"{BASE}/customer", json={"Customer": {"Id": "58", "DisplayName": "Globex"}})
    created = responses.post(
        f"{BASE}/invoice", json={"Invoice": qbo_invoice(total="131.65", balance="131.65"), "time": FAULT_TIME}
    )
    doc = document(line("PUMP-100", "2", "48.50"), line("PUMP-100", "3", "3.33", "10"), customer="Globex")
    qbo = connector(mapping=parse(mapping))
    assert qbo.find_invoice(doc.idempotency_key) is None
    with contextlib.suppress(PermanentError):  # the total check; the request is what counts here
        qbo.push_invoice(doc)

    assert sent(made.calls[0])["DisplayName"] == "Globex"
    invoice = sent(created.calls[0])
    assert [ln["DetailType"] for ln in invoice["Line"]] == ["SalesItemLineDetail", "SalesItemLineDetail"]
    assert invoice["CustomerMemo"] == {"value": "Thank you for your business"}
    for call in responses.calls:
        assert_qbo_call_keeps_the_contract(call)


@responses.activate
def test_quickbooks_batch_void_listing_and_stock_keep_the_xsd_contract():
    from tests.support.quickbooks_api import BASE, FAULT_TIME, ITEM, connector, document, qbo_invoice, query_answer

    docs = [document(key=f"INV-{n:06d}") for n in range(1, 32)]
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    responses.get(f"{BASE}/query", json=query_answer("Customer", [{"Id": "1", "DisplayName": "Amy's Bird Sanctuary"}]))

    def batch(request):
        items = json.loads(request.body)["BatchItemRequest"]
        made = [
            {"bId": i["bId"], "Invoice": qbo_invoice(i["bId"][4:], doc_number=i["bId"], total="115.43")} for i in items
        ]
        return 200, {}, json.dumps({"BatchItemResponse": made})

    responses.add_callback(responses.POST, f"{BASE}/batch", callback=batch)
    qbo = connector()
    qbo.push_invoices(docs)
    assert [len(sent(c)["BatchItemRequest"]) for c in responses.calls if c.request.method == "POST"] == [30, 1]

    responses.get(f"{BASE}/invoice/130", json={"Invoice": qbo_invoice(sync_token="3"), "time": FAULT_TIME})
    responses.post(f"{BASE}/invoice", json={"Invoice": qbo_invoice(sync_token="4"), "time": FAULT_TIME})
    qbo.cancel_invoice(ExternalRef("quickbooks", "130"))
    responses.get(f"{BASE}/query", json=query_answer("Invoice", []))
    assert list(qbo.list_invoices(date(2026, 11, 1), date(2026, 11, 30))) == []
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    assert [s.sku for s in qbo.pull_stock()] == ["PUMP-100"]
    for call in responses.calls:
        assert_qbo_call_keeps_the_contract(call)
    # The item the answers carry is the XSD's Item (what the stock read relies on).
    assert (
        problems({k: ITEM[k] for k in ("Id", "Name", "Sku", "Type", "QtyOnHand")}, "Item", contract("quickbooks")) == []
    )


@responses.activate
def test_quickbooks_credit_memos_keep_the_xsd_contract():
    from tests.support.credit_note_answers import QBO_MEMO
    from tests.support.quickbooks_api import BASE, connector, document, qbo_invoice, query_answer

    responses.get(f"{BASE}/query", json=query_answer("CreditMemo", []))
    discount = {
        "Amount": 9.7,
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10, "DiscountAccountRef": {"value": "86"}},
    }
    paid = qbo_invoice(balance="0")
    paid["Line"].append(discount)
    responses.get(f"{BASE}/invoice/130", json={"Invoice": paid, "time": "t"})
    made = responses.post(f"{BASE}/creditmemo", json={"CreditMemo": QBO_MEMO, "time": "t"})

    connector().credit_invoice(ExternalRef("quickbooks", "130"), document())

    memo = sent(made.calls[0])
    assert [ln["DetailType"] for ln in memo["Line"]] == ["SalesItemLineDetail", "DiscountLineDetail"]
    for call in responses.calls:
        assert_qbo_call_keeps_the_contract(call)


def test_the_quickbooks_checks_catch_a_wrong_detail_an_unfilterable_field_and_a_long_batch():
    facts = contract("quickbooks")
    line = {"DetailType": "SalesItemLineDetail", "Amount": 1, "DiscountLineDetail": {}}
    assert problems(line, "Line", facts) == [
        "DetailType: 'SalesItemLineDetail' with the details ['DiscountLineDetail']"
    ]
    assert qbo_query_problems("select * from Invoice where PrivateNote = 'it\\'s'", facts) == [
        "Invoice.PrivateNote: not filterable"
    ]
    assert qbo_query_problems("select * from Item STARTPOSITION 1 MAXRESULTS 5000", facts) == [
        "MAXRESULTS 5000: at most 1000"
    ]
    items = [{"bId": str(n), "operation": "create"} for n in range(31)]
    assert problems({"BatchItemRequest": items}, "Batch", facts) == ["BatchItemRequest: 31 items, at most 30"]
    assert problems({"DocNumber": "X" * 22, "CustomerRef": {"value": "1"}, "Line": []}, "Invoice", facts) == [
        "DocNumber: 22 characters, at most 21",
        "Line: 0 items, at least 1",
    ]


# ---- Odoo --------------------------------------------------------------------------------------

ODOO_TYPES = {
    "char": lambda v: isinstance(v, str),
    "text": lambda v: isinstance(v, str),
    "html": lambda v: isinstance(v, str),
    "date": lambda v: isinstance(v, str) and bool(DATE.match(v)),
    "float": _number,
    "monetary": _number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "selection": lambda v: isinstance(v, str),
    "many2one": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "one2many": lambda v: isinstance(v, list),
    "many2many": lambda v: isinstance(v, list),
}


def odoo_value_problems(model: str, values: Any, facts: dict[str, Any], path: str = "") -> list[str]:
    """create/write values of a model: every field exists, is writable and of its type; x2many
    commands carry the comodel's values or ids."""
    if not isinstance(values, dict):
        return [f"{path or model}: values must be a dict, not {values!r}"]
    fields = facts["models"][model]["fields"]
    found = []
    for name, value in values.items():
        where = f"{path}{name}"
        field = fields.get(name)
        if field is None:
            found.append(f"{where}: {model} has no field {name}")
            continue
        if field.get("readonly"):
            found.append(f"{where}: read-only on {model}")
        if not ODOO_TYPES[field["type"]](value):
            found.append(f"{where}: {value!r} is not a {field['type']}")
            continue
        if field["type"] == "selection" and value not in field["values"]:
            found.append(f"{where}: {value!r} is not one of {field['values']}")
        if field.get("size") and len(value) > field["size"]:
            found.append(f"{where}: {len(value)} characters, at most {field['size']}")
        if field["type"] in ("one2many", "many2many"):
            for i, command in enumerate(value):
                found += odoo_command_problems(command, field["comodel"], facts, f"{where}[{i}]")
    return found


def odoo_command_problems(command: Any, comodel: str, facts: dict[str, Any], where: str) -> list[str]:
    """One x2many command: (0, 0, values) creates, (6, 0, ids) replaces, (4, id) links."""
    if not isinstance(command, list) or not command or command[0] not in range(7):
        return [f"{where}: {command!r} is not an x2many command"]
    if command[0] == 0:
        if comodel not in facts["models"]:
            return [f"{where}: creates a {comodel}, which the contract does not know"]
        return odoo_value_problems(comodel, command[2], facts, f"{where}.")
    if command[0] == 6 and not all(isinstance(i, int) and not isinstance(i, bool) for i in command[2]):
        return [f"{where}: (6, 0, ids) with ids {command[2]!r}"]
    return []


def odoo_domain_problems(model: str, domain: list, facts: dict[str, Any]) -> list[str]:
    """A search domain: each term's field (and a dotted path's next field) exists, the operator is
    one of Odoo's, a selection is compared with its own values."""
    found = []
    for term in domain:
        if term in ("&", "|", "!"):
            continue
        field_path, operator, value = term
        fields = facts["models"][model]["fields"]
        first, _, rest = field_path.partition(".")
        field = fields.get(first)
        if field is None:
            found.append(f"{model}.{first}: no such field")
            continue
        if rest:
            comodel = facts["models"].get(field.get("comodel", ""), {}).get("fields", {})
            field = comodel.get(rest)
            if field is None:
                found.append(f"{model}.{field_path}: no such field on {fields[first].get('comodel')}")
                continue
        if operator not in facts["operators"]:
            found.append(f"{model}.{field_path}: operator {operator!r}")
        if field["type"] == "selection" and operator in ("=", "!=", "in", "not in"):
            compared = value if isinstance(value, list) else [value]
            found += [
                f"{model}.{field_path}: {v!r} is not one of its values" for v in compared if v not in field["values"]
            ]
    return found


def odoo_call_problems(model: str, method: str, args: list, kwargs: dict, facts: dict[str, Any]) -> list[str]:
    if model in facts["not_read"]:
        return []
    if model not in facts["models"]:
        return [f"{model}: a model the contract does not know"]
    if method == "create":
        rows = args[0] if isinstance(args[0], list) else [args[0]]
        return [p for row in rows for p in odoo_value_problems(model, row, facts)]
    if method == "write":
        return odoo_value_problems(model, args[1], facts)
    if method == "search_read":
        fields = facts["models"][model]["fields"]
        unknown = [f"{model}.{f}: no such field to read" for f in kwargs.get("fields", []) if f not in fields]
        return unknown + odoo_domain_problems(model, args[0], facts)
    return []


def assert_odoo_calls_keep_the_contract(calls: list[tuple]) -> None:
    facts = contract("odoo")
    assert calls
    for model, method, args, kwargs in calls:
        assert odoo_call_problems(model, method, args, kwargs, facts) == [], (model, method)


def test_the_odoo_checks_catch_unknown_fields_wrong_types_selections_and_commands():
    facts = contract("odoo")
    values = {
        "move_type": "customer_invoice",
        "partner": 88,
        "invoice_date": "23.11.2026",
        "amount_total": 10,
        "invoice_line_ids": [[0, 0, {"product_id": 31, "qty": 2}], [6, 0, ["5"]], ["x"]],
    }
    assert odoo_value_problems("account.move", values, facts) == [
        "move_type: 'customer_invoice' is not one of "
        "['entry', 'out_invoice', 'out_refund', 'in_invoice', 'in_refund', 'out_receipt', 'in_receipt']",
        "partner: account.move has no field partner",
        "invoice_date: '23.11.2026' is not a date",
        "amount_total: read-only on account.move",
        "invoice_line_ids[0].qty: account.move.line has no field qty",
        "invoice_line_ids[1]: (6, 0, ids) with ids ['5']",
        "invoice_line_ids[2]: ['x'] is not an x2many command",
    ]
    assert odoo_domain_problems(
        "stock.quant", [["location_id.kind", "=", "internal"], ["product_id", "~", 3]], facts
    ) == ["stock.quant.location_id.kind: no such field on stock.location", "stock.quant.product_id: operator '~'"]
    assert odoo_call_problems("account.move", "search_read", [[]], {"fields": ["total"]}, facts) == [
        "account.move.total: no such field to read"
    ]
    assert odoo_call_problems("sale.order", "create", [{}], {}, facts) == [
        "sale.order: a model the contract does not know"
    ]


def test_odoo_invoice_partner_product_listing_and_cancel_calls_keep_the_model_contract(odoo):
    from connectors.odoo import OdooConnector
    from tests.support.erp_documents import invoice
    from tests.support.odoo_api import CONFIG, known_catalogue

    known_catalogue(odoo)
    odoo.on("product.product", "search_read", lambda a, k: [])
    odoo.on("product.product", "create", lambda a, k: [44])
    odoo.on("res.country", "search_read", lambda a, k: [{"id": 57}])
    odoo.on("account.journal", "search_read", lambda a, k: [{"id": 3}])
    odoo.on("res.partner", "create", lambda a, k: [88])
    odoo.on("account.move", "create", lambda a, k: [501])
    odoo.on("account.move", "unlink", lambda a, k: True)
    row = {
        "id": 501,
        "name": "/",
        "state": "draft",
        "ref": "INV-1",
        "payment_state": "not_paid",
        "amount_total": 1,
        "amount_tax": 0,
    }
    odoo.on("account.move", "search_read", lambda a, k: [row])
    document = default_document("odoo")
    document["options"].update(create_products=True, create_partners=True)
    odoo_connector = OdooConnector({**CONFIG, "journal": "INV"}, mapping=parse(document))

    with contextlib.suppress(PermanentError):  # the total check; the requests are what count here
        odoo_connector.push_invoice(invoice(sku="PUMP-999"))
    assert odoo_connector.find_invoices(["INV-1"])
    assert list(odoo_connector.list_invoices(date(2026, 11, 1), date(2026, 11, 30)))
    odoo.on("account.move", "button_cancel", lambda a, k: True)
    odoo_connector.cancel_invoice(ExternalRef("odoo", "501"))

    (created,) = odoo.calls("account.move", "create")
    assert created[2][0][0]["move_type"] == "out_invoice"
    assert odoo.calls("res.partner", "create")
    assert odoo.calls("product.product", "create")
    assert odoo.calls("account.journal", "search_read")
    assert_odoo_calls_keep_the_contract(odoo.calls())


def test_odoo_credit_note_and_stock_calls_keep_the_model_contract(odoo):
    from tests.support.erp_documents import invoice
    from tests.support.odoo_api import connector

    reversals: list[dict] = []
    odoo.on("account.move", "search_read", lambda a, k: [dict(r) for r in reversals])
    odoo.on("account.move.reversal", "create", lambda a, k: 12)

    def reverse(args, kwargs):
        reversals.append({"id": 502, "name": "RINV/1", "state": "posted", "ref": "", "payment_state": "not_paid"})
        return {"type": "ir.actions.act_window"}

    odoo.on("account.move.reversal", "reverse_moves", reverse)
    connector().credit_invoice(ExternalRef("odoo", "501", "INV/2026/00012"), invoice())

    quant = {
        "id": 1,
        "product_id": [31, "Pump"],
        "location_id": [8, "WH/Stock"],
        "quantity": 4.0,
        "reserved_quantity": 1.0,
    }
    odoo.on("stock.quant", "search_read", lambda a, k: [quant])
    odoo.on("product.product", "search_read", lambda a, k: [{"id": 31, "default_code": "PUMP-100"}])
    odoo.on("stock.location", "search_read", lambda a, k: [{"id": 8, "warehouse_id": [1, "WH"]}])
    odoo.on("stock.warehouse", "search_read", lambda a, k: [{"id": 1, "code": "WH"}])
    assert [(s.sku, s.warehouse, s.on_hand) for s in connector().pull_stock()] == [("PUMP-100", "WH", Decimal(4))]

    assert odoo.calls("account.move.reversal", "create")
    assert odoo.calls("stock.quant", "search_read")
    assert_odoo_calls_keep_the_contract(odoo.calls())


# ---- ERPNext -----------------------------------------------------------------------------------

ERP_TYPES = {
    "Link": lambda v: isinstance(v, str),
    "Data": lambda v: isinstance(v, str),
    "Small Text": lambda v: isinstance(v, str),
    "Text Editor": lambda v: isinstance(v, str),
    "Read Only": lambda v: isinstance(v, str),
    "Select": lambda v: isinstance(v, str),
    "Date": lambda v: isinstance(v, str) and bool(DATE.match(v)),
    "Datetime": lambda v: isinstance(v, str),
    "Check": lambda v: v in (0, 1) and not isinstance(v, float),
    "Int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: _number(v) or (isinstance(v, str) and _decimal_text(v)),
    "Currency": lambda v: _number(v) or (isinstance(v, str) and _decimal_text(v)),
    "Percent": lambda v: _number(v) or (isinstance(v, str) and _decimal_text(v)),
    "Table": lambda v: isinstance(v, list),
}


def _decimal_text(text: str) -> bool:
    """The connector sends Decimals as exact text (connectors.http.dumps); Frappe casts them."""
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))


def erp_field(doctype: str, name: str, facts: dict[str, Any]) -> dict[str, Any] | None:
    return facts["doctypes"][doctype]["fields"].get(name) or facts["standard_fields"].get(name)


def erp_body_problems(doctype: str, body: Any, facts: dict[str, Any], *, insert: bool, path: str = "") -> list[str]:
    """An insert or update body: fields exist, are writable and of their fieldtype, a Select's
    value is one of its options, child rows keep their doctype, an insert carries the reqd fields
    ERPNext does not fill itself."""
    if not isinstance(body, dict):
        return [f"{path or doctype}: a document must be an object"]
    found = []
    if insert:
        filled = set(facts["filled_by_erpnext"].get(doctype, ()))
        for name, field in facts["doctypes"][doctype]["fields"].items():
            if field.get("reqd") and name not in body and name not in filled:
                found.append(f"{path}{name}: reqd on {doctype}, missing")
    for name, value in body.items():
        where = f"{path}{name}"
        field = erp_field(doctype, name, facts)
        if field is None:
            found.append(f"{where}: {doctype} has no field {name}")
            continue
        if field.get("read_only") or (field["fieldtype"] == "Read Only" and not (insert and field.get("insert_only"))):
            found.append(f"{where}: read-only on {doctype}")
        if not ERP_TYPES[field["fieldtype"]](value):
            found.append(f"{where}: {value!r} is not a {field['fieldtype']}")
            continue
        if (field["fieldtype"] == "Select" or name == "docstatus") and value not in field["options"]:
            found.append(f"{where}: {value!r} is not one of its options")
        if field["fieldtype"] == "Table":
            for i, row in enumerate(value):
                found += erp_body_problems(field["options"], row, facts, insert=insert, path=f"{where}[{i}].")
    return found


def erp_list_problems(doctype: str, query: dict[str, str], facts: dict[str, Any]) -> list[str]:
    """A list request: every field asked for and filtered on exists, the operators are Frappe's."""
    found = []
    for name in json.loads(query.get("fields", "[]")):
        if erp_field(doctype, name, facts) is None:
            found.append(f"{doctype}.{name}: no such field to read")
    for name, operator, _ in json.loads(query.get("filters", "[]")):
        if erp_field(doctype, name, facts) is None:
            found.append(f"{doctype}.{name}: no such field to filter on")
        if operator not in facts["operators"]:
            found.append(f"{doctype}.{name}: operator {operator!r}")
    order = query.get("order_by", "").split(" ")[0]
    if order and erp_field(doctype, order, facts) is None:
        found.append(f"{doctype}.{order}: no such field to order by")
    return found


def assert_erp_requests_keep_the_contract(sent: list[dict], *, returns_made_by_erpnext: bool = False) -> None:
    from urllib.parse import unquote

    facts = contract("erpnext")
    assert sent
    for request in sent:
        parts = unquote(request["path"]).split("/")
        if parts[2] == "method":
            assert sorted(request["body"]) == sorted(facts["methods"][parts[3]]), parts[3]
            continue
        doctype = parts[3]
        if doctype not in facts["doctypes"]:
            # Item Tax Template is read (its tax rows), never written.
            assert (request["method"], doctype) == ("GET", "Item Tax Template")
            continue
        if request["method"] == "GET" and len(parts) == 4:
            assert erp_list_problems(doctype, request["query"], facts) == [], doctype
        elif request["method"] == "POST" and not (returns_made_by_erpnext and request["body"].get("is_return")):
            assert erp_body_problems(doctype, request["body"], facts, insert=True) == [], doctype
        elif request["method"] == "PUT":
            assert erp_body_problems(doctype, request["body"], facts, insert=False) == [], doctype


def test_the_erpnext_checks_catch_unknown_fields_types_options_read_only_and_missing_reqd():
    facts = contract("erpnext")
    body = {
        "customer": "CUST-1",
        "posting_date": "23.11.2026",
        "grand_total": 10,
        "items": [{"item_code": "PUMP-100", "qty": "two", "price": 3}],
        "taxes": [{"charge_type": "Flat", "account_head": "VAT - AT", "description": "VAT"}],
        "docstatus": 3,
    }
    assert erp_body_problems("Sales Invoice", body, facts, insert=True) == [
        "company: reqd on Sales Invoice, missing",
        "currency: reqd on Sales Invoice, missing",
        "posting_date: '23.11.2026' is not a Date",
        "grand_total: read-only on Sales Invoice",
        "items[0].rate: reqd on Sales Invoice Item, missing",
        "items[0].qty: 'two' is not a Float",
        "items[0].price: Sales Invoice Item has no field price",
        "taxes[0].charge_type: 'Flat' is not one of its options",
        "docstatus: 3 is not one of its options",
    ]
    assert erp_list_problems(
        "Bin", {"fields": '["item_code", "projected"]', "filters": '[["warehouse", "~", 1]]'}, facts
    ) == [
        "Bin.projected: no such field to read",
        "Bin.warehouse: operator '~'",
    ]
    assert erp_body_problems(
        "Customer", {"customer_name": "A", "customer_type": "Company", "email_id": "a@b"}, facts, insert=False
    ) == ["email_id: read-only on Customer"]


def test_erpnext_invoice_customer_item_submit_listing_and_cancel_requests_keep_the_doctype_contract(erp):
    from tests.support.erp_documents import invoice
    from tests.support.erpnext_api import INVOICES, ErpInvoices, connector, invoice_doc, rows

    ErpInvoices(erp)
    erp.on("GET", "/api/resource/Customer", rows())
    erp.on("POST", "/api/resource/Customer", lambda q, b: (200, {"data": {"name": "Acme GmbH", **b}}))
    erp.on("GET", "/api/resource/Item", rows())
    erp.on("POST", "/api/resource/Item", lambda q, b: (200, {"data": b}))
    erp_connector = connector(post=True, create_items=True, item_group="Pumps")
    ref = erp_connector.push_invoice(invoice(sku="PUMP-999", discount="10"))
    assert ref.external_id == "ACC-SINV-2026-00001"
    assert erp_connector.find_invoices(["INV-000042"])
    listed = {"name": "ACC-SINV-2026-00001", "po_no": "INV-000042", "posting_date": "2026-11-23", "grand_total": 47.0}
    listed |= {
        "total_taxes_and_charges": 7.5,
        "currency": "EUR",
        "customer_name": "Acme",
        "docstatus": 1,
        "status": "Paid",
    }
    erp.on("GET", INVOICES, rows(listed))
    assert (
        len([row for page in erp_connector.list_invoices(date(2026, 11, 1), date(2026, 11, 30)) for row in page]) == 1
    )
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", invoice_doc(1, 47.36))
    erp.on("POST", "/api/method/frappe.client.cancel", lambda q, b: (200, {"message": {"docstatus": 2}}))
    erp_connector.cancel_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"))

    methods = [(s["method"], s["path"]) for s in erp.sent]
    assert ("POST", "/api/resource/Customer") in methods
    assert ("POST", "/api/resource/Item") in methods
    assert ("PUT", "/api/resource/Sales%20Invoice/ACC-SINV-2026-00001") in methods
    assert ("POST", "/api/method/frappe.client.cancel") in methods
    assert_erp_requests_keep_the_contract(erp.sent)


def test_erpnext_return_and_stock_requests_keep_the_doctype_contract(erp):
    from connectors.erpnext import MAKE_RETURN
    from tests.support.credit_note_answers import ERP_MAPPED
    from tests.support.erp_documents import invoice
    from tests.support.erpnext_api import INVOICES, connector, invoice_doc, rows

    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", invoice_doc(1, 0))
    erp.on("GET", INVOICES, rows())
    erp.on("POST", MAKE_RETURN, lambda q, b: (200, {"message": dict(ERP_MAPPED)}))
    draft = {**ERP_MAPPED, "po_no": "INV-000042-CN", "name": "ACC-SINV-2026-00013", "docstatus": 0}
    erp.on("POST", INVOICES, lambda q, b: (200, {"data": draft}))
    erp.on("PUT", f"{INVOICES}/ACC-SINV-2026-00013", lambda q, b: (200, {"data": {**draft, "docstatus": 1}}))
    connector().credit_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"), invoice())

    erp.on("GET", "/api/resource/Warehouse", rows({"name": "Stores - AT"}))
    bins = [{"item_code": "PUMP-100", "warehouse": "Stores - AT", "actual_qty": 4.0, "reserved_qty": 1.0}]
    erp.on("GET", "/api/resource/Bin", rows(*bins))
    assert [(s.sku, s.on_hand) for s in connector().pull_stock()] == [("PUMP-100", Decimal(4))]

    (insert,) = erp.requests("POST", INVOICES)
    assert insert["body"]["po_no"] == "INV-000042-CN"
    assert_erp_requests_keep_the_contract(erp.sent, returns_made_by_erpnext=True)


def test_an_erpnext_invoice_with_the_hubs_tax_rows_keeps_the_doctype_contract():
    """With Item Tax Templates mapped, the Sales Invoice carries the hub's tax as "Actual" rows of
    Sales Taxes and Charges and each item its template (built as tests/integration/test_erpnext_arithmetic.py)."""
    from connectors.http import dumps
    from tests.support.arithmetic_cases import hub_document, hub_line
    from tests.support.erpnext_templates import payload_of

    doc = hub_document(
        [hub_line("A", "1", "10.03", "0", "0.19", "EUR"), hub_line("B", "2", "5", "0", "0.07", "EUR")], "EUR"
    )
    payload = json.loads(dumps(payload_of(doc)), parse_float=Decimal)  # as the connector sends it

    assert [row["charge_type"] for row in payload["taxes"]] == ["Actual", "Actual"]
    assert [item["item_tax_template"] for item in payload["items"]] == ["DE VAT 19", "DE VAT 7"]
    assert erp_body_problems("Sales Invoice", payload, contract("erpnext"), insert=True) == []


@responses.activate
def test_a_quickbooks_customer_named_with_a_colon_is_found_and_created_under_a_name_quickbooks_takes():
    """Intuit's Customer: "The customer name must not contain a colon (:)" (a colon separates a
    sub-customer from its parent in QuickBooks' fully qualified names)."""
    from tests.support.quickbooks_api import BASE, FAULT_TIME, ITEM, connector, document, qbo_invoice, query_answer

    mapping = default_document("quickbooks")
    mapping["options"] = {"create_customers": True}
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    found = responses.get(f"{BASE}/query", json=query_answer("Customer", []))
    made = responses.post(f"{BASE}/customer", json={"Customer": {"Id": "58", "DisplayName": "Acme - Berlin"}})
    responses.post(f"{BASE}/invoice", json={"Invoice": qbo_invoice(total="115.43"), "time": FAULT_TIME})

    connector(mapping=parse(mapping)).push_invoice(document(customer="Acme: Berlin"))

    assert query(found.calls[0])["query"] == "select * from Customer where DisplayName = 'Acme - Berlin'"
    assert sent(made.calls[0])["DisplayName"] == "Acme - Berlin"
    assert problems(sent(made.calls[0]), "Customer", contract("quickbooks")) == []
    assert problems({"DisplayName": "Acme: Berlin"}, "Customer", contract("quickbooks")) == [
        "DisplayName: 'Acme: Berlin' does not match ^[^:]*$"
    ]

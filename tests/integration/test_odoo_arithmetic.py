"""Odoo computes the hub's line nets, taxes and total from what the hub sends, or the deal is
refused when it is won. The oracle is Odoo's own arithmetic (16–18): on write, price_unit, discount
and quantity are rounded to their decimal precision (2 by default, "Product Price", "Discount",
"Product Unit of Measure"); a line's subtotal is quantity × price × (1 − discount / 100) rounded
half-up by the currency; its tax, rounded per line (`round_per_line`, the default), is the
subtotal × rate rounded the same way. Payloads come from the connector with Odoo's JSON-RPC
answered by `responses` (as tests/integration/test_odoo.py)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
import responses
from hypothesis import HealthCheck, example, given, settings

from connectors.errors import PermanentError
from connectors.odoo import OdooConnector
from connectors.odoo.payload import LINES
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.arithmetic_cases import documents, hub_document, hub_line, refused_when_won, unit_of
from tests.support.tallies import tally

URL = "https://odoo.example.com"
CONFIG = {"url": URL, "database": "acme", "username": "hub@acme.example", "api_key": "k", "timeout": 5}
TALLY = tally("generated invoices against Odoo's arithmetic")
TAX_BASE = 1000  # the fake's tax ids: 1000 + the percentage


def kept(value, places: int = 2) -> Decimal:
    """What Odoo stores of a value written to a field of this precision."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def odoo_computes(payload: dict, currency: str) -> tuple[list[Decimal], Decimal, Decimal]:
    """(line subtotals, tax, total) as Odoo computes them for the payload."""
    unit = unit_of(currency)
    subtotals, taxes = [], Decimal(0)
    for _, _, line in payload["invoice_line_ids"]:
        quantity, price, discount = kept(line["quantity"]), kept(line["price_unit"]), kept(line.get("discount", 0))
        subtotal = (quantity * price * (100 - discount) / 100).quantize(unit, rounding=ROUND_HALF_UP)
        subtotals.append(subtotal)
        for tax_id in line.get("tax_ids", [[6, 0, []]])[0][2]:
            taxes += (subtotal * (tax_id - TAX_BASE) / 100).quantize(unit, rounding=ROUND_HALF_UP)
    return subtotals, taxes, sum(subtotals, Decimal(0)) + taxes


def answer(request):
    body = json.loads(request.body)
    params = body["params"]
    if params["service"] == "common":
        result = 7
    else:
        _, _, _, model, _, args, _ = params["args"]
        if model == "product.product":
            ((_, _, skus),) = args[0]
            result = [{"id": i + 1, "default_code": sku} for i, sku in enumerate(skus)]
        elif model == "account.tax":
            percent = next(value for name, _, value in args[0] if name == "amount")
            result = [{"id": TAX_BASE + int(Decimal(str(percent)))}]
        else:  # res.currency, res.partner
            result = [{"id": 42}]
    return 200, {"Content-Type": "application/json"}, json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result})


def payload_of(doc) -> dict:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.POST, f"{URL}/jsonrpc", callback=answer)
        return OdooConnector(CONFIG, mapping=parse(default_document("odoo"))).build_payload(doc)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
@example(doc=hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "10.03", "0", "0.19", "EUR")] * 2, "EUR"))
@example(doc=hub_document([hub_line("A", "10", "19.99", "15", "0.19", "EUR")], "EUR"))
def test_odoo_computes_the_hubs_amounts_or_the_deal_is_refused_when_won(doc):
    if refused_when_won(LINES, doc):
        TALLY["refused when won"] += 1
        with pytest.raises(PermanentError):
            payload_of(doc)
        return
    subtotals, tax, total = odoo_computes(payload_of(doc), doc.currency)
    assert subtotals == [line.net for line in doc.lines]
    assert (tax, total) == (doc.tax_total, doc.total)
    TALLY["documents"] += 1
    TALLY["lines"] += len(doc.lines)


def test_the_discount_deal_keeps_its_price_and_discount_in_odoo():
    # 3 × 96.90 less 5 % = 276.165: Odoo's half-up, like the hub, says 276.17.
    doc = hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR")
    ((_, _, line),) = payload_of(doc)["invoice_line_ids"]
    assert (line["quantity"], line["price_unit"], line["discount"]) == (3, Decimal("96.90"), Decimal(5))


def test_a_price_of_4_decimals_goes_as_a_net_price_odoo_keeps_or_is_refused():
    # 2 × 12.3456 less 10 % = 22.22208 → 22.22 = 2 × 11.11: sent as that net price, no discount.
    doc = hub_document([hub_line("A", "2", "12.3456", "10", "0.07", "EUR")], "EUR")
    ((_, _, line),) = payload_of(doc)["invoice_line_ids"]
    assert (line["quantity"], line["price_unit"], "discount" in line) == (2, Decimal("11.11"), False)
    assert line["name"] == "A item (10 % discount)"
    # 4 × 12.3456 = 49.3824 → 49.38: Odoo would keep 12.35 (49.40), and 4 × 12.34 = 49.36.
    assert refused_when_won(LINES, hub_document([hub_line("A", "4", "12.3456", "0", "0.07", "EUR")], "EUR"))


def test_a_quantity_of_3_decimals_is_refused_when_won_naming_it(app, sales):
    make_connection(app, "Odoo", "odoo", CONFIG)
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    lines = [{"description": "Cable", "quantity": "2.125", "unit_price": "4.00"}]
    deal = sales.post("/api/v1/deals", json={"title": "Cable", "customer_id": customer["id"], "lines": lines}).json

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422
    (message,) = r.json["errors"]["lines[0].quantity"]
    assert message == (
        "The invoice for Odoo cannot carry this line at 8.50: Odoo keeps quantities to 2 decimals, "
        "so it would change 2.125. Split the line or change its quantity."
    )

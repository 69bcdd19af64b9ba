"""QuickBooks keeps a line's `Amount` as sent and checks it against Qty × UnitPrice (its UnitPrice
keeps 7 decimals); it computes the tax and the total itself, which the push checks afterwards
(tests/unit/test_quickbooks.py). So for every generated deal, each line the connector builds carries
the hub's net as Amount, with a UnitPrice QuickBooks keeps whose product with the quantity rounds
to it. Payloads come from the connector with QuickBooks' API answered by `responses`."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

import responses
from hypothesis import HealthCheck, example, given, settings

from tests.support.arithmetic_cases import documents, hub_document, hub_line, unit_of
from tests.support.quickbooks_api import BASE, connector
from tests.support.tallies import tally

TALLY = tally("generated invoices against QuickBooks' line check")


def answer(request):
    statement = parse_qs(urlsplit(request.url).query)["query"][0]
    if "from Item" in statement:
        skus = re.findall(r"'([^']*)'", statement)
        body = {"QueryResponse": {"Item": [{"Id": str(i), "Sku": s, "Name": s} for i, s in enumerate(skus, 1)]}}
    else:
        body = {"QueryResponse": {"Customer": [{"Id": "1", "DisplayName": "Acme GmbH"}]}}
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


def invoice_of(doc) -> dict:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE}/query", callback=answer)
        return connector().build_invoice(doc)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
@example(doc=hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "10.03", "0", "0.19", "EUR")] * 2, "EUR"))
@example(doc=hub_document([hub_line("A", "10", "19.99", "15", "0.19", "EUR")], "EUR"))
def test_every_line_carries_the_hubs_net_with_a_unit_price_quickbooks_agrees_with(doc):
    unit = unit_of(doc.currency)
    for line, hub in zip(invoice_of(doc)["Line"], doc.lines, strict=True):
        detail = line["SalesItemLineDetail"]
        quantity, price = Decimal(detail["Qty"]), Decimal(detail["UnitPrice"])
        assert Decimal(line["Amount"]) == hub.net
        assert price == price.quantize(Decimal("1e-7"))
        assert (quantity * price).quantize(unit, rounding=ROUND_HALF_UP) == hub.net
    TALLY["documents"] += 1
    TALLY["lines"] += len(doc.lines)

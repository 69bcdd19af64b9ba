"""Zoho Books computes the hub's line amounts from what the hub sends, or the deal is refused when
it is won; its taxes are the hub's too unless a line's tax is a tie, which Zoho's undocumented
rounding may take either way (then the push's total check decides). The oracle is what
connectors/zoho_books/payload.py writes down of Zoho's arithmetic: a line's rate kept to the currency's
decimals, its amount = quantity × rate × (1 − discount / 100) rounded to them; tax rounded per line
(the organisation's default). Payloads come from the connector with Zoho's API answered by
`responses` (as tests/integration/test_zoho_books.py)."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, example, given, settings

from connectors.errors import PermanentError
from connectors.zoho_books.payload import LINES
from tests.conftest import make_connection
from tests.support.arithmetic_cases import documents, hub_document, hub_line, refused_when_won, unit_of
from tests.support.tallies import tally
from tests.support.zoho_books_api import BOOKS, CONFIG, connector

TALLY = tally("generated invoices against Zoho Books' arithmetic")
TAXES = {"0.19": "tax-19", "0.07": "tax-7", "0": "tax-0"}


def zoho_computes(payload: dict, rates: list[Decimal], currency: str, rounding: str) -> tuple[list[Decimal], Decimal]:
    """(line amounts, tax) as Zoho computes them for the payload, with ties rounded `rounding`."""
    unit = unit_of(currency)
    amounts, tax = [], Decimal(0)
    for line, rate in zip(payload["line_items"], rates, strict=True):
        price = Decimal(line["rate"]).quantize(unit, rounding=ROUND_HALF_UP)
        discount = Decimal(line.get("discount", "0%").rstrip("%"))
        amount = (Decimal(line["quantity"]) * price * (100 - discount) / 100).quantize(unit, rounding=rounding)
        amounts.append(amount)
        tax += (amount * rate).quantize(unit, rounding=rounding)
    return amounts, tax


def answer(request):
    url = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    if url.path.endswith("/items"):
        body = {"items": [{"item_id": f"item-{query['search_text']}", "sku": query["search_text"]}]}
    elif url.path.endswith("/settings/taxes"):
        body = {"taxes": [{"tax_id": i, "tax_percentage": float(Decimal(r) * 100)} for r, i in TAXES.items()]}
    else:
        body = {"contacts": [{"contact_id": "c-1", "contact_name": "Acme GmbH", "email": "ap@acme.example"}]}
    return 200, {"Content-Type": "application/json"}, json.dumps({"code": 0, "message": "success", **body})


def payload_of(doc) -> dict:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, re.compile(re.escape(BOOKS) + "/.*"), callback=answer)
        return connector().build_payload(doc)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
@example(doc=hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "10.03", "0", "0.19", "EUR")] * 2, "EUR"))
@example(doc=hub_document([hub_line("A", "10", "19.99", "15", "0.19", "EUR")], "EUR"))
def test_zoho_computes_the_hubs_amounts_or_the_deal_is_refused_when_won(doc):
    if refused_when_won(LINES, doc):
        TALLY["refused when won"] += 1
        with pytest.raises(PermanentError):
            payload_of(doc)
        return
    payload = payload_of(doc)
    rates = [line.tax_rate for line in doc.lines]
    taxes = set()
    for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):
        amounts, tax = zoho_computes(payload, rates, doc.currency, rounding)
        assert amounts == [line.net for line in doc.lines]
        taxes.add(tax)
    if len(taxes) > 1:  # a tax tie: Zoho's rounding of it is its own, the total check decides
        TALLY["a tax tie left to the total check"] += 1
    else:
        assert taxes == {doc.tax_total}
    TALLY["documents"] += 1
    TALLY["lines"] += len(doc.lines)


def test_a_rate_zoho_would_round_goes_as_a_net_rate_of_the_currencys_decimals():
    # 4 × 12.3456 = 49.3824 → 49.38; Zoho keeps a rate of 2 decimals, and 4 × 12.35 = 49.40,
    # 4 × 12.34 = 49.36: refused. 2 × 12.3456 less 10 % = 22.22208 → 22.22 = 2 × 11.11: sent so.
    assert refused_when_won(LINES, hub_document([hub_line("A", "4", "12.3456", "0", "0.07", "EUR")], "EUR"))
    doc = hub_document([hub_line("A", "2", "12.3456", "10", "0.07", "EUR")], "EUR")
    (line,) = payload_of(doc)["line_items"]
    assert (line["quantity"], line["rate"], "discount" in line) == (2, Decimal("11.11"), False)
    assert line["description"] == "A item (10 % discount)"


def test_the_discount_deal_is_refused_for_zoho_when_won():
    # 3 × 96.90 less 5 % = 276.165, a tie Zoho may round down; no 2-decimal rate × 3 gives 276.17.
    doc = hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR")
    assert refused_when_won(LINES, doc)
    with pytest.raises(PermanentError) as refused:
        payload_of(doc)
    assert refused.value.field == "lines[0].unit_price"


def test_the_discount_deal_is_refused_when_won_for_a_zoho_connection_naming_the_line(app, sales):
    make_connection(app, "Zoho", "zoho_books", CONFIG)
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    lines = [{"description": "Valve", "quantity": "3", "unit_price": "96.90", "discount_percent": "5"}]
    deal = sales.post("/api/v1/deals", json={"title": "Valves", "customer_id": customer["id"], "lines": lines}).json

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422
    assert r.json["errors"] == {
        "lines[0].unit_price": [
            "The invoice for Zoho cannot carry this line at 276.17: Zoho Books keeps unit prices to 2 decimals and "
            "computes a line as quantity × price: no such price gives 3 × price = 276.17. "
            "Split the line or change its price."
        ]
    }
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["status"] == "open"

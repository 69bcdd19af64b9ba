"""Xero computes the hub's line nets, taxes and total from what the hub sends, or the deal is
refused when it is won. The oracle is Xero's arithmetic as its "Rounding in Xero" guide and its
LineItem schema say: UnitAmount kept to 4 decimals (the create asks `unitdp=4`), Quantity to 4,
DiscountRate to 2; LineAmount = Quantity × UnitAmount × (100 − DiscountRate) / 100 to 2 decimals
whatever the currency, ties going a way the guide does not say (both are tried); a line's tax is
its TaxAmount when one is given (the default mapping gives the hub's). Payloads come from the
connector with Xero's API answered by `responses` (as tests/integration/test_xero.py)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
import responses
from hypothesis import HealthCheck, example, given, settings

from connectors.errors import PermanentError
from connectors.xero.payload import LINES
from tests.conftest import make_connection
from tests.support.arithmetic_cases import documents, hub_document, hub_line, refused_when_won
from tests.support.tallies import tally
from tests.support.xero_api import ACME, API, CONFIG, answer, connector

TALLY = tally("generated invoices against Xero's arithmetic")
CENT = Decimal("0.01")
RATES = {
    "TaxRates": [
        {"TaxType": f"OUTPUT{p}", "CanApplyToRevenue": True, "EffectiveRate": p, "Status": "ACTIVE"} for p in (0, 7, 19)
    ]
}


def kept(value, places: int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def xero_computes(invoice: dict, rounding: str) -> tuple[list[Decimal], Decimal, Decimal]:
    """(line amounts, tax, total) as Xero computes them for the invoice sent."""
    amounts, taxes = [], Decimal(0)
    for line in invoice["LineItems"]:
        quantity, price = kept(line["Quantity"], 4), kept(line["UnitAmount"], 4)
        discount = kept(line.get("DiscountRate", 0), 2)
        amounts.append((quantity * price * (100 - discount) / 100).quantize(CENT, rounding=rounding))
        taxes += kept(line["TaxAmount"], 2)  # an amount: 2 decimals, whatever the currency
    return amounts, taxes, sum(amounts, Decimal(0)) + taxes


def invoice_of(doc) -> dict:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
        rsps.get(f"{API}/TaxRates", json=answer(**RATES))
        return connector().build_payloads([doc])[0]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
@example(doc=hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "10.03", "0", "0.19", "EUR")] * 2, "EUR"))
@example(doc=hub_document([hub_line("A", "10", "19.99", "15", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "0.01", "0", "0.07", "KWD")], "KWD"))  # its tax, 0.001, lost
def test_xero_computes_the_hubs_amounts_or_the_deal_is_refused_when_won(doc):
    if refused_when_won(LINES, doc):
        TALLY["refused when won"] += 1
        with pytest.raises(PermanentError):
            invoice_of(doc)
        return
    invoice = invoice_of(doc)
    for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):
        amounts, tax, total = xero_computes(invoice, rounding)
        assert amounts == [line.net for line in doc.lines]
        assert (tax, total) == (doc.tax_total, doc.total)
    TALLY["documents"] += 1
    TALLY["lines"] += len(doc.lines)


def test_a_tie_goes_as_a_net_unit_amount_of_4_decimals():
    # 3 × 96.90 less 5 % = 276.165, a tie Xero may round either way: the hub's 276.17 goes as
    # 3 × 92.0567 = 276.1701, with the discount named.
    doc = hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR")
    (line,) = invoice_of(doc)["LineItems"]
    assert (line["Quantity"], line["UnitAmount"], "DiscountRate" in line) == (3, Decimal("92.0567"), False)
    assert line["Description"] == "VALVE-50 item (5 % discount)"
    # No tie: the hub's price and discount as they are (10 × 19.99 less 15 % = 169.915 is a tie too,
    # 2 × 19.99 less 15 % = 33.983 is not).
    doc = hub_document([hub_line("A", "2", "19.99", "15", "0.19", "EUR")], "EUR")
    (line,) = invoice_of(doc)["LineItems"]
    assert (line["UnitAmount"], line["DiscountRate"]) == (Decimal("19.99"), Decimal(15))


def test_a_kwd_deal_is_refused_when_won_naming_its_currency(app, sales):
    make_connection(app, "Xero", "xero", CONFIG)
    customer = sales.post("/api/v1/customers", json={"name": "Gulf Co", "default_currency": "KWD"}).json
    lines = [{"description": "Valve", "quantity": "1", "unit_price": "1.235"}] * 2
    deal = sales.post(
        "/api/v1/deals", json={"title": "Valve", "customer_id": customer["id"], "currency": "KWD", "lines": lines}
    ).json

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422, r.json
    assert r.json["errors"] == {
        "currency": [
            "The invoice for Xero cannot be in KWD: Xero keeps amounts to 2 decimals, fewer than the currency's 3. "
            "Choose another currency."
        ]
    }

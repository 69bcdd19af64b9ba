"""ERPNext computes the hub's line nets, taxes and total from what the hub sends, or the deal is
refused when it is won. The oracle is ERPNext's own arithmetic as its source has it
(erpnext/controllers/taxes_and_totals.py, frappe `get_field_precision`): a line's rate rounded to
the site's currency precision (2), its amount = rate × qty rounded to 2; an "On Net Total" tax row
summed unrounded over the items and rounded once; an "Actual" row's amount as given; rounding
half-even or half-up by the site's setting (both are tried). Payloads come from the connector with
ERPNext's REST API answered by `responses` (as tests/integration/test_erpnext.py)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings

from connectors.erpnext.payload import LINES
from connectors.errors import PermanentError
from tests.conftest import make_connection
from tests.support.arithmetic_cases import documents, hub_document, hub_line, refused_when_won
from tests.support.erpnext_templates import ACCOUNTS, CONFIG, payload_of
from tests.support.tallies import tally

TALLY = tally("generated invoices against ERPNext's arithmetic")
CENT = Decimal("0.01")


def flt(value: Decimal, rounding: str) -> Decimal:
    """frappe.utils.flt(value, 2) with the site's rounding method."""
    return value.quantize(CENT, rounding=rounding)


def erpnext_computes(payload: dict, rounding: str) -> tuple[list[Decimal], Decimal, Decimal]:
    """(line amounts, total taxes, grand total) as ERPNext computes them for the payload."""
    amounts = [flt(flt(Decimal(i["rate"]), rounding) * Decimal(i["qty"]), rounding) for i in payload["items"]]
    net_total = sum(amounts, Decimal(0))
    if payload.get("taxes"):
        taxes = sum((flt(Decimal(t["tax_amount"]), rounding) for t in payload["taxes"]), Decimal(0))
    else:  # "On Net Total" rows of the items' templates: summed unrounded, rounded once per row
        per_row: dict[str, Decimal] = {}
        for item, amount in zip(payload["items"], amounts, strict=True):
            if item.get("item_tax_template"):
                _, percent = ACCOUNTS[item["item_tax_template"]]
                per_row[item["item_tax_template"]] = per_row.get(item["item_tax_template"], 0) + amount * percent / 100
        taxes = sum((flt(t, rounding) for t in per_row.values()), Decimal(0))
    return amounts, taxes, net_total + taxes


def assert_erpnext_computes_the_hubs(doc) -> dict:
    payload = payload_of(doc)
    for rounding in (ROUND_HALF_EVEN, ROUND_HALF_UP):
        amounts, taxes, total = erpnext_computes(payload, rounding)
        assert amounts == [line.net for line in doc.lines]
        assert (taxes, total) == (doc.tax_total, doc.total)
    return payload


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
@example(doc=hub_document([hub_line("VALVE-50", "3", "96.90", "5", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "10.03", "0", "0.19", "EUR")] * 2, "EUR"))
@example(doc=hub_document([hub_line("A", "10", "19.99", "15", "0.19", "EUR")], "EUR"))
@example(doc=hub_document([hub_line("A", "1", "0.01", "0", "0.07", "KWD")], "KWD"))  # its tax, 0.001, lost
def test_erpnext_computes_the_hubs_amounts_or_the_deal_is_refused_when_won(doc):
    if refused_when_won(LINES, doc):
        TALLY["refused when won"] += 1
        with pytest.raises(PermanentError):  # and the push would refuse it too, naming the line
            payload_of(doc)
        return
    assert_erpnext_computes_the_hubs(doc)
    TALLY["documents"] += 1
    TALLY["lines"] += len(doc.lines)


def test_two_lines_of_10_03_at_19_percent_carry_the_hubs_tax_as_an_actual_row():
    doc = hub_document([hub_line("A", "1", "10.03", "0", "0.19", "EUR")] * 2, "EUR")
    payload = assert_erpnext_computes_the_hubs(doc)
    assert payload["taxes"] == [
        {
            "charge_type": "Actual",
            "account_head": "VAT 19 - AT",
            "description": "DE VAT 19 (19 %)",
            "tax_amount": Decimal("3.82"),
        }
    ]
    # ERPNext's own "On Net Total" row would be 20.06 × 19 % = 3.8114 → 3.81; the hub's 1.91 twice.
    _, own_tax, _ = erpnext_computes({**payload, "taxes": []}, ROUND_HALF_EVEN)
    assert (own_tax, doc.tax_total) == (Decimal("3.81"), Decimal("3.82"))


def test_without_a_template_for_a_taxed_rate_erpnext_keeps_its_own_taxes():
    doc = hub_document([hub_line("A", "2", "19.90", "0", "0.19", "EUR")], "EUR")
    assert "taxes" not in payload_of(doc, templates=False)


@pytest.mark.parametrize(
    ("quantity", "price", "discount", "currency", "field", "why"),
    [
        # 10 × 19.99 less 15 % = 169.915: the hub says 169.92; ERPNext's 2-decimal rate gives 169.90 or 170.00.
        ("10", "19.99", "15", "EUR", "lines[0].unit_price", "ERPNext keeps unit prices to 2 decimals"),
        # 3 × 96.90 less 5 % = 276.165 → 276.17, and 3 × 92.06 = 276.18, 3 × 92.05 = 276.15.
        ("3", "96.90", "5", "EUR", "lines[0].unit_price", "ERPNext keeps unit prices to 2 decimals"),
        # ERPNext's quantities keep 3 decimals.
        ("1.2345", "10", "0", "EUR", "lines[0].quantity", "ERPNext keeps quantities to 3 decimals"),
        # KWD has 3 decimals; ERPNext keeps 2 whatever the currency (1.230 would lose its tax's third).
        ("1", "1.235", "0", "KWD", "currency", "ERPNext keeps amounts to 2 decimals, fewer than the currency's 3"),
        ("1", "1.23", "0", "KWD", "currency", "ERPNext keeps amounts to 2 decimals, fewer than the currency's 3"),
    ],
)
def test_lines_erpnext_cannot_carry_are_refused_when_won(quantity, price, discount, currency, field, why):
    doc = hub_document([hub_line("A", quantity, price, discount, "0.19", currency)], currency)
    assert refused_when_won(LINES, doc)
    with pytest.raises(PermanentError) as refused:
        payload_of(doc)
    assert refused.value.field == field
    assert str(refused.value).startswith(why)


def test_a_deal_erpnext_cannot_carry_is_refused_when_won_naming_the_line(app, sales):
    make_connection(app, "Books ERPNext", "erpnext", CONFIG)
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    lines = [
        {"description": "Pump", "quantity": "2", "unit_price": "19.90"},
        {"description": "Filter", "quantity": "10", "unit_price": "19.99", "discount_percent": "15"},
    ]
    deal = sales.post("/api/v1/deals", json={"title": "Filters", "customer_id": customer["id"], "lines": lines}).json

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422
    (message,) = r.json["errors"]["lines[1].unit_price"]
    assert message.startswith("The invoice for Books ERPNext cannot carry this line at 169.92: ERPNext keeps unit")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["status"] == "open"

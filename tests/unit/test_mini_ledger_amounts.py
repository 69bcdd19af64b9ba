"""The Mini Ledger works out every amount it is sent and refuses one that disagrees (a 422 naming
the field): so every test that pushes to it also checks the hub's arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.demo_erp.mini_ledger import create_app

KEY = {"X-Api-Key": "k"}


@pytest.fixture
def ledger():
    return create_app("k").test_client()


def line(**changes) -> dict:
    """2 × 19.90 less 10 % = 35.82 net, 6.81 tax at 19 % (6.8058 rounded half up), 42.63."""
    return {
        "description": "Widget",
        "quantity": "2",
        "unit_price": "19.90",
        "discount_percent": "10",
        "tax_rate": "0.19",
        "net": "35.82",
        "tax": "6.81",
        "total": "42.63",
    } | changes


def invoice(lines: list[dict], **changes) -> dict:
    body = {"reference": "INV-000001", "customer": {"name": "Acme"}, "currency": "EUR", "issue_date": "2026-12-07"}
    return body | {"lines": lines} | changes


def test_amounts_that_agree_are_booked(ledger):
    lines = [line(), line(quantity="1", discount_percent="0", net="19.90", tax="3.78", total="23.68")]
    r = ledger.post(
        "/api/invoices", json=invoice(lines, subtotal="55.72", tax_total="10.59", total="66.31"), headers=KEY
    )
    assert r.status_code == 201, r.json
    assert Decimal(r.json["total"]) == Decimal("66.31")


def test_the_line_amounts_are_optional_apart_from_the_total(ledger):
    lean = {"description": "Widget", "quantity": "3", "unit_price": "0.335", "tax_rate": "0.07", "total": "1.08"}
    r = ledger.post("/api/invoices", json=invoice([lean]), headers=KEY)  # 1.01 (1.005 half up) + 0.07
    assert r.status_code == 201, r.json


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"total": "35.82"}, "lines[0].total", "is 35.82, but 2 × 19.90 less 10 % at 19 % tax makes 42.63"),
        ({"net": "39.80"}, "lines[0].net", "makes 35.82"),  # the discount forgotten
        ({"tax": "6.80"}, "lines[0].tax", "makes 6.81"),  # rounded down
        ({"discount_percent": "0"}, "lines[0].net", "makes 39.80"),
        ({"unit_price": None}, "lines[0].unit_price", "required"),
        ({"tax_rate": "lots"}, "lines[0].tax_rate", "required, a number"),
        ({"quantity": "0"}, "lines[0].quantity", "must be positive"),
        ({"discount_percent": "120"}, "lines[0].discount_percent", "between 0 and 100"),
    ],
)
def test_a_line_that_does_not_add_up_is_refused_naming_the_field(ledger, changes, field, says):
    r = ledger.post("/api/invoices", json=invoice([line(**changes)]), headers=KEY)
    assert r.status_code == 422
    assert field in r.json["fields"], r.json
    assert says in r.json["fields"][field]
    assert ledger.get("/_stats").json["invoices"] == 0


@pytest.mark.parametrize(
    ("totals", "field", "says"),
    [
        ({"total": "35.82"}, "total", "is 35.82, but the lines make 42.63"),  # total = subtotal
        ({"subtotal": "42.63"}, "subtotal", "the lines make 35.82"),
        ({"tax_total": "0"}, "tax_total", "the lines make 6.81"),
        ({"total": "a lot"}, "total", "a number"),
    ],
)
def test_a_document_total_that_does_not_add_up_is_refused(ledger, totals, field, says):
    r = ledger.post("/api/invoices", json=invoice([line()], **totals), headers=KEY)
    assert (r.status_code, list(r.json["fields"])) == (422, [field])
    assert says in r.json["fields"][field]


def test_a_batch_with_one_wrong_invoice_books_none(ledger):
    good, bad = invoice([line()], total="42.63"), invoice([line()], reference="INV-000002", total="35.82")
    r = ledger.post("/api/invoices/batch", json={"invoices": [good, bad]}, headers=KEY)
    assert r.status_code == 422
    assert list(r.json["fields"]) == ["invoices[1].total"]
    assert ledger.get("/_stats").json["invoices"] == 0


def test_amounts_round_to_the_currencys_minor_unit(ledger):
    yen = line(unit_price="1999", discount_percent="0", tax_rate="0.1", net="3998", tax="400", total="4398")
    assert ledger.post("/api/invoices", json=invoice([yen], currency="JPY"), headers=KEY).status_code == 201
    r = ledger.post("/api/invoices", json=invoice([yen], currency="XYZ"), headers=KEY)
    assert (r.status_code, list(r.json["fields"])) == (422, ["currency"])

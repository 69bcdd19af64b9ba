"""Hostile values a probe sent to the running product, each once a 500: deep nesting, numbers
beyond any sense, a lone surrogate, amounts beyond what the board can add up, a 1C file name
beyond what a file system holds. Each must be a 4xx naming the field, and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.models import Customer, Deal


def _post(caller, path: str, body: str):
    return caller.post(path, data=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": ' + "[" * 5000 + "]" * 5000 + "}", None),  # RecursionError before
        ('{"name": "A", "notes": ' + "[" * 40 + "]" * 40 + "}", "notes"),
        ('{"name": 1' + "0" * 5000 + "}", "name"),  # ValueError (digit limit) before
        ('{"name": "A", "default_currency": 1e999999}', "default_currency"),
        ('{"name": "Bad \\ud800 name"}', "name"),  # failed in the database
    ],
    ids=["nested-5000", "nested-40", "digits-5000", "exponent", "lone-surrogate"],
)
def test_hostile_json_is_a_4xx_naming_the_field_and_writes_nothing(app, sales, body, field):
    r = _post(sales, "/api/v1/customers", body)
    assert 400 <= r.status_code < 500, r.get_data(as_text=True)[:300]
    if field is not None:
        assert any(name.startswith(field) for name in r.json["errors"]), r.json
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


@pytest.fixture
def customer(sales) -> int:
    return sales.post("/api/v1/customers", json={"name": "Big", "default_currency": "EUR"}).json["id"]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"description": "x", "quantity": "99999999999999", "unit_price": "1"}, "lines[0].quantity"),
        ({"description": "x", "quantity": "5", "unit_price": "99999999999999"}, "lines[0].unit_price"),
        ({"description": "x", "quantity": "999999999", "unit_price": "999999999999"}, "lines[0].quantity"),
    ],
    ids=["quantity", "price", "product"],
)
def test_amounts_beyond_the_documented_ranges_are_refused_by_name(app, sales, customer, line, field):
    r = sales.post("/api/v1/deals", json={"title": "Huge", "customer_id": customer, "lines": [line]})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert field in r.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_lines_that_add_up_beyond_a_deal_are_refused(app, sales, customer):
    line = {"description": "x", "quantity": "1000", "unit_price": "999999999"}
    r = sales.post("/api/v1/deals", json={"title": "Huge", "customer_id": customer, "lines": [line, line]})
    assert r.status_code == 422
    assert "lines" in r.json["errors"]
    # Within the ranges, the board adds it up.
    ok = sales.post("/api/v1/deals", json={"title": "Large", "customer_id": customer, "lines": [line]})
    assert ok.status_code == 201, ok.json
    assert sales.get("/board").status_code == 200


def test_a_1c_file_name_beyond_what_a_file_system_holds_is_refused(app):
    from hub.exchange.files import UploadRefused, safe_relative

    for name in ("a" * 5000 + ".xml", "/".join(["dir"] * 400) + "/x.xml", "ж" * 200 + ".xml"):
        with pytest.raises(UploadRefused, match="too long"):
            safe_relative(name)
    assert str(safe_relative("import_files/ab/photo.jpg")) == "import_files/ab/photo.jpg"


@pytest.mark.parametrize("quantity", ["1_000", "１２", "١٢", "12,5", " 1e3x"])
def test_a_quantity_in_other_digits_or_with_separators_is_refused_by_the_api(sales, customer, quantity):
    line = {"description": "x", "quantity": quantity, "unit_price": "1"}
    r = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer, "lines": [line]})
    assert r.status_code == 422
    assert "lines[0].quantity" in r.json["errors"]


def test_a_whole_number_field_refuses_a_fraction_instead_of_cutting_it(sales, customer):
    r = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer, "owner_id": 1.5})
    assert r.status_code == 422
    assert r.json["errors"]["owner_id"] == ["Must be a whole number."]


def test_skus_that_differ_only_in_case_are_one_sku(admin):
    body = {"sku": "PUMP-100", "name": "Pump", "list_price": "10", "currency": "EUR"}
    assert admin.post("/api/v1/products", json=body).status_code == 201
    r = admin.post("/api/v1/products", json={**body, "sku": "pump-100"})
    assert r.status_code == 409
    assert "sku" in r.json["errors"]


@pytest.mark.parametrize(
    ("setting", "value"), [("timeout", -1), ("timeout", 0), ("file_limit", 0), ("orders_per_query", -5)]
)
def test_connection_settings_out_of_their_range_are_refused_by_name(admin, setting, value):
    kind = "mini_ledger" if setting == "timeout" else "onec_exchange"
    config = (
        {"base_url": "http://ledger.example", "api_key": "k-1234"}
        if kind == "mini_ledger"
        else {"username": "u", "password": "p-1234"}
    )
    r = admin.post("/api/v1/connections", json={"name": "C", "type": kind, "config": {**config, setting: value}})
    assert r.status_code == 422
    assert f"config.{setting}" in r.json["errors"]

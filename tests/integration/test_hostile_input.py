"""Hostile values a probe sent to the running product, each once a 500: deep nesting, numbers
beyond any sense, a lone surrogate, amounts beyond what the board can add up, a 1C file name
beyond what a file system holds. Each must be a 4xx naming the field, and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.models import Activity, Customer, Deal


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


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"],
    ids=["before-year-1-in-utc", "after-year-9999-in-utc"],
)
def test_a_time_whose_utc_falls_outside_the_calendar_is_refused_by_name(app, sales, admin, customer, moment):
    # Valid with its offset, beyond what a datetime holds in UTC: an OverflowError at the insert.
    body = {"kind": "call", "subject": "Called", "customer_id": customer, "occurred_at": moment}
    r = sales.post("/api/v1/activities", json=body)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert r.json["errors"] == {"occurred_at": ["Out of range: in UTC, a time from year 1 to 9999."]}
    r = admin.post("/api/v1/alerts/1/snooze", json={"until": moment})
    assert r.status_code == 422
    assert "until" in r.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 0


@pytest.mark.parametrize(
    "stage", [True, "²", "9" * 5000, 1.0, {"id": 1}], ids=["true", "superscript", "5000-digits", "float", "object"]
)
def test_a_stage_that_is_no_name_or_id_is_refused_by_name(app, sales, customer, stage):
    # true was stage 1 (True == 1), "²" and 5,000 digits a ValueError of int(): a 500.
    r = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer, "stage": stage})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert list(r.json["errors"]) == ["stage"]
    deal = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer, "stage": "Qualified"}).json
    r = sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": stage})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert list(r.json["errors"]) == ["stage"]
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["stage"]["name"] == "Qualified"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 1


@pytest.mark.parametrize("number", ["²", "9" * 30, "9" * 5000], ids=["superscript", "beyond-integer", "5000-digits"])
def test_ids_and_pages_typed_into_the_pages_are_never_a_server_error(app, users, sales, customer, number):
    """Each was int() of what str.isdigit passed (² is a digit to it): a ValueError, or an id beyond
    the database's integer."""
    from tests.support.sessions import csrf_token, logged_in

    deal = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer}).json
    client = logged_in(app, users["admin"]["email"])
    for path in (f"/board?owner={number}", f"/invoices?page={number}", f"/stock/rules?edit={number}"):
        assert client.get(path).status_code == 200, path
    token = csrf_token(client, "/board")
    forms = [
        (f"/deals/{deal['id']}/move", {"stage_id": number}),
        ("/reconciliations", {"connection_id": number, "from": "2026-01-01", "to": "2026-01-31"}),
        ("/admin/connections/new", {"type": "onec_exchange", "name": "1C", "config.file_limit": number, "save": "1"}),
    ]
    for path, form in forms:
        r = client.post(path, data={**form, "csrf_token": token})
        assert r.status_code < 500, (path, r.status_code)
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["stage"]["name"] == "New"

"""Names in Cyrillic and Bengali (and both at once) are found whatever their case, sorted by the
database's best collation, and kept whole by the CSV downloads."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from tests.support.invoice_pdf import win
from tests.support.sessions import logged_in

NAMES = ("Иванов Пётр", "ИВАНОВА Анна", "রবীন্দ্রনাথ ঠাকুর", "Acme ООО রহিম", "Smith & Sons")


@pytest.fixture
def customers(sales) -> dict[str, int]:
    made = {}
    for name in NAMES:
        r = sales.post("/api/v1/customers", json={"name": name, "email": None})
        assert r.status_code == 201, r.json
        made[name] = r.json["id"]
    return made


def found(caller, path: str, q: str) -> set[str]:
    r = caller.get(path, query_string={"q": q, "per_page": 100})
    assert r.status_code == 200, r.json
    return {item["name"] for item in r.json["items"]}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("иванов", {"Иванов Пётр", "ИВАНОВА Анна"}),  # SQLite's own LIKE finds neither
        ("ИВАНОВ", {"Иванов Пётр", "ИВАНОВА Анна"}),
        ("пётр", {"Иванов Пётр"}),
        ("ঠাকুর", {"রবীন্দ্রনাথ ঠাকুর"}),
        ("ооо রহিম", {"Acme ООО রহিম"}),
        ("ACME", {"Acme ООО রহিম"}),
        ("%", set()),  # LIKE's wildcards are taken literally
        ("&", {"Smith & Sons"}),
    ],
)
def test_search_is_case_insensitive_in_every_script(sales, customers, q, expected):
    assert found(sales, "/api/v1/customers", q) == expected


def test_the_search_page_and_the_contacts_find_cyrillic_in_any_case(app, users, sales, customers):
    contact = {"customer_id": customers["Smith & Sons"], "name": "Ёлкина Мария"}
    assert sales.post("/api/v1/contacts", json=contact).status_code == 201
    assert found(sales, "/api/v1/contacts", "ёлкина") == {"Ёлкина Мария"}

    page = logged_in(app, users["sales"]["email"]).get("/search", query_string={"q": "иванова"})
    text = page.get_data(as_text=True)
    assert "ИВАНОВА Анна" in text
    assert "Иванов Пётр" not in text
    page = logged_in(app, users["sales"]["email"]).get("/customers", query_string={"q": "пётр"})
    assert "Иванов Пётр" in page.get_data(as_text=True)


def test_finance_finds_invoices_by_a_name_in_any_case(app, sales, admin, call):
    win(sales, admin, {"name": "Иванов Пётр"}, "Стул")
    win(sales, admin, {"name": "রবীন্দ্রনাথ ঠাকুর"}, "চেয়ার")
    finance = call("finance")
    listed = finance.get("/api/v1/invoices", query_string={"q": "иванов"}).json["items"]
    assert [i["customer_name"] for i in listed] == ["Иванов Пётр"]
    listed = finance.get("/api/v1/invoices", query_string={"q": "ঠাকুর"}).json["items"]
    assert [i["customer_name"] for i in listed] == ["রবীন্দ্রনাথ ঠাকুর"]


SORTED = ("apple", "Banana", "ёлка", "жук", "Яблоко", "আম")


def test_names_sort_by_the_unicode_collation_on_postgresql_and_by_code_point_on_sqlite(app, sales):
    for name in reversed(SORTED):
        assert sales.post("/api/v1/customers", json={"name": name}).status_code == 201
    listed = [c["name"] for c in sales.get("/api/v1/customers?sort=name&per_page=100").json["items"]]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # ICU's root collation (migration 0023): case second, "ё" beside "е", scripts in turn.
        assert listed == list(SORTED)
    else:
        # SQLite has no locale collation: code points, as docs/operations.md says.
        assert listed == ["Banana", "apple", "Яблоко", "жук", "ёлка", "আম"]


def test_the_invoice_csv_is_utf8_with_a_bom_and_keeps_every_name(app, sales, admin, call):
    names = ("Иванов Пётр", "রবীন্দ্রনাথ ঠাকুর", "Acme ООО রহিম")
    for name in names:
        win(sales, admin, {"name": name}, "Line")

    data = call("finance").get("/invoices.csv").data

    assert data.startswith(codecs.BOM_UTF8)  # Excel reads UTF-8 only with it
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert sorted(r["customer"] for r in rows) == sorted(names)

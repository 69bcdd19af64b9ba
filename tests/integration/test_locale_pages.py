"""Numbers, money and dates on real pages in the browser's language (Accept-Language): shown as
en, ru and bn write them, and typed into real forms the same way: "12,50" is 12.50 in Russian,
"১২.৫০" in Bengali; what could mean two numbers is refused next to its field and nothing is written.
The JSON API stays canonical whatever the header says."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.support.sessions import logged_in

LANGUAGE = {"en": "en-US,en;q=0.9", "ru": "ru-RU,ru;q=0.9,en;q=0.8", "bn": "bn-BD,bn;q=0.9"}


def browser(app, users, role: str, language: str):
    """A logged-in test client whose every request says the language, as a browser does."""
    client = logged_in(app, users[role]["email"])
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = LANGUAGE[language]
    return client


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def customer(sales):
    return sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json


@pytest.fixture
def deal(sales, customer):
    body = {
        "title": "Bolts",
        "customer_id": customer["id"],
        "expected_close_date": "2031-02-03",
        "lines": [{"description": "Bolt", "quantity": "1234.5", "unit_price": "2.00", "tax_rate": "0"}],
    }
    r = sales.post("/api/v1/deals", json=body)
    assert r.status_code == 201, r.json
    return r.json


@pytest.mark.parametrize(
    ("language", "lang", "total", "quantity", "closes"),
    [
        ("en", "en", "€2,469.00", "1,234.5", "2031-02-03"),
        ("ru", "ru", "2\xa0469,00\xa0€", "1\xa0234,5", "03.02.2031"),
        ("bn", "bn", "2,469.00€", "1,234.5", "3/2/2031"),
    ],
)
def test_the_deal_page_shows_money_quantities_and_dates_in_the_browsers_language(
    app, users, deal, language, lang, total, quantity, closes
):
    page = browser(app, users, "sales", language).get(f"/deals/{deal['id']}").get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert f'data-testid="deal-total">{total}<' in page
    assert f'<td class="num">{quantity}</td>' in page
    assert f" {closes}</p>" in page  # "expected close …", in the page's language


@pytest.mark.parametrize("language", ["en", "ru", "bn"])
def test_the_log_in_page_says_its_language(app, language):
    page = app.test_client().get("/login", headers={"Accept-Language": LANGUAGE[language]}).get_data(as_text=True)
    assert f'<html lang="{language}">' in page


def test_a_language_the_hub_does_not_speak_falls_back_to_english(app, users, deal):
    client = logged_in(app, users["sales"]["email"])
    page = client.get(f"/deals/{deal['id']}", headers={"Accept-Language": "de-DE,fr;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert 'data-testid="deal-total">€2,469.00<' in page


def new_deal_form(client, customer, **line: str) -> dict[str, str]:
    form = {"csrf_token": csrf(client, "/deals/new"), "title": "Nuts", "customer_id": str(customer["id"])}
    return form | {f"lines[0].{k}": v for k, v in ({"description": "Nut", "tax_rate": "0"} | line).items()}


def deal_count(sales) -> int:
    return sales.get("/api/v1/deals").json["total"]


@pytest.mark.parametrize(
    ("language", "quantity", "price", "discount", "expected"),
    [
        ("ru", "12,50", "1 234,5", "2,5", ("12.5", "1234.5", "2.5")),
        ("ru", "3", "1\xa0234,50", "0", ("3", "1234.5", "0")),
        ("ru", "12.50", "0,75", "0", ("12.5", "0.75", "0")),  # a point, where it cannot be thousands
        ("bn", "১২.৫০", "১,২৩৪.৫", "২.৫", ("12.5", "1234.5", "2.5")),
        ("bn", "12.50", "1,234.5", "0", ("12.5", "1234.5", "0")),
        ("en", "12.50", "1,234.50", "2.5", ("12.5", "1234.5", "2.5")),
    ],
)
def test_a_deal_line_typed_as_the_language_writes_numbers_is_saved_exactly(
    app, users, sales, customer, language, quantity, price, discount, expected
):
    client = browser(app, users, "sales", language)
    form = new_deal_form(client, customer, quantity=quantity, unit_price=price, discount_percent=discount)
    r = client.post("/deals/new", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    deal_id = int(r.headers["Location"].rsplit("/", 1)[1])
    (line,) = sales.get(f"/api/v1/deals/{deal_id}").json["lines"]
    assert tuple(Decimal(line[k]) for k in ("quantity", "unit_price", "discount_percent")) == tuple(
        map(Decimal, expected)
    )


# What each refusal must say, in words that stay when the messages are translated: the text as
# typed, and the readings it could have or the number as the language writes it (1,234.5 · 1 234,5).
@pytest.mark.parametrize(
    ("language", "field", "typed", "says"),
    [
        ("ru", "quantity", "1.234", ("1\xa0234", "1,234")),
        ("ru", "unit_price", "1.234,5", ("1\xa0234,5",)),
        ("ru", "discount_percent", "2,5,0", ("1\xa0234,5",)),
        ("ru", "quantity", "двенадцать", ("1\xa0234,5",)),
        ("en", "quantity", "12,50", ("is not grouped in thousands", "1,234.5")),
        ("en", "unit_price", "1.234,5", ("mixes a point and a comma", "1,234.5")),
        ("bn", "quantity", "১2", ("1,234.5",)),
    ],
)
def test_ambiguous_or_malformed_numbers_are_refused_next_to_their_field_and_nothing_is_written(
    app, users, sales, customer, language, field, typed, says
):
    client = browser(app, users, "sales", language)
    line = {"quantity": "2", "unit_price": "3"} | {field: typed}
    before = deal_count(sales)
    r = client.post("/deals/new", data=new_deal_form(client, customer, **line))
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    message = re.search(rf'<p class="field-error" id="err-lines-0-{field}">([^<]*)</p>', page)
    assert message is not None, page
    assert all(part in message.group(1) for part in (typed, *says)), message.group(1)
    assert "Not a valid number" not in page
    assert f'id="f-lines-0-{field}" name="lines[0].{field}" inputmode="decimal" size="8" value="{typed}"' in page
    assert deal_count(sales) == before


def test_a_refused_number_is_named_beside_the_schemas_own_errors(app, users, sales, customer):
    """Every problem of the post at once: the form's blank title and the line's ambiguous quantity."""
    client = browser(app, users, "sales", "ru")
    form = new_deal_form(client, customer, quantity="1.234", unit_price="abc") | {"title": ""}
    page = client.post("/deals/new", data=form).get_data(as_text=True)
    assert 'id="err-title"' in page
    assert re.search(r'id="err-lines-0-quantity">[^<]*1\.234[^<]*1\xa0234', page)
    assert re.search(r'id="err-lines-0-unit_price">[^<]*abc', page)


def test_the_edit_form_shows_numbers_the_languages_way_and_saves_them_back_unchanged(app, users, sales, deal):
    client = browser(app, users, "sales", "ru")
    page = client.get(f"/deals/{deal['id']}/edit").get_data(as_text=True)
    assert 'name="lines[0].quantity" inputmode="decimal" size="8" value="1234,5"' in page
    form = dict(re.findall(r'name="((?:lines\[\d+\]\.)?\w+)"[^>]*value="([^"]*)"', page))
    form |= {"lines[0].product_id": "", "contact_id": "", "owner_id": str(users["sales"]["id"])}
    r = client.post(f"/deals/{deal['id']}/edit", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    (line,) = sales.get(f"/api/v1/deals/{deal['id']}").json["lines"]
    assert (Decimal(line["quantity"]), Decimal(line["unit_price"])) == (Decimal("1234.5"), Decimal("2"))


def test_a_date_typed_as_the_language_writes_it_is_read(app, users, sales, deal):
    """A date field is a date picker sending ISO; typed by hand (no picker), ru's 09.03.2031 is read."""
    client = browser(app, users, "sales", "ru")
    token = csrf(client, f"/deals/{deal['id']}")
    r = client.post(f"/deals/{deal['id']}/tasks", data={"csrf_token": token, "title": "Call", "due_date": "09.03.2031"})
    assert r.status_code == 302, r.get_data(as_text=True)
    (task,) = sales.get(f"/api/v1/tasks?deal_id={deal['id']}").json["items"]
    assert task["due_date"] == "2031-03-09"
    r = client.post(f"/deals/{deal['id']}/tasks", data={"csrf_token": token, "title": "Call", "due_date": "31.02.2031"})
    assert r.status_code == 422
    assert re.search(
        r'<p class="field-error" id="err-task-due_date">[^<]*31\.02\.2031[^<]*09\.03\.2026', r.get_data(as_text=True)
    )


def test_a_reorder_rule_typed_in_russian_is_saved_exactly(app, users, call, admin):
    product = admin.post(
        "/api/v1/products", json={"sku": "BOLT", "name": "Bolt", "list_price": "1.00", "currency": "EUR"}
    ).json
    client = browser(app, users, "operations", "ru")
    form = {
        "csrf_token": csrf(client, "/stock/rules"),
        "product_id": str(product["id"]),
        "reorder_point": "2,5",
        "target_level": "1 000",
        "margin": "0,25",
    }
    r = client.post("/stock/rules", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    (rule,) = call("operations").get("/api/v1/reorder-rules").json["items"]
    assert (rule["reorder_point"], rule["target_level"], rule["margin"]) == ("2.5000", "1000.0000", "0.2500")
    page = client.get("/stock/rules").get_data(as_text=True)
    assert '<td class="num">2,5</td><td class="num">1\xa0000</td><td class="num">0,25</td>' in page


def test_the_api_stays_canonical_whatever_the_language(sales, customer):
    headers = {"Accept-Language": "ru"}
    line = {"description": "Nut", "quantity": "12,50", "unit_price": "1"}
    r = sales.post(
        "/api/v1/deals", json={"title": "Nuts", "customer_id": customer["id"], "lines": [line]}, headers=headers
    )
    # Refused under its field whatever the language; the message, not the rule, is in Russian.
    assert r.status_code == 422
    assert r.json["errors"] == {
        "lines[0].quantity": ["Неверное число: цифры 0–9 и точка перед дробной частью, например 1234.50."]
    }
    line["quantity"] = "12.50"
    r = sales.post(
        "/api/v1/deals", json={"title": "Nuts", "customer_id": customer["id"], "lines": [line]}, headers=headers
    )
    assert r.status_code == 201
    assert r.json["lines"][0]["quantity"] == "12.5000"
    assert r.json["total"] == "12.50"  # 12.5 × 1, no tax: a point, no grouping

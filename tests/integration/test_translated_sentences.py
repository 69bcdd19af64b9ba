"""What the hub wrote down with names and figures in it is read in the reader's language: a parked
push's reason and a low-stock alert's explanation (kept as template and values since 0025), the
schemas' messages with numbers, the connectors' setting labels and the users service's messages.
Pages follow the user's language, the API Accept-Language; the API's default stays English."""

from __future__ import annotations

import email as email_parser
import html
import re
from email import policy as email_policy

import pytest
from sqlalchemy import select, update

from connectors.errors import PermanentError
from connectors.mini_ledger import MiniLedgerConnector
from hub.auth import refusal
from hub.extensions import db
from hub.models import Connection, InvoiceNotice, Role, StockAlert
from hub.permissions import POLICY, RESOURCE_NAMES
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.alert_delivery import channel
from tests.support.sessions import BN, RU, logged_in, page_text
from tests.support.stock import pull, rule, set_stock

NBSP = "\xa0"
# The hub's total of the deal below (1 × 1234.50 EUR, no tax), in each language's words and numbers.
TOTAL_REFUSED = {
    "en": "Ledger works out a different total than the hub's €1,234.50, so the invoice was not booked there.",
    "ru": f"Ledger получает другой итог, чем у хаба (1{NBSP}234,50{NBSP}€), поэтому счёт там не проведён.",
    "bn": "Ledger হাবের 1,234.50€ থেকে ভিন্ন মোট হিসাব করে, তাই সেখানে ইনভয়েসটি নথিভুক্ত হয়নি।",
}


# ---- a parked push's reason ------------------------------------------------------------------


@pytest.fixture
def total_refused(app, sales, admin, connection, monkeypatch) -> dict:
    """A won deal whose invoice the ledger refused over its total: the push is parked."""

    def refuse(self, doc):
        raise PermanentError("the total differs", field="total")

    monkeypatch.setattr(MiniLedgerConnector, "push_invoice", refuse)
    r = admin.post(
        "/api/v1/products",
        json={"sku": "BIG-1", "name": "Big", "list_price": "1234.50", "currency": "EUR", "tax_rate": "0"},
    )
    assert r.status_code == 201, r.json
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH"}).json
    lines = [{"sku": "BIG-1", "quantity": 1}]
    deal = sales.post("/api/v1/deals", json={"title": "Big", "customer_id": customer["id"], "lines": lines}).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    drain(app)
    return won.json


def test_a_parked_reason_is_stored_as_its_template_and_values(app, total_refused):
    with app.app_context():
        (notice,) = db.session.scalars(select(InvoiceNotice))
        assert notice.reason == TOTAL_REFUSED["en"]  # the English, for readers of the column
        assert notice.reason_message == {
            "id": "%(target)s works out a different total than the hub's %(total)s, "
            "so the invoice was not booked there.",
            "params": {"target": "Ledger", "total": {"type": "money", "value": "1234.50", "currency": "EUR"}},
        }


def test_the_api_says_a_parked_reason_in_the_language_asked_for(sales, total_refused):
    deal_id = total_refused["id"]
    for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
        (notice,) = sales.get("/api/v1/notices", headers=headers).json
        assert notice["reason"] == TOTAL_REFUSED[code]
        (invoice,) = sales.get(f"/api/v1/deals/{deal_id}", headers=headers).json["invoices"]
        assert invoice["problems"][0]["reason"] == TOTAL_REFUSED[code]
        assert invoice["problems"][0]["ask"] == "finance"  # the machine code stays


@pytest.mark.parametrize("code", ["ru", "bn"])
def test_the_pages_say_a_parked_reason_in_the_users_language(app, users, total_refused, code):
    client = logged_in(app, users["sales"]["email"], code)
    assert TOTAL_REFUSED[code] in page_text(client.get("/notices"))
    assert TOTAL_REFUSED[code] in page_text(client.get(f"/deals/{total_refused['id']}"))
    finance = logged_in(app, users["finance"]["email"], code)
    invoice_id = total_refused["invoices"][0]["id"]
    page = page_text(finance.get(f"/invoices/{invoice_id}"))
    assert TOTAL_REFUSED[code] in page
    assert TOTAL_REFUSED["en"] not in page


def test_a_notice_written_before_0025_shows_its_stored_text(app, users, sales, total_refused):
    with app.app_context():
        db.session.execute(update(InvoiceNotice).values(reason="Ledger refused it (old words).", reason_message=None))
        db.session.commit()
    (notice,) = sales.get("/api/v1/notices", headers=RU).json
    assert notice["reason"] == "Ledger refused it (old words)."
    client = logged_in(app, users["sales"]["email"], "ru")
    assert "Ledger refused it (old words)." in page_text(client.get("/notices"))


# ---- a low-stock alert's explanation ---------------------------------------------------------


@pytest.fixture
def alert(app, call, admin, ledger, connection) -> dict:
    pump = admin.post("/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "1", "currency": "EUR"})
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 1500.5, "reserved": 0.25})
    rule(call, pump.json["id"], 2000, 3000)
    pull(call, connection)
    drain(app)
    (alert,) = call("operations").get("/api/v1/alerts").json["items"]
    return alert


EXPLAINED = {
    "en": "on hand 1,500.5, reserved 0.25 → projected 1,500.25 < reorder point 2,000; stock as of ",
    "ru": f"в наличии 1{NBSP}500,5, в резерве 0,25 → прогноз 1{NBSP}500,25 < точка дозаказа 2{NBSP}000; остатки на ",
    "bn": "হাতে আছে 1,500.5, সংরক্ষিত 0.25 → সম্ভাব্য 1,500.25 < পুনঃঅর্ডার সীমা 2,000; স্টক ",
}


def test_the_api_says_an_alerts_explanation_in_the_language_asked_for(app, call, alert):
    assert alert["explanation"].startswith(EXPLAINED["en"])
    for code, headers in (("ru", RU), ("bn", BN)):
        (said,) = call("operations").get("/api/v1/alerts", headers=headers).json["items"]
        assert said["explanation"].startswith(EXPLAINED[code])
        assert said["explanation"].endswith({"ru": "UTC из Ledger", "bn": "UTC অনুযায়ী, উৎস Ledger"}[code])
        assert said["state"] == "open"  # the machine code stays
        detail = call("operations").get(f"/api/v1/alerts/{alert['id']}", headers=headers).json
        assert detail["explanation"] == said["explanation"]
    with app.app_context():
        (row,) = db.session.scalars(select(StockAlert))
        assert row.explanation == alert["explanation"]  # the English, for the webhook and the column
        assert row.explanation_message is not None


@pytest.mark.parametrize("code", ["ru", "bn"])
def test_the_alerts_page_says_the_explanation_in_the_users_language(app, users, alert, code):
    client = logged_in(app, users["operations"]["email"], code)
    page = page_text(client.get("/alerts"))
    assert html.escape(EXPLAINED[code], quote=False) in page
    assert html.escape(EXPLAINED["en"], quote=False) not in page


def test_an_alert_evaluated_before_0025_shows_its_stored_text(app, call, alert):
    with app.app_context():
        db.session.execute(update(StockAlert).values(explanation="on hand 3 (old words)", explanation_message=None))
        db.session.commit()
    (said,) = call("operations").get("/api/v1/alerts", headers=RU).json["items"]
    assert said["explanation"] == "on hand 3 (old words)"


def test_an_alert_email_is_in_the_instances_language_and_the_webhook_in_english(
    app, call, admin, ledger, connection, smtp, monkeypatch
):
    controller, mailbox = smtp
    monkeypatch.setitem(app.config, "HUB_DEFAULT_LOCALE", "ru")
    config = {"host": "127.0.0.1", "port": controller.port, "sender": "hub@x.example", "recipients": ["o@x.example"]}
    channel(admin, name="Ops mail", kind="email", config=config)
    pump = admin.post("/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "1", "currency": "EUR"})
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 1200, "reserved": 0})
    rule(call, pump.json["id"], 1500, 3000)
    pull(call, connection)
    drain(app)
    (raw,) = mailbox.messages
    body = email_parser.message_from_bytes(raw, policy=email_policy.default).get_content()
    assert f"в наличии 1{NBSP}200, в резерве 0 → прогноз 1{NBSP}200 < точка дозаказа 1{NBSP}500" in body


# ---- the schemas' messages with numbers --------------------------------------------------------


def test_the_api_says_marshmallows_range_and_length_errors_in_the_language_asked_for(sales):
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH"}).json
    body = {"title": "T", "customer_id": customer["id"], "probability": 150}
    expected = {
        "en": "Must be greater than or equal to 0 and less than or equal to 100.",
        "ru": "Должно быть не меньше 0 и не больше 100.",
        "bn": "0-এর সমান বা বড় এবং 100-এর সমান বা ছোট হতে হবে।",
    }
    for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
        r = sales.post("/api/v1/deals", json=body, headers=headers)
        assert r.status_code == 422
        assert r.json["code"] == "validation_error"
        assert r.json["errors"]["probability"] == [expected[code]]
    deal = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer["id"]}).json
    long = {"reason": "x" * 2001}
    r = sales.post(f"/api/v1/deals/{deal['id']}/lost", json=long, headers=RU)
    assert r.json["errors"]["reason"] == [f"Длина должна быть от 1 до 2{NBSP}000."]
    r = sales.post(f"/api/v1/deals/{deal['id']}/lost", json=long)
    assert r.json["errors"]["reason"] == ["Length must be between 1 and 2000."]


@pytest.mark.parametrize(
    ("code", "at_least", "places"),
    [
        ("ru", "Должно быть не меньше 0.", "Не более 4 знаков после запятой."),
        ("bn", "কমপক্ষে 0 হতে হবে।", "দশমিকের পরে সর্বোচ্চ 4টি অঙ্ক।"),
    ],
)
def test_a_form_says_the_amounts_range_and_places_in_the_users_language(app, users, admin, code, at_least, places):
    product = admin.post("/api/v1/products", json={"sku": "P-1", "name": "P", "list_price": "1", "currency": "EUR"})
    client = logged_in(app, users["operations"]["email"], code)
    page = page_text(client.get("/stock/rules"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"product_id": product.json["id"], "reorder_point": "-1", "target_level": "1.23456", "csrf_token": token}
    page = page_text(client.post("/stock/rules", data=form))
    assert f'id="err-reorder_point">{at_least}</p>' in page
    assert f'id="err-target_level">{places}</p>' in page


# ---- the connectors' setting labels ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "label", "help_text"),
    [
        ("ru", "URL сервера", "например, https://erp.example.com"),
        ("bn", "সার্ভারের URL", "যেমন https://erp.example.com"),
    ],
)
def test_the_connection_form_shows_the_connectors_labels_in_the_users_language(app, users, code, label, help_text):
    client = logged_in(app, users["admin"]["email"], code)
    page = page_text(client.get("/admin/connections/new?type=odoo"))
    assert f'<label for="f-config-url">{label}</label>' in page
    assert help_text in page
    assert "Server URL" not in page
    assert "Timeout (seconds)" not in page


def test_the_connection_form_says_what_is_wrong_with_a_setting_in_the_users_language(app, users):
    client = logged_in(app, users["admin"]["email"], "ru")
    page = page_text(client.get("/admin/connections/new?type=odoo"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "type": "odoo", "name": "Odoo", "config.timeout": "0", "save": "1"}
    page = page_text(client.post("/admin/connections/new", data=form))
    assert 'id="err-config-url">обязательно</p>' in page
    assert 'id="err-config-timeout">больше 0</p>' in page


# ---- the users service's messages -----------------------------------------------------------------


def test_the_users_service_says_its_messages_in_the_language_asked_for(admin, users):
    taken = {"email": users["sales"]["email"], "name": "Twin", "role": "sales", "password": "long enough pw"}
    expected = {
        "en": "A user with e-mail sales@example.com exists already.",
        "ru": "Пользователь с e-mail sales@example.com уже есть.",
        "bn": "sales@example.com ই-মেইলের একজন ব্যবহারকারী আগে থেকেই আছেন।",
    }
    used = {"en": "Already used.", "ru": "Уже используется.", "bn": "ইতিমধ্যে ব্যবহৃত।"}
    no_token = {"en": "No token with id 99999.", "ru": "Нет токена с id 99999.", "bn": "99999 আইডির কোনো টোকেন নেই।"}
    for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
        r = admin.post("/api/v1/users", json=taken, headers=headers)
        assert (r.status_code, r.json["code"]) == (409, "conflict")
        assert r.json["message"] == expected[code]
        assert r.json["errors"] == {"email": [used[code]]}
        r = admin.delete("/api/v1/tokens/99999", headers=headers)
        assert (r.status_code, r.json["message"]) == (404, no_token[code])


def test_the_mapping_store_says_what_is_missing_in_the_language_asked_for(app, admin, ledger):
    connection_id = make_connection(
        app, "Ledger", "mini_ledger", {"base_url": ledger.url, "api_key": "k", "timeout": 2}
    )
    expected = {
        "en": "Connection 'Ledger' has no mapping version 42.",
        "ru": "У подключения 'Ledger' нет версии сопоставления 42.",
        "bn": "সংযোগ 'Ledger'-এর ম্যাপিং সংস্করণ 42 নেই।",
    }
    for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
        r = admin.get(f"/api/v1/connections/{connection_id}/mapping/versions/42", headers=headers)
        assert (r.status_code, r.json["message"]) == (404, expected[code])


def test_a_refused_role_is_told_so_in_the_language_asked_for(app, sales):
    expected = {
        "en": ("The sales role may not read users.", "The sales role may not write deal invoices."),
        "ru": (
            "Роль продажи не может просматривать раздел: пользователи.",
            "Роль продажи не может изменять раздел: счета сделок.",
        ),
        "bn": ("বিক্রয় ভূমিকা ব্যবহারকারী দেখতে পারে না।", "বিক্রয় ভূমিকা ডিলের ইনভয়েস বদলাতে পারে না।"),
    }
    for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
        r = sales.get("/api/v1/users", headers=headers)
        assert (r.status_code, r.json["code"], r.json["message"]) == (403, "forbidden", expected[code][0])
    with app.test_request_context(headers=RU):
        assert refusal(Role.SALES, "deal_invoices", "write") == expected["ru"][1]


def test_a_record_not_found_is_named_in_the_language_asked_for(call):
    finance = call("finance")
    expected = {
        "en": "No invoice with id 424242.",
        "ru": "Не найдено: счёт с id 424242.",
        "bn": "424242 আইডির কোনো ইনভয়েস নেই।",
    }
    for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
        r = finance.get("/api/v1/invoices/424242", headers=headers)
        assert (r.status_code, r.json["message"]) == (404, expected[code])


def test_a_deals_limits_and_missing_records_are_said_in_the_language_asked_for(sales):
    customer = sales.post("/api/v1/customers", json={"name": "Ветер"}).json
    million = {"description": "Bulk", "quantity": "1000000", "unit_price": "1000001"}
    body = {"title": "D", "customer_id": customer["id"], "lines": [million]}
    expected = {
        "ru": {
            "lines[0].quantity": [
                f"Количество × цена за единицу = 1{NBSP}000{NBSP}001{NBSP}000{NBSP}000,00; "
                f"строка может быть не больше 1{NBSP}000{NBSP}000{NBSP}000{NBSP}000."
            ],
        },
        "bn": {
            "lines[0].quantity": [
                "পরিমাণ × একক মূল্য = 10,00,00,10,00,000.00; একটি লাইন সর্বোচ্চ 10,00,00,00,00,000 হতে পারে।"
            ],
        },
    }
    for code, headers in (("ru", RU), ("bn", BN)):
        r = sales.post("/api/v1/deals", json=body, headers=headers)
        assert (r.status_code, r.json["errors"]) == (422, expected[code])
    missing = {"ru": "Нет контакта с id 424242.", "bn": "424242 আইডির কোনো যোগাযোগ নেই।"}
    for code, headers in (("ru", RU), ("bn", BN)):
        r = sales.post("/api/v1/deals", json={**body, "lines": [], "contact_id": 424242}, headers=headers)
        assert (r.status_code, r.json["errors"]) == (422, {"contact_id": [missing[code]]})


def test_every_resource_has_a_name_to_be_refused_by():
    assert set(RESOURCE_NAMES) == set(POLICY)


# ---- what an admin must know of a connection -------------------------------------------------------


def test_a_connections_attention_is_said_in_the_readers_language(app, users, sales, admin, ledger):
    connection_id = make_connection(
        app, "Ledger", "mini_ledger", {"base_url": ledger.url, "api_key": "not-the-key", "timeout": 2}
    )
    admin.post("/api/v1/products", json={"sku": "W-1", "name": "Widget", "list_price": "19.90", "currency": "EUR"})
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH"}).json
    lines = [{"sku": "W-1", "quantity": 1}]
    deal = sales.post("/api/v1/deals", json={"title": "W", "customer_id": customer["id"], "lines": lines}).json
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200
    drain(app)
    said = {
        code: admin.get(f"/api/v1/connections/{connection_id}", headers=headers).json["attention"]
        for code, headers in (("en", {}), ("ru", RU), ("bn", BN))
    }
    assert said["en"].startswith("The target refused the credentials: ")
    target_words = said["en"].removeprefix("The target refused the credentials: ")
    assert said["ru"] == f"Целевая система отклонила учётные данные: {target_words}"
    assert said["bn"] == f"লক্ষ্য সিস্টেম পরিচয়পত্র প্রত্যাখ্যান করেছে: {target_words}"
    client = logged_in(app, users["admin"]["email"], "ru")
    assert "Целевая система отклонила учётные данные: " in page_text(client.get("/admin/connections"))
    # Text set without its sentence (a row from before 0025) is shown as it is.
    with app.app_context():
        db.session.execute(update(Connection).values(attention="Look at the ledger (old words)."))
        db.session.commit()
    assert admin.get(f"/api/v1/connections/{connection_id}", headers=RU).json["attention"] == (
        "Look at the ledger (old words)."
    )


def test_the_services_count_in_the_language_asked_for(sales, admin):
    """A conflict with a number in it takes the plural form of its language."""
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH"}).json
    said = {}
    for count in (1, 2, 5):
        while len(sales.get(f"/api/v1/deals?customer_id={customer['id']}").json["items"]) < count:
            sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"]})
        for code, headers in (("en", {}), ("ru", RU), ("bn", BN)):
            r = admin.delete(f"/api/v1/customers/{customer['id']}", headers=headers)
            assert (r.status_code, r.json["code"]) == (409, "conflict")
            said[code, count] = r.json["message"]
    id_ = customer["id"]
    assert said["en", 1] == f"Customer {id_} has 1 deal; delete or reassign it first."
    assert said["en", 2] == f"Customer {id_} has 2 deals; delete or reassign them first."
    assert said["ru", 1] == f"У клиента {id_} 1 сделка; сначала удалите или переназначьте её."
    assert said["ru", 2] == f"У клиента {id_} 2 сделки; сначала удалите или переназначьте их."
    assert said["ru", 5] == f"У клиента {id_} 5 сделок; сначала удалите или переназначьте их."
    assert said["bn", 2] == f"গ্রাহক {id_}-এর 2টি ডিল আছে; আগে সেগুলো মুছুন বা অন্যকে দিন।"
    r = sales.get("/api/v1/deals/999999", headers=RU)
    assert (r.status_code, r.json["message"]) == (404, "Нет сделки с id 999999.")


def test_a_refused_period_names_its_date_as_the_reader_writes_it(call, connection):
    body = {"from": "2026-03-09", "to": "2026-03-01"}
    said = {
        code: call("finance").post(f"/api/v1/connections/{connection}/reconciliations", json=body, headers=headers)
        for code, headers in (("en", {}), ("ru", RU), ("bn", BN))
    }
    assert said["en"].json["errors"]["to"] == ["Must be on or after from (2026-03-09)."]
    assert said["ru"].json["errors"]["to"] == ["Должно быть не раньше начала периода (09.03.2026)."]
    assert said["bn"].json["errors"]["to"] == ["শুরুর তারিখের (9/3/2026) দিন বা তার পরে হতে হবে।"]


def test_a_deal_lines_unknown_product_is_named_in_the_language_asked_for(sales):
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH"}).json
    body = {"title": "D", "customer_id": customer["id"], "lines": [{"sku": "NOPE", "quantity": 1}]}
    for code, expected in (
        ("en", "No product with SKU 'NOPE'."),
        ("ru", "Нет товара с артикулом 'NOPE'."),
        ("bn", "'NOPE' SKU-র কোনো পণ্য নেই।"),
    ):
        r = sales.post("/api/v1/deals", json=body, headers={"en": {}, "ru": RU, "bn": BN}[code])
        assert r.status_code == 422
        assert r.json["errors"]["lines[0].sku"] == [expected]


def test_a_refused_sort_names_the_fields_in_the_readers_language(sales):
    r = sales.get("/api/v1/customers?sort=shoe_size", headers=RU)
    assert r.status_code == 422
    (message,) = r.json["errors"]["sort"]
    assert message.startswith("Нельзя сортировать по 'shoe_size'; используйте одно из: ")
    english = sales.get("/api/v1/customers?sort=shoe_size").json["errors"]["sort"][0]
    assert english.startswith("Cannot sort by 'shoe_size'; use one of: ")
    assert english.split(": ", 1)[1] == message.split(": ", 1)[1]  # the field names are the API's own

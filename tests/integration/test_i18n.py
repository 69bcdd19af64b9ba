"""The language of the pages and of the API's messages (hub/i18n.py): the user's setting, else the
choice made on the log-in page, else the browser's Accept-Language, else HUB_DEFAULT_LOCALE; the API
speaks English unless asked, and keeps its codes. The texts asserted here are the catalogues'."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from babel.dates import format_skeleton
from flask_babel import ngettext

from hub import create_app
from hub.i18n import TRANSLATIONS, UnknownLocale
from tests.conftest import PASSWORD
from tests.support.sessions import csrf_token, logged_in

# What the pages say, per language: the menu's first entry, the log-in button, the form's messages.
BOARD = {"en": "Board", "ru": "Доска", "bn": "বোর্ড"}
LOG_IN = {"en": "Log in", "ru": "Войти", "bn": "লগ ইন"}
CORRECT_FIELDS = {
    "en": "Please correct the fields marked below.",
    "ru": "Исправьте отмеченные ниже поля.",
    "bn": "অনুগ্রহ করে নিচে চিহ্নিত ঘরগুলি ঠিক করুন।",
}
REQUIRED = {
    "en": "Missing data for required field.",
    "ru": "Обязательное поле не заполнено.",
    "bn": "আবশ্যক ঘরটি পূরণ করা হয়নি।",
}
NOT_VALID = {"en": "The input is not valid.", "ru": "Введённые данные неверны.", "bn": "ইনপুট সঠিক নয়।"}


@pytest.fixture(autouse=True, scope="module")
def _compiled() -> None:
    for code in ("ru", "bn"):
        po = TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        assert mo.exists(), "compile the catalogues: make translations"
        assert mo.stat().st_mtime >= po.stat().st_mtime, "compile the catalogues again: make translations"


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("code", ["en", "ru", "bn"])
def test_a_page_follows_the_browsers_language(app, users, code):
    client = logged_in(app, "sales@example.com")
    headers = {} if code == "en" else {"Accept-Language": f"{code}-XX,{code};q=0.9,en;q=0.5"}
    response = client.get("/customers/new", headers=headers)
    assert "Accept-Language" in response.vary  # caches keep the languages apart
    page = _text(response)
    assert f'<html lang="{code}">' in page
    assert f">{BOARD[code]}</a>" in page
    for other in {"en", "ru", "bn"} - {code}:
        assert f">{BOARD[other]}</a>" not in page


@pytest.mark.parametrize("code", ["ru", "bn"])
def test_a_form_shows_its_validation_errors_translated(app, users, code):
    client = logged_in(app, "sales@example.com")
    token = csrf_token(client, "/customers/new")
    r = client.post("/customers/new", data={"name": " ", "csrf_token": token}, headers={"Accept-Language": code})
    assert r.status_code == 422
    page = _text(r)
    assert CORRECT_FIELDS[code] in page
    assert f'<p class="field-error" id="err-name">{REQUIRED[code]}</p>' in page
    assert REQUIRED["en"] not in page


def test_no_accept_language_is_english(app, users):
    client = logged_in(app, "sales@example.com")
    r = client.post("/customers/new", data={"csrf_token": csrf_token(client, "/customers/new")})
    assert r.status_code == 422
    assert REQUIRED["en"] in _text(r)
    assert f">{BOARD['en']}</a>" in _text(r)


def test_the_users_setting_wins_over_the_browser(app, users):
    client = logged_in(app, "sales@example.com")
    token = csrf_token(client, "/account")
    r = client.post("/account", data={"locale": "bn", "csrf_token": token}, headers={"Accept-Language": "ru"})
    assert r.status_code == 302
    page = _text(client.get(r.headers["Location"], headers={"Accept-Language": "ru"}))
    assert f">{BOARD['bn']}</a>" in page
    assert "সেটিংস সংরক্ষিত হয়েছে।" in page  # "Your settings are saved." in the language just chosen
    # Back to "as my browser asks": the header counts again.
    client.post("/account", data={"locale": "", "csrf_token": token})
    assert f">{BOARD['ru']}</a>" in _text(client.get("/customers", headers={"Accept-Language": "ru"}))


def test_an_unknown_language_is_refused_on_the_settings_page(app, users):
    client = logged_in(app, "sales@example.com")
    r = client.post("/account", data={"locale": "xx", "csrf_token": csrf_token(client, "/account")})
    assert r.status_code == 422
    assert "Choose one of the languages in the list." in _text(r)


def test_the_menus_switcher_saves_the_users_choice(app, users):
    client = logged_in(app, "sales@example.com")
    token = csrf_token(client, "/customers")
    r = client.post("/language", data={"locale": "ru", "next": "/customers?page=1", "csrf_token": token})
    assert r.status_code == 302
    assert r.headers["Location"] == "/customers?page=1"
    assert f">{BOARD['ru']}</a>" in _text(client.get("/customers", headers={"Accept-Language": "bn"}))
    # It is the user's setting, not this browser's: another log-in of theirs speaks Russian too.
    assert f">{BOARD['ru']}</a>" in _text(logged_in(app, "sales@example.com").get("/customers"))


def test_an_anonymous_visitor_switches_the_log_in_page(app, users):
    client = app.test_client()
    token = csrf_token(client, "/login")
    assert f">{LOG_IN['en']}</button>" in _text(client.get("/login"))
    r = client.post("/language", data={"locale": "ru", "next": "/login", "csrf_token": token})
    assert r.status_code == 302
    assert r.headers["Location"] == "/login"
    assert f">{LOG_IN['ru']}</button>" in _text(client.get("/login", headers={"Accept-Language": "bn"}))
    # The visitor's choice goes on after logging in, as long as the user has chosen none.
    r = client.post("/login", data={"email": "sales@example.com", "password": PASSWORD, "csrf_token": token})
    assert f">{BOARD['ru']}</a>" in _text(client.get("/customers"))


def test_the_switcher_refuses_a_language_the_hub_does_not_speak_and_an_outside_next(app, users):
    client = app.test_client()
    token = csrf_token(client, "/login")
    assert client.post("/language", data={"locale": "xx", "csrf_token": token}).status_code == 400
    assert client.post("/language", data={"locale": "ru"}).status_code == 400  # no CSRF token
    r = client.post("/language", data={"locale": "bn", "next": "//evil.example/", "csrf_token": token})
    assert r.status_code == 302
    assert r.headers["Location"] == "/"


def test_the_api_translates_its_message_only_when_asked_and_keeps_the_code(app, users, call):
    sales = call("sales")
    english = sales.post("/api/v1/customers", json={})
    assert english.status_code == 422
    assert english.json["code"] == "validation_error"
    assert english.json["message"] == NOT_VALID["en"]
    assert english.json["errors"]["name"] == [REQUIRED["en"]]
    for code in ("ru", "bn"):
        r = sales.post("/api/v1/customers", json={}, headers={"Accept-Language": code})
        assert r.status_code == 422
        assert r.json["code"] == "validation_error"
        assert r.json["message"] == NOT_VALID[code]
        assert r.json["errors"]["name"] == [REQUIRED[code]]


def test_the_api_ignores_the_users_page_language(app, users, call):
    client = logged_in(app, "sales@example.com")
    client.post("/language", data={"locale": "ru", "csrf_token": csrf_token(client, "/customers")})
    r = call("sales").post("/api/v1/customers", json={})
    assert r.json["message"] == NOT_VALID["en"]


def test_the_instance_default_applies_when_the_browser_names_no_language_the_hub_speaks(app, database_url):
    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x", "HUB_DEFAULT_LOCALE": "bn"}
    app = create_app(config)
    client = app.test_client()
    assert f">{LOG_IN['bn']}</button>" in _text(client.get("/login"))
    assert f">{LOG_IN['bn']}</button>" in _text(client.get("/login", headers={"Accept-Language": "de, fr;q=0.5"}))
    assert f">{LOG_IN['ru']}</button>" in _text(client.get("/login", headers={"Accept-Language": "de, ru;q=0.5"}))
    with pytest.raises(UnknownLocale, match="HUB_DEFAULT_LOCALE"):
        create_app(config | {"HUB_DEFAULT_LOCALE": "xx"})


NAME = "ООО «Ромашка» · রহিম ট্রেডার্স · Müller"


def _won_deal(call) -> dict:
    """A deal for a customer named in three scripts, won: a hub invoice (no target is connected)."""
    sales, admin = call("sales"), call("admin")
    product = {"sku": "W-1", "name": "Насос পাম্প", "list_price": "10.00", "currency": "EUR", "tax_rate": "0.19"}
    assert admin.post("/api/v1/products", json=product).status_code == 201
    customer = sales.post("/api/v1/customers", json={"name": NAME, "default_currency": "EUR"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Насосы", "customer_id": customer["id"], "lines": [{"sku": "W-1", "quantity": 2}]},
    ).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200
    return won.json


@pytest.mark.parametrize("code", ["ru", "bn"])
def test_every_page_renders_in_each_language(app, users, call, code):
    """Each page without a parameter, and the pages of a deal, its customer and its invoice: a
    translation whose placeholders do not fit would fail to render here."""
    deal = _won_deal(call)
    client = logged_in(app, users["admin"]["email"])
    client.post("/language", data={"locale": code, "csrf_token": csrf_token(client, "/customers")})
    paths = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.arguments
        and not rule.rule.startswith(("/api", "/exchange", "/static", "/oauth", "/csrf-token", "/healthz", "/readyz"))
    ]
    assert len(paths) > 10
    paths += [f"/deals/{deal['id']}", f"/customers/{deal['customer']['id']}", f"/invoices/{deal['invoices'][0]['id']}"]
    for path in paths:
        r = client.get(path, follow_redirects=True)
        assert r.status_code == 200, (path, r.status_code)
        if "<html" in _text(r):  # a whole page, not an htmx fragment or a CSV
            assert f'<html lang="{code}">' in _text(r), path
    assert NAME in _text(client.get(f"/deals/{deal['id']}"))


def test_the_invoice_csv_keeps_every_script_and_names_its_columns_in_the_readers_language(app, users, call):
    _won_deal(call)
    finance, name = call("finance"), NAME
    client = logged_in(app, users["finance"]["email"])

    english = client.get("/invoices.csv").data
    assert english.startswith(b"\xef\xbb\xbf")  # the byte order mark Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(english.decode("utf-8-sig"))))
    assert [r["customer"] for r in rows] == [name]

    russian = client.get("/invoices.csv", headers={"Accept-Language": "ru"}).data.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(russian)))
    assert header[:5] == ["Номер", "Дата выставления", "Срок оплаты", "Сделка", "Клиент"]
    assert row[4] == name
    assert finance.get("/api/v1/invoices").json["items"][0]["customer_name"] == name


def test_the_invoice_totals_name_their_months_and_quarters_in_the_readers_language(app, users, call):
    _won_deal(call)
    client = logged_in(app, users["finance"]["email"])
    today = date.today()
    month = client.get("/invoices", headers={"Accept-Language": "ru"})
    quarter = client.get("/invoices?period=quarter", headers={"Accept-Language": "ru"})
    english = client.get("/invoices")

    assert f">{format_skeleton('yMMMM', today, locale='ru')}</td>" in _text(month)
    assert f">{format_skeleton('yQQQ', today, locale='ru')}</td>" in _text(quarter)
    assert f">{today:%Y-%m}</td>" in _text(english)


@pytest.mark.parametrize(
    ("code", "counts"),
    [
        # Russian: one (1, 21), few (2–4, 22), many (5–20, 11, 0)
        ("ru", {1: "просроченная задача", 21: "просроченная задача", 3: "просроченные задачи",
                22: "просроченные задачи", 5: "просроченных задач", 11: "просроченных задач", 0: "просроченных задач"}),
        # Bengali: one form for 0 and 1, the other for more (the same words: Bengali does not inflect them)
        ("bn", {1: "ফলো-আপের সময় পেরিয়ে গেছে", 2: "ফলো-আপের সময় পেরিয়ে গেছে"}),
        ("en", {1: "overdue follow-up.", 2: "overdue follow-ups.", 0: "overdue follow-ups."}),
    ],
)  # fmt: skip
def test_plural_forms_follow_each_languages_rules(app, code, counts):
    with app.test_request_context("/tasks", headers={"Accept-Language": code}):
        for n, words in counts.items():
            text = ngettext("%(num)s overdue follow-up.", "%(num)s overdue follow-ups.", n)
            assert text.startswith(f"{n}")
            assert words in text

"""Issue 27's screenshots: the board, a deal, the invoice list and the invoice PDF (drawn to PNG)
in English, Russian and Bengali, each into test-artifacts/<lang>-*.png. A browser set to the
language walks them as an admin (who sees both the board and the invoices); each page must show
that language's navigation and heading, and the invoice, for a customer named in the language's
script who prefers it, must print the name as text in that language's layout. Elements are found
by role and translated name, or by id where the name is the data's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.invoice_pdf import squeezed, text_of
from tests.support.ui_fixtures import assert_drawn, browser_page, log_in, pdf_screenshot, screenshot


@dataclass(frozen=True)
class Language:
    code: str
    browser: str  # the browser's locale: its Accept-Language and navigator.language
    menu: str  # the main navigation's accessible name
    board: str
    invoices: str
    pipeline: str
    won: str
    lines: str
    download_pdf: str
    invoice: str  # the PDF's title, "Invoice %(number)s"
    bill_to: str
    customer: dict[str, str]
    line: str


LANGUAGES = [
    Language(
        "en", "en-GB", "Main", "Board", "Invoices", "Pipeline", "Won", "Lines", "Download PDF",
        "Invoice {number}", "Bill to",
        {"name": "Harbour Supplies Ltd", "billing_street": "12 Quay Street", "billing_city": "Bristol"},
        "Centrifugal pump, stainless",
    ),
    Language(
        "ru", "ru-RU", "Главное меню", "Доска", "Счета", "Воронка", "Выиграна", "Строки", "Скачать PDF",
        "Счёт {number}", "Покупатель",
        {"name": "ЗАО «Северный ветер»", "billing_street": "Невский проспект, 28", "billing_city": "Санкт-Петербург"},
        "Насос центробежный",
    ),
    Language(
        "bn", "bn-BD", "প্রধান মেনু", "বোর্ড", "ইনভয়েস", "পাইপলাইন", "জেতা", "লাইন", "PDF ডাউনলোড করুন",
        "ইনভয়েস {number}", "বিল প্রাপক",
        {"name": "পদ্মা টেক্সটাইল লিমিটেড", "billing_street": "আগ্রাবাদ বাণিজ্যিক এলাকা ৫", "billing_city": "চট্টগ্রাম"},
        "পানির পাম্প",
    ),
]  # fmt: skip


@pytest.fixture
def language_page(lang, browser, live_server):
    """A page of a browser whose language is `lang`'s."""
    with browser_page(browser, live_server, locale=lang.browser) as page:
        yield page


def won_invoice(admin, sales, lang: Language) -> str:
    """A won deal of a customer who prefers `lang`, and an open one beside it on the board: the
    won deal's invoice number."""
    admin.post(
        "/api/v1/products",
        json={"sku": "PUMP-100", "name": "Pump 100", "list_price": "1249.00", "currency": "EUR", "tax_rate": "0.19"},
    )
    customer = sales.post("/api/v1/customers", json={**lang.customer, "preferred_language": lang.code}).json
    lines = [{"sku": "PUMP-100", "quantity": 3, "description": lang.line}]
    sales.post("/api/v1/deals", json={"title": f"{lang.line} ×12", "customer_id": customer["id"], "lines": lines})
    deal = sales.post("/api/v1/deals", json={"title": lang.line, "customer_id": customer["id"], "lines": lines}).json
    return sales.post(f"/api/v1/deals/{deal['id']}/won").json["invoices"][0]["number"]


@pytest.mark.parametrize("lang", LANGUAGES, ids=[lang.code for lang in LANGUAGES])
def test_board_deal_invoices_and_pdf_in_the_browsers_language(users, admin, sales, lang, language_page):
    number = won_invoice(admin, sales, lang)
    page = language_page
    name = lang.customer["name"]

    log_in(page, users["admin"]["email"])  # admins land on the board
    expect(page.locator("html")).to_have_attribute("lang", lang.code)
    menu = page.get_by_role("navigation", name=lang.menu, exact=True)
    expect(menu.get_by_role("link", name=lang.board, exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name=lang.pipeline, exact=True)).to_be_visible()
    won_column = page.locator(".column[data-stage-kind=won]")
    expect(won_column.get_by_role("heading")).to_contain_text(lang.won)
    expect(won_column.locator(".deal-card")).to_contain_text(name)
    assert_drawn(screenshot(page, f"{lang.code}-board"))

    won_column.get_by_role("link", name=lang.line, exact=True).click()
    expect(page.get_by_role("heading", name=lang.lines, exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=lang.line)).to_be_visible()  # with its sku
    expect(page.locator("body")).to_contain_text(number)  # the deal's invoice
    assert_drawn(screenshot(page, f"{lang.code}-deal"))

    menu.get_by_role("link", name=lang.invoices, exact=True).click()
    expect(page).to_have_url(re.compile(r"/invoices$"))
    expect(page.get_by_role("heading", name=lang.invoices, level=1)).to_be_visible()
    row = page.locator("#invoices tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(name)
    assert_drawn(screenshot(page, f"{lang.code}-invoices"))

    row.get_by_role("link", name=number).click()
    with page.expect_download() as download:
        page.get_by_role("link", name=lang.download_pdf).click()
    data = Path(download.value.path()).read_bytes()
    text = text_of(data)
    expected = (lang.invoice.format(number=number), lang.bill_to, name, lang.customer["billing_city"], lang.line)
    for line in expected:
        assert squeezed(line) in text, line
    assert_drawn(pdf_screenshot(data, f"{lang.code}-invoice-pdf"))

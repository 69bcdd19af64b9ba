"""Date fields in the page's language, whatever the browser's: an English browser whose user chose
Russian or Bengali in the hub gets a calendar with that language's month names and a field that
shows and reads dates as the hub's pages write them (hub/locale_numbers.py, date_text), picked with
the mouse, with the keyboard, or typed (Bengali digits too); the form still sends ISO, and the
server stores the day meant. Text that is no date is sent as typed and refused beside its field."""

from __future__ import annotations

from datetime import date

import pytest
from babel import Locale
from playwright.sync_api import expect

from hub.locale_numbers import date_text
from tests.support.ui_fixtures import browser_page, log_in, screenshot

# The task's due date as a person of each language types it (০-৯ from a Bengali keyboard).
TYPED = {"en": "2026-03-21", "ru": "21.03.2026", "bn": "২১/৩/২০২৬"}


@pytest.fixture
def english_browser(browser, live_server):
    """A browser in American English (its own date field would say mm/dd/yyyy), failing the test
    on a Content-Security-Policy violation (the picker must need no inline script or style)."""
    with browser_page(browser, live_server, locale="en-US") as page:
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        yield page
        assert refused == []


def choose_language(page, lang: str) -> None:
    page.locator("#language-select").select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.mark.parametrize("lang", ["en", "ru", "bn"])
def test_a_date_picked_typed_and_stored_in_the_pages_language(users, sales, english_browser, lang):
    page = english_browser
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    body = {"title": "Pumps", "customer_id": customer["id"], "expected_close_date": "2026-03-09"}
    deal = sales.post("/api/v1/deals", json=body).json
    log_in(page, users["sales"]["email"])
    choose_language(page, lang)
    page.goto(f"/deals/{deal['id']}/edit")

    field = page.locator("#f-expected_close_date")  # the label's field is the one typed into
    expect(field).to_have_value(date_text(date(2026, 3, 9), lang))
    field.click()
    calendar = page.locator(".flatpickr-calendar.open")
    month = calendar.locator("select.flatpickr-monthDropdown-months")
    shown_month = month.evaluate("s => s.options[s.selectedIndex].text")
    names = Locale.parse(lang)
    assert shown_month.casefold() == names.months["stand-alone"]["wide"][3].casefold()
    # The week starts on Monday in Russian, on Sunday in Bengali (Bangladesh) and English (the US).
    first = calendar.locator(".flatpickr-weekday").first.inner_text().strip()
    assert first.casefold() == names.days["stand-alone"]["abbreviated"][0 if lang == "ru" else 6].casefold()
    screenshot(page, f"date-picker-{lang}")
    # Each day is named (for screen readers) as the field writes it.
    calendar.locator(f'.flatpickr-day[aria-label="{date_text(date(2026, 3, 17), lang)}"]').click()
    expect(field).to_have_value(date_text(date(2026, 3, 17), lang))
    expect(calendar).to_have_count(0)

    # By keyboard: Down into the calendar, on to the next day, Enter picks it.
    field.focus()
    field.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(field).to_have_value(date_text(date(2026, 3, 18), lang))
    expect(field).to_be_focused()
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"**/deals/{deal['id']}")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["expected_close_date"] == "2026-03-18"

    # Typed, and sent with Enter from the date field.
    page.locator("#f-title").fill("Call back")
    due = page.locator("#f-due_date")
    due.press_sequentially(TYPED[lang])
    due.press("Enter")
    expect(page.locator(".flash")).to_be_visible()
    tasks = sales.get(f"/api/v1/tasks?deal_id={deal['id']}").json["items"]
    assert [(t["title"], t["due_date"]) for t in tasks] == [("Call back", "2026-03-21")]


def test_text_that_is_no_date_is_refused_beside_its_field_as_typed(users, sales, english_browser):
    page = english_browser
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Pumps", "customer_id": customer["id"]}).json
    log_in(page, users["sales"]["email"])
    choose_language(page, "ru")
    page.goto(f"/deals/{deal['id']}/edit")

    field = page.locator("#f-expected_close_date")
    field.press_sequentially("31.02.2026")
    page.locator("form.card button[type=submit]").click()
    # The server's own message, with its example as the field writes dates.
    expect(page.locator("#err-expected_close_date")).to_contain_text("31.02.2026")
    expect(page.locator("#err-expected_close_date")).to_contain_text("09.03.2026")
    expect(field).to_have_value("31.02.2026")  # what was typed stays, to be corrected
    expect(field).to_have_attribute("aria-invalid", "true")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["expected_close_date"] is None


def test_the_invoice_filter_reads_a_typed_bengali_date_and_sends_iso(users, english_browser):
    page = english_browser
    log_in(page, users["finance"]["email"])
    choose_language(page, "bn")
    page.goto("/invoices")
    issued_from = page.locator("#issued_from")
    issued_from.press_sequentially("১/৩/২০২৬")
    issued_from.press("Enter")
    page.wait_for_url("**issued_from=2026-03-01**")
    expect(page.locator("#issued_from")).to_have_value("1/3/2026")  # shown back as typed, in Latin digits


def test_without_javascript_a_date_field_is_the_browsers_own_and_still_sends_iso(users, sales, browser, live_server):
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Pumps", "customer_id": customer["id"]}).json
    with browser_page(browser, live_server, locale="ru-RU", java_script_enabled=False) as page:
        log_in(page, users["sales"]["email"])
        page.goto(f"/deals/{deal['id']}/edit")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        field = page.locator("#f-expected_close_date")
        expect(field).to_have_attribute("type", "date")
        field.fill("2026-03-17")
        page.locator("form.card button[type=submit]").click()
        page.wait_for_url(f"**/deals/{deal['id']}")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["expected_close_date"] == "2026-03-17"

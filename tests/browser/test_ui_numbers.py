"""A browser set to Russian or Bengali: the deal form takes numbers as that language writes them
(typed by a person, through the real page), the deal page shows them back its way, and the charts
draw their ticks in the page's language with Latin digits (docs/numbers-and-dates.md). Elements are found
by id, not label: the labels are translated."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.ui_fixtures import browser_page, log_in, screenshot


@pytest.fixture
def localised_page(request, browser, live_server):
    """A page of a browser whose language is request.param (Accept-Language and navigator.language)."""
    with browser_page(browser, live_server, locale=request.param) as page:
        yield page


@pytest.mark.parametrize(
    ("localised_page", "lang", "refused", "quantity", "price", "total", "shown_quantity"),
    [
        # 1.234: thousands, or decimals? ১2: Bengali and Latin digits in one number.
        ("ru-RU", "ru", "1.234", "12,50", "1 234,5", "15\xa0431,25\xa0€", "12,5"),
        ("bn-BD", "bn", "১2", "১২.৫০", "১,২৩৪.৫", "15,431.25€", "12.5"),
    ],
    indirect=["localised_page"],
)
def test_a_deal_typed_and_shown_in_the_browsers_language(
    users, sales, localised_page, lang, refused, quantity, price, total, shown_quantity
):
    page = localised_page
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    log_in(page, users["sales"]["email"])
    page.goto("/deals/new")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.locator("#f-title").fill("Bolts")
    page.locator("#f-customer_id").select_option(str(customer["id"]))
    page.locator("#f-lines-0-description").fill("Bolt")
    page.locator("#f-lines-0-quantity").fill(refused)
    page.locator("#f-lines-0-unit_price").fill(price)
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#err-lines-0-quantity")).to_contain_text(refused)  # beside its field
    expect(page.locator("#f-lines-0-unit_price")).to_have_value(price)  # what was typed stays
    page.locator("#f-lines-0-quantity").fill(quantity)
    page.locator("form.card button[type=submit]").click()
    expect(page.get_by_test_id("deal-total")).to_have_text(total)  # 12.5 × 1234.5, no tax
    expect(page.locator("td.num").first).to_have_text(shown_quantity)
    screenshot(page, f"numbers-deal-{lang}")

    page.goto("/dashboard")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-pipeline'))")
    locale = page.evaluate("() => Chart.getChart(document.getElementById('chart-pipeline')).options.locale")
    assert locale == f"{lang}-u-nu-latn"
    # The forecast's month labels as the language names months, not 2026-03.
    labels = page.evaluate("() => Chart.getChart(document.getElementById('chart-forecast')).data.labels")
    assert labels
    assert not any(label[:4].isdigit() and label[4:5] == "-" for label in labels), labels

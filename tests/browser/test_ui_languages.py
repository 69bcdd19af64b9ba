"""The language switcher in a real browser: a visitor picks Russian on the log-in page (the select
submits itself, no button), logs in with the Russian form, and a user switches to Bengali from the
menu; the pages, the menu and a form's validation messages follow. Screenshots per language."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.support.ui_fixtures import screenshot


def test_a_visitor_chooses_russian_on_the_log_in_page_and_a_user_bengali_in_the_menu(users, page):
    page.goto("/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_label("Language").select_option("ru")
    expect(page.get_by_role("button", name="Войти")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    screenshot(page, "login-ru")

    page.get_by_label("Эл. почта").fill(users["sales"]["email"])
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    menu = page.get_by_role("navigation", name="Главное меню")
    expect(menu.get_by_role("link", name="Доска", exact=True)).to_be_visible()
    screenshot(page, "board-ru")

    page.goto("/customers/new")
    page.get_by_role("button", name="Создать клиента").click()
    expect(page.locator("#err-name")).to_have_text("Обязательное поле не заполнено.")
    screenshot(page, "form-errors-ru")

    page.get_by_label("Язык", exact=True).select_option("bn")
    expect(page).to_have_url(re.compile(r"/customers/new$"))  # back on the same page
    menu = page.get_by_role("navigation", name="প্রধান মেনু")
    expect(menu.get_by_role("link", name="বোর্ড", exact=True)).to_be_visible()
    page.get_by_role("button", name="গ্রাহক তৈরি করুন").click()
    expect(page.locator("#err-name")).to_have_text("আবশ্যক ঘরটি পূরণ করা হয়নি।")
    menu.get_by_role("link", name="বোর্ড", exact=True).click()
    expect(page.get_by_role("heading", name="পাইপলাইন")).to_be_visible()
    screenshot(page, "board-bn")

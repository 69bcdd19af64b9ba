"""What `make run` opens on: after log-in a sales person lands on the pipeline board full of the
demo data; the dashboard draws its charts; the board works at tablet width."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from hub.audit import acting_as
from hub.seed import DEALS_PER_STAGE, seed
from tests.support.ui_fixtures import log_in, nav, screenshot

DEMO_PASSWORD = "demo-password-1"


def seed_demo(app) -> None:
    with app.app_context(), acting_as(None, "seed-demo"):
        assert seed(DEMO_PASSWORD, erp_url="http://127.0.0.1:9") is not None


def test_sales_lands_on_the_board_with_the_demo_data(app, page):
    seed_demo(app)
    log_in(page, "sales@demo.crmhub.test", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/board$"))
    for stage, count in DEALS_PER_STAGE.items():
        heading = page.get_by_role("heading", name=re.compile(f"^{stage}"))
        expect(heading.get_by_test_id("count")).to_have_text(str(count))
    expect(page.locator(".deal-card")).to_have_count(sum(DEALS_PER_STAGE.values()))
    expect(page.locator(".column").first.locator(".sum")).to_contain_text("€")
    screenshot(page, "demo-board")

    page.get_by_label("Owner").select_option("me")
    expect(page).to_have_url(re.compile(r"owner=me"))
    assert 0 < page.locator(".deal-card").count() < sum(DEALS_PER_STAGE.values())

    nav(page, "Dashboard")
    for chart in ("chart-pipeline", "chart-forecast", "chart-won-lost", "chart-loop"):
        assert page.evaluate(f"Chart.getChart('{chart}').data.labels.length") > 0, chart
    screenshot(page, "demo-dashboard")

    nav(page, "Customers")
    page.get_by_label("Name, e-mail or tax id").fill("acme")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Acme Maschinenbau GmbH").click()
    expect(page.locator("#contacts li").first).to_be_visible()
    screenshot(page, "demo-customer")
    page.goto("/contacts?q=acme.example")
    expect(page.locator("tbody tr").first).to_contain_text("Acme Maschinenbau GmbH")


def test_board_and_deal_page_fit_a_tablet(app, browser, live_server):
    seed_demo(app)
    context = browser.new_context(base_url=live_server, viewport={"width": 768, "height": 1024}, has_touch=True)
    page = context.new_page()
    try:
        log_in(page, "sales@demo.crmhub.test", DEMO_PASSWORD)
        # the page itself never scrolls sideways; the board scrolls within its own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "tablet-board")
        page.locator(".deal-card a.title").first.click()
        expect(page.get_by_role("heading", name="Lines")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "tablet-deal")
    finally:
        context.close()

"""Sales in the browser after an invoice failed: the top bar counts the notice, the notices page
leads to the deal, and the deal's invoice panel says why and whom to ask."""

from __future__ import annotations

from playwright.sync_api import expect

from hub.sync.worker import drain
from tests.support.invoice_failures import win_with_product
from tests.support.ui_fixtures import log_in, screenshot


def test_sales_follows_the_notice_to_the_deal_that_says_why_its_invoice_failed(
    app, users, page, sales, admin, ledger, connection
):
    original = ledger.app.view_functions["create_invoice"]
    ledger.app.view_functions["create_invoice"] = lambda: ({"error": "customer is blocked", "message": "no"}, 422)
    try:
        deal = win_with_product(sales, admin)
        drain(app)
    finally:
        ledger.app.view_functions["create_invoice"] = original

    log_in(page, users["sales"]["email"])
    page.get_by_test_id("notices-link").click()
    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text(f"Invoice {deal['invoices'][0]['number']} of deal {deal['number']}")
    expect(notice).to_contain_text("Ledger refused the invoice. Ask finance.")
    notice.get_by_role("button", name="Mark read").click()
    expect(page.get_by_test_id("notices-link")).to_have_count(0)

    page.get_by_test_id("notice").get_by_role("link").click()
    problem = page.get_by_test_id("invoice-problem")
    expect(problem).to_contain_text("Not in Ledger: Ledger refused the invoice.")
    expect(problem).to_contain_text("Ask finance: Finance User <finance@example.com>.")
    expect(page.locator("#invoice-panel")).not_to_contain_text("Not in any connected system")
    screenshot(page, "sales-deal-invoice-failed")

"""Finance in the browser: find the invoice of a won deal, read its page (snapshot, the target's
state, the sync history) and download the CSV and the PDF of the hub invoice."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import requests
from playwright.sync_api import expect

from hub.sync import jobs
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY
from tests.support.invoice_pdf import squeezed, text_of
from tests.support.ui_fixtures import log_in, nav, pdf_screenshot, screenshot


def won_deal(admin, sales) -> dict:
    admin.post(
        "/api/v1/products",
        json={"sku": "PUMP-100", "name": "Pump 100", "list_price": "1249.00", "currency": "EUR", "tax_rate": "0.19"},
    )
    customer = sales.post("/api/v1/customers", json={"name": "Müller Anlagenbau GmbH", "billing_city": "Köln"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Pumps", "customer_id": customer["id"], "lines": [{"sku": "PUMP-100", "quantity": 3}]},
    ).json
    return sales.post(f"/api/v1/deals/{deal['id']}/won").json


def test_finance_finds_the_invoice_and_downloads_csv_and_pdf(app, users, page, admin, sales, connection, ledger):
    deal = won_deal(admin, sales)
    drain(app)
    number = deal["invoices"][0]["number"]

    log_in(page, users["finance"]["email"])
    expect(page).to_have_url(re.compile(r"/invoices$"))  # finance starts on the invoices
    page.get_by_label("Number or customer").fill("müller")
    page.get_by_label("State").select_option("sent")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("#invoices tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(number)
    expect(rows.first).to_contain_text("ML-000001")
    # 3 × 1,249.00 = 3,747.00 + 19 % = 4,458.93
    expect(page.locator("#totals tbody")).to_contain_text("4,458.93")
    expect(page.locator("#totals tbody")).to_contain_text("EUR")
    screenshot(page, "finance-invoices")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    rows_csv = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(r["number"], r["customer"], r["total"], r["currency"], r["state"]) for r in rows_csv] == [
        (number, "Müller Anlagenbau GmbH", "4458.93", "EUR", "sent")
    ]
    assert rows_csv[0]["target_numbers"] == "Ledger:ML-000001"

    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=f"Invoice {number}")).to_be_visible()
    expect(page.get_by_role("cell", name="PUMP-100")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Ledger: ML-000001")
    expect(page.get_by_role("cell", name="push_invoice")).to_be_visible()
    expect(page.locator("table").last).to_contain_text("success")
    screenshot(page, "finance-invoice")

    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download PDF").click()
    assert pdf_download.value.suggested_filename == f"{number}.pdf"
    data = Path(pdf_download.value.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = text_of(data)
    for expected in (f"Invoice {number}", "Müller Anlagenbau GmbH", "€4,458.93", "PUMP-100", "Ledger: ML-000001"):
        assert squeezed(expected) in text, expected
    assert pdf_screenshot(data, "finance-invoice-pdf").stat().st_size > 0

    # paid in the target: the status pull brings it back to the invoice and the dashboard
    (ledger_id,) = ledger.ledger.invoices
    pay_url = f"{ledger.url}/api/invoices/{ledger_id}/payments"
    paid = requests.post(pay_url, json={"amount": "4458.93"}, headers={"X-Api-Key": LEDGER_KEY}, timeout=5)
    assert paid.status_code == 200
    jobs.pull_invoice_status()
    page.reload()
    expect(page.get_by_role("heading", name=f"Invoice {number}").locator(".badge")).to_have_text("paid")
    expect(page.locator("body")).to_contain_text("paid €4,458.93 of €4,458.93")
    nav(page, "Dashboard")
    expect(page.get_by_test_id("invoice-to-paid")).not_to_have_text("–")
    screenshot(page, "finance-dashboard")


def test_invoice_pdfs_in_russian_and_bengali_come_from_the_invoice_page(app, users, page, admin, sales):
    """The PDF link of an invoice for a Russian and a Bengali customer, each in their language,
    drawn to PNG for a look at the shaping (test-artifacts/invoice-pdf-ru.png, -bn.png)."""
    admin.post(
        "/api/v1/products",
        json={"sku": "CHAIR-1", "name": "Chair", "list_price": "899.90", "currency": "EUR", "tax_rate": "0.2"},
    )
    customers = {
        "ru": {"name": "ООО «Ромашка»", "billing_city": "Москва", "billing_street": "ул. Тверская, 7"},
        "bn": {"name": "রবীন্দ্রনাথ ঠাকুর ট্রেডার্স", "billing_city": "ঢাকা", "billing_street": "মিরপুর রোড ১২"},
    }
    lines = {"ru": "Стул офисный", "bn": "কাঠের চেয়ার"}
    log_in(page, users["finance"]["email"])
    for language, customer in customers.items():
        made = sales.post("/api/v1/customers", json={**customer, "preferred_language": language}).json
        deal = sales.post(
            "/api/v1/deals",
            json={
                "title": "Chairs",
                "customer_id": made["id"],
                "lines": [{"sku": "CHAIR-1", "quantity": 4, "description": lines[language]}],
            },
        ).json
        number = sales.post(f"/api/v1/deals/{deal['id']}/won").json["invoices"][0]["number"]
        page.goto("/invoices")
        page.get_by_role("link", name=number).click()
        with page.expect_download() as pdf_download:
            page.get_by_role("link", name="Download PDF").click()
        data = Path(pdf_download.value.path()).read_bytes()
        text = text_of(data)
        for expected in (customer["name"], customer["billing_city"], customer["billing_street"], lines[language]):
            assert squeezed(expected) in text, expected
        assert pdf_screenshot(data, f"invoice-pdf-{language}").stat().st_size > 0

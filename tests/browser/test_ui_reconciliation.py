"""Finance reconciles in the browser: starts a run for the Mini Ledger, watches it finish, reads the
missing and the changed invoice with both values, downloads the CSV, pushes the missing one again,
and the next run is clean."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import requests
from playwright.sync_api import expect

from hub.models.base import utcnow
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY
from tests.support.ui_fixtures import log_in, nav, screenshot

V = "/api/v1"


def won(admin, sales, name: str) -> dict:
    customer = sales.post(f"{V}/customers", json={"name": name}).json
    lines = [{"sku": "PUMP-100", "quantity": 2}]
    deal = sales.post(f"{V}/deals", json={"title": "Pumps", "customer_id": customer["id"], "lines": lines}).json
    return sales.post(f"{V}/deals/{deal['id']}/won").json["invoices"][0]


def run_finishes(app, page) -> None:
    """The worker runs the queued run; the page, polling its progress, shows the result."""
    drain(app)
    expect(page.locator("#progress")).to_contain_text("Done", timeout=15_000)


def test_finance_reconciles_and_pushes_a_missing_invoice_again(app, users, page, admin, sales, connection, ledger):
    admin.post(
        f"{V}/products",
        json={"sku": "PUMP-100", "name": "Pump", "list_price": "1249.00", "currency": "EUR", "tax_rate": "0.19"},
    )
    gone, edited, fine = (won(admin, sales, name) for name in ("Gone GmbH", "Edited AG", "Fine KG"))
    drain(app)
    headers = {"X-Api-Key": LEDGER_KEY}
    ids = {i["reference"]: i["id"] for i in requests.get(f"{ledger.url}/api/invoices", headers=headers).json()["items"]}
    assert requests.delete(f"{ledger.url}/api/invoices/{ids[gone['number']]}", headers=headers).status_code == 204
    ledger.ledger.invoices[ids[edited["number"]]]["total"] = "99.00"

    log_in(page, users["finance"]["email"])
    nav(page, "Reconciliation")
    today = utcnow().date().isoformat()
    page.get_by_label("Connection").select_option(label="Ledger")
    page.get_by_label("Issued from").fill(today)
    page.get_by_label("Issued to").fill(today)
    page.get_by_role("button", name="Start reconciliation").click()
    expect(page).to_have_url(re.compile(r"/reconciliations/\d+$"))
    run_finishes(app, page)

    counts = page.locator("#counts")
    expect(counts.locator("[data-kind=missing]")).to_have_text("1")
    expect(counts.locator("[data-kind=mismatched]")).to_have_text("1")
    expect(counts.locator("[data-kind=duplicated]")).to_have_text("0")
    rows = page.locator("#lines tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=gone["number"])).to_contain_text("missing")
    changed = rows.filter(has_text=edited["number"])
    expect(changed).to_contain_text("total")
    expect(changed).to_contain_text(edited["total"])
    expect(changed).to_contain_text("99.00")
    link = changed.get_by_role("link", name=f"Open {edited['number']} in Ledger")
    expect(link).to_have_attribute("href", f"{ledger.url}/api/invoices/{ids[edited['number']]}")
    expect(page.locator("#lines")).not_to_contain_text(fine["number"])
    screenshot(page, "reconciliation")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert {(r["kind"], r["reference"], r["field"], r["hub_value"], r["target_value"]) for r in lines} == {
        ("missing", gone["number"], "", gone["total"], ""),
        ("mismatched", edited["number"], "total", edited["total"], "99.00"),
    }

    page.get_by_role("button", name=f"Push {gone['number']} again").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"{gone['number']} is queued to be pushed again")
    drain(app)
    references = [i["reference"] for i in requests.get(f"{ledger.url}/api/invoices", headers=headers).json()["items"]]
    assert references.count(gone["number"]) == 1

    ledger.ledger.invoices[ids[edited["number"]]]["total"] = edited["total"]  # corrected in the ledger
    page.get_by_role("link", name="← All runs").click()
    # Loaded, scripts and all: forms.js turns the date fields into the page's own while it loads, and
    # a field taken before that is replaced under the test's hands (CI, seed 516889355).
    page.wait_for_load_state()
    page.get_by_label("Issued from").fill(today)
    page.get_by_label("Issued to").fill(today)
    page.get_by_role("button", name="Start reconciliation").click()
    run_finishes(app, page)
    expect(page.locator("#lines tbody")).to_contain_text("No differences: the target agrees with the hub.")
    expect(page.locator("#progress")).to_contain_text("3 hub invoices compared with 3 in Ledger; 3 match")


def test_a_period_from_after_to_is_refused_on_the_form(app, users, page, connection):
    log_in(page, users["admin"]["email"])
    nav(page, "Reconciliation")
    page.get_by_label("Issued from").fill("2026-12-02")
    page.get_by_label("Issued to").fill("2026-12-01")
    page.get_by_role("button", name="Start reconciliation").click()
    expect(page.locator(".field-error")).to_contain_text("Must be on or after from (2026-12-02)")
    expect(page.locator("#runs tbody")).to_contain_text("No runs yet.")

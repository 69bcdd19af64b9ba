""" "Open in <target>" links have the form of each system's own invoice page (docs/connectors.md
says where each form comes from): what `find_invoices` answers, from the API shapes the connector
tests already use (`responses`, from the vendors' documentation)."""

from __future__ import annotations

import pytest
import responses

from tests.integration import test_erpnext, test_odoo, test_xero, test_zoho_books
from tests.integration.test_erpnext import erp  # noqa: F401 - fixture
from tests.integration.test_odoo import odoo  # noqa: F401 - fixture
from tests.unit import test_quickbooks


@responses.activate
def test_xero_links_the_invoice_in_xeros_web_app():
    invoice_id = "243216c5-369e-4056-ac67-05388f86dc81"
    responses.get(
        f"{test_xero.API}/Invoices",
        json=test_xero.answer(Invoices=[test_xero.xero_invoice(InvoiceID=invoice_id, Status="AUTHORISED")]),
    )
    ref = test_xero.connector().find_invoice("INV-000042")
    assert ref.url == f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"


@pytest.mark.parametrize(
    ("environment", "host"), [("sandbox", "app.sandbox.qbo.intuit.com"), ("production", "app.qbo.intuit.com")]
)
@responses.activate
def test_quickbooks_links_the_invoice_in_quickbooks_online(environment, host):
    api = test_quickbooks.BASE.replace(
        "sandbox-quickbooks", "quickbooks" if environment == "production" else "sandbox-quickbooks"
    )
    responses.get(
        f"{api}/query",
        json=test_quickbooks.query_answer("Invoice", [test_quickbooks.qbo_invoice("131", doc_number="INV-000042")]),
    )
    ref = test_quickbooks.connector(environment=environment).find_invoice("INV-000042")
    assert ref.url == f"https://{host}/app/invoice?txnId=131"


@responses.activate
def test_zoho_books_links_the_invoice_in_the_organisations_books_in_its_data_centre():
    responses.get(
        f"{test_zoho_books.BOOKS}/invoices",
        json=test_zoho_books.ok(invoices=[test_zoho_books.invoice(status="sent")]),
    )
    ref = test_zoho_books.connector().find_invoice("INV-000042")
    assert ref.url == f"https://books.zoho.eu/app/{test_zoho_books.ORG}#/invoices/982000000567114"


def test_odoo_links_the_journal_entry_form_in_the_backend(odoo):  # noqa: F811
    odoo.on(
        "account.move",
        "search_read",
        lambda a, k: [
            {"id": 501, "name": "INV/2026/00012", "state": "posted", "ref": "INV-1", "payment_state": "paid"}
        ],
    )
    ref = test_odoo.connector().find_invoice("INV-1")
    assert ref.url == "https://odoo.example.com/web#id=501&model=account.move&view_type=form"


def test_erpnext_links_the_sales_invoice_in_the_desk(erp):  # noqa: F811
    erp.on(
        "GET",
        test_erpnext.INVOICES,
        test_erpnext.rows(
            {"name": "ACC-SINV-2026-00001", "custom_hub_ref": "INV-1", "docstatus": 1, "status": "Unpaid"}
        ),
    )
    config = {**test_erpnext.CONFIG, "reference_field": "custom_hub_ref"}
    ref = test_erpnext.connector(config=config).find_invoice("INV-1")
    assert ref.url == "https://erp.example.com/app/sales-invoice/ACC-SINV-2026-00001"

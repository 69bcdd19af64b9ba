""" "Open in <target>" links have the form of each system's own invoice page (docs/connectors/README.md
says where each form comes from): what `find_invoices` answers, from the API shapes the connector
tests already use (`responses`, from the vendors' documentation)."""

from __future__ import annotations

import pytest
import responses

from tests.support import erpnext_api, odoo_api, quickbooks_api, xero_api, zoho_books_api
from tests.support.hosted_fixtures import tokens


@responses.activate
def test_xero_links_the_invoice_in_xeros_web_app():
    invoice_id = "243216c5-369e-4056-ac67-05388f86dc81"
    responses.get(
        f"{xero_api.API}/Invoices",
        json=xero_api.answer(Invoices=[xero_api.xero_invoice(InvoiceID=invoice_id, Status="AUTHORISED")]),
    )
    ref = xero_api.connector().find_invoice("INV-000042")
    assert ref.url == f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"
    # Authorised once Organisation answered with its ShortCode: the link opens that organisation
    # (go.xero.com alone opens whichever one the user last used).
    store = xero_api.MemoryTokenStore(tokens(tenant_id=xero_api.TENANT, short_code="!mN2pq"))
    ref = xero_api.connector(store=store).find_invoice("INV-000042")
    assert ref.url == (
        "https://go.xero.com/organisationlogin/default.aspx?shortcode=!mN2pq"
        f"&redirecturl=/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"
    )


@pytest.mark.parametrize(
    ("environment", "host"), [("sandbox", "app.sandbox.qbo.intuit.com"), ("production", "app.qbo.intuit.com")]
)
@responses.activate
def test_quickbooks_links_the_invoice_in_quickbooks_online(environment, host):
    api = quickbooks_api.BASE.replace(
        "sandbox-quickbooks", "quickbooks" if environment == "production" else "sandbox-quickbooks"
    )
    responses.get(
        f"{api}/query",
        json=quickbooks_api.query_answer("Invoice", [quickbooks_api.qbo_invoice("131", doc_number="INV-000042")]),
    )
    ref = quickbooks_api.connector(environment=environment).find_invoice("INV-000042")
    assert ref.url == f"https://{host}/app/invoice?txnId=131"


@responses.activate
def test_zoho_books_links_the_invoice_in_the_organisations_books_in_its_data_centre():
    responses.get(
        f"{zoho_books_api.BOOKS}/invoices",
        json=zoho_books_api.ok(invoices=[zoho_books_api.invoice(status="sent")]),
    )
    ref = zoho_books_api.connector().find_invoice("INV-000042")
    assert ref.url == f"https://books.zoho.eu/app/{zoho_books_api.ORG}#/invoices/982000000567114"


def test_odoo_links_the_journal_entry_form_in_the_backend(odoo):
    odoo.on(
        "account.move",
        "search_read",
        lambda a, k: [
            {"id": 501, "name": "INV/2026/00012", "state": "posted", "ref": "INV-1", "payment_state": "paid"}
        ],
    )
    ref = odoo_api.connector().find_invoice("INV-1")
    assert ref.url == "https://odoo.example.com/web#id=501&model=account.move&view_type=form"


def test_erpnext_links_the_sales_invoice_in_the_desk(erp):
    erp.on(
        "GET",
        erpnext_api.INVOICES,
        erpnext_api.rows(
            {"name": "ACC-SINV-2026-00001", "custom_hub_ref": "INV-1", "docstatus": 1, "status": "Unpaid"}
        ),
    )
    config = {**erpnext_api.CONFIG, "reference_field": "custom_hub_ref"}
    ref = erpnext_api.connector(config=config).find_invoice("INV-1")
    assert ref.url == "https://erp.example.com/app/sales-invoice/ACC-SINV-2026-00001"

""" "Open in Tryton" goes to a page that exists: the link of a pushed invoice is sao's URL of the
invoice (`<url>/#<database>/model/account.invoice/<id>`), the demo Tryton serves sao there, and
in a browser the link opens that invoice's form."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from hub.demo_erp.tryton import ADMIN_PASSWORD
from hub.sync.worker import drain
from tests.support.tryton_loop import connect, tryton_invoices, win

SERVER_ANSWERS = 60_000  # ms: a deadline, not a wait


def pushed(app, sales, tryton_db) -> tuple[dict, dict]:
    """A deal won and pushed to the real Tryton (posted): its link, and Tryton's invoice (with the
    hub's number as `reference`)."""
    connect(app, tryton_db.config, posted=True, name="Demo Tryton")
    deal = win(sales, "Link Customer", [{"sku": "PUMP-100", "quantity": 1}])
    drain(app)
    (invoice,) = sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"]
    (link,) = invoice["links"]
    (row,) = tryton_invoices(tryton_db, invoice["number"])
    return link, row | {"reference": invoice["number"]}


def test_the_link_is_saos_url_of_the_invoice_and_answers(app, sales, products, tryton_db):
    link, row = pushed(app, sales, tryton_db)
    assert link["url"] == f"{tryton_db.url}/#crmhub/model/account.invoice/{row['id']}"
    page = requests.get(link["url"], timeout=10)  # the fragment stays in the browser
    assert page.status_code == 200
    assert "sao" in page.text.lower()
    assert "tryton-sao.js" in page.text
    assert requests.get(f"{tryton_db.url}/dist/tryton-sao.js", timeout=10).status_code == 200
    assert requests.get(f"{tryton_db.url}/node_modules/jquery/dist/jquery.js", timeout=10).status_code == 200


def test_the_link_opens_the_invoice_in_saos_form(app, sales, products, tryton_db, page):
    link, row = pushed(app, sales, tryton_db)
    page.goto(link["url"])
    # Each step waits for an answer of the demo trytond, which shares the cores with the suite:
    # deadlines like the suite's other waits for processes, not the page's 10 s default.
    login = page.locator("input#login")
    login.fill("admin")
    login.press("Enter")
    password = page.locator("input[type=password]")
    password.fill(ADMIN_PASSWORD, timeout=SERVER_ANSWERS)
    password.press("Enter")
    # The form of the very invoice: Tryton's number, the hub's number as reference, its total.
    expect(page.get_by_role("textbox", name="Number:")).to_have_value(row["number"], timeout=SERVER_ANSWERS)
    expect(page.get_by_role("textbox", name="Reference:")).to_have_value(row["reference"])
    expect(page.get_by_role("textbox", name="Total:")).to_have_value("1,486.31")

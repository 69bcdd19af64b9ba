"""An admin edits a connection's mapping in the browser: an invalid document is refused with each
problem's path next to the editor, a valid draft is previewed on a deal (nothing sent), activated
and compared with the default; value-table rows are added, changed, removed, exported and imported.
Other roles are refused."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import pytest
import responses
from playwright.sync_api import expect

from hub.models import DocumentMode
from hub.sync.worker import drain
from tests.conftest import PASSWORD, make_connection
from tests.support.mapping_deals import win
from tests.support.onec_odata import CONFIG, FIND_CP, FIND_PRODUCT, PUMP_KEY, ROOT, listing
from tests.support.onec_soap_server import OnecSoapServer
from tests.support.ui_fixtures import ARTIFACTS, log_in, nav, screenshot


def test_admin_edits_previews_activates_and_diffs_a_mapping(
    app, users, page, admin, sales, ledger, connection, tmp_path
):
    deal = win(sales, admin)
    log_in(page, users["admin"]["email"])
    nav(page, "Connections")
    page.get_by_role("link", name="Mapping of Ledger").click()
    expect(page.get_by_role("heading", name="Mapping of Ledger")).to_be_visible()
    expect(page.get_by_text("No version saved yet")).to_be_visible()
    editor = page.get_by_label("Mapping document (YAML)")
    original = editor.input_value()
    assert "target: mini_ledger" in original
    screenshot(page, "admin-mapping")

    # Invalid: a broken expression; refused whole, the problem named by its path beside the editor.
    editor.fill(original.replace("expr: idempotency_key", "expr: idempotency_key ||", 1))
    page.get_by_role("button", name="Save as draft").click()
    problems = page.locator("#mapping-problems")
    expect(problems).to_contain_text("fields.reference.expr")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(editor).to_have_value(re.compile(r"idempotency_key \|\|"))  # the text as typed is kept
    expect(page.get_by_text("No version saved yet")).to_be_visible()
    screenshot(page, "admin-mapping-invalid")

    # Valid: euros are booked as EURO from this version on.
    editor.fill(original.replace("EUR: EUR", "EUR: EURO"))
    page.get_by_label("Note").fill("euros as EURO")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 saved as a draft")
    row = page.locator("#version-1")
    expect(row).to_contain_text("draft")
    expect(row).to_contain_text(users["admin"]["email"])
    expect(row).to_contain_text("euros as EURO")
    expect(page.get_by_text("Pushes use the shipped default")).to_be_visible()

    # Preview the draft on the deal, by its number: the changed value is in the payload.
    page.get_by_label("Deal number or id").fill(deal["number"])
    page.get_by_label("With", exact=True).select_option("1")
    page.get_by_role("button", name="Preview").click()
    payload = page.locator("#preview-payload")
    expect(payload).to_contain_text('"currency": "EURO"')
    expect(payload).to_contain_text(deal["invoices"][0]["number"])
    expect(page.locator("#preview-result")).to_contain_text("ready to send")
    screenshot(page, "admin-mapping-preview")
    assert ledger.ledger.invoices == {}  # nothing was sent
    # an unknown deal is named next to its field
    page.get_by_label("Deal number or id").fill("D-999999")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#err-deal")).to_contain_text("D-999999")

    page.get_by_role("button", name="Activate version 1").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 is active")
    expect(page.locator("#version-1")).to_contain_text("active")

    page.get_by_label("Compare").select_option("0")
    page.get_by_label("with", exact=True).select_option("1")
    page.get_by_role("button", name="Show diff").click()
    changes = page.locator("table.diff")
    expect(changes).to_contain_text("tables.currencies.rows.EUR")
    expect(changes).to_contain_text('"EURO"')
    screenshot(page, "admin-mapping-diff")

    # Value tables: add a row, change it inline, export, import, delete.
    products = page.locator("#table-products")
    products.get_by_label("New key in products").fill("W-1")
    products.get_by_label("Its value in products").fill("ITEM-1")
    products.get_by_role("button", name="Add row to products").click()
    expect(page.get_by_role("status")).to_contain_text("W-1 → ITEM-1 saved")
    expect(page.get_by_label("Value of W-1 in products")).to_have_value("ITEM-1")
    page.get_by_label("Value of W-1 in products").fill("ITEM-2")
    products.get_by_role("button", name="Save W-1").click()
    expect(page.get_by_label("Value of W-1 in products")).to_have_value("ITEM-2")
    screenshot(page, "admin-mapping-tables")

    with page.expect_download() as download:
        products.get_by_role("link", name="Export products as CSV").click()
    assert download.value.path().read_text(encoding="utf-8-sig") == "key,value\nW-1,ITEM-2\n"

    bad = tmp_path / "bad.csv"
    bad.write_text("key,value\nW-2,ITEM-3\nW-2,ITEM-4\n")
    products.get_by_label("CSV for products").set_input_files(str(bad))
    products.get_by_role("button", name="Import CSV into products").click()
    expect(page.get_by_label("Importing the CSV")).to_be_visible()  # checked in a job, the page waits
    drain(app)
    expect(page.locator("#table-errors-products")).to_contain_text("line 3: Key W-2 appears twice.")
    good = tmp_path / "good.csv"
    good.write_text("key,value\nW-2,ITEM-3\n")
    page.locator("#table-products").get_by_label("CSV for products").set_input_files(str(good))
    page.locator("#table-products").get_by_role("button", name="Import CSV into products").click()
    drain(app)
    expect(page.get_by_role("status")).to_contain_text("1 added, 0 changed, 0 removed")
    expect(page.get_by_label("Value of W-2 in products")).to_have_value("ITEM-3")
    page.locator("#table-products").get_by_role("button", name="Delete W-1 from products").click()
    expect(page.get_by_role("status")).to_contain_text("row W-1 removed")
    expect(page.get_by_label("Value of W-1 in products")).to_have_count(0)

    # No version was active before version 1: said on the page; the default is named instead.
    page.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("status")).to_contain_text("no earlier active mapping to roll back to")
    page.get_by_label("Roll back to").select_option("0")
    page.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("status")).to_contain_text("version 2 (a copy of version 0) is active")


@pytest.mark.parametrize("role", ["sales", "finance", "operations"])
def test_only_admins_open_the_mapping_editor(app, users, connection, role):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/login", data={"email": users[role]["email"], "password": PASSWORD, "csrf_token": token})
    base = f"/admin/connections/{connection}/mapping"
    assert client.get(base).status_code == 403
    assert client.post(f"{base}/versions", data={"yaml": "target: x", "csrf_token": token}).status_code == 403
    assert client.post(f"{base}/tables/products/rows", data={"key": "a", "csrf_token": token}).status_code == 403


def test_an_invalid_document_is_a_422_and_nothing_is_saved(app, users, admin, connection):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/login", data={"email": users["admin"]["email"], "password": PASSWORD, "csrf_token": token})
    base = f"/admin/connections/{connection}/mapping"
    for text, path in (("fields: [", "line 1, column 10"), ("target: mini_ledger\nfields: {}\n", "fields.reference")):
        r = client.post(f"{base}/versions", data={"yaml": text, "csrf_token": token})
        assert r.status_code == 422
        assert path in r.get_data(as_text=True)
    assert client.post(f"{base}/versions", data={"yaml": "fields: {}"}).status_code == 400  # no CSRF token
    assert admin.get(f"/api/v1/connections/{connection}/mapping/versions").json == []


def test_a_non_admin_is_refused_in_the_browser(users, page, connection):
    log_in(page, users["sales"]["email"])
    response = page.goto(f"/admin/connections/{connection}/mapping")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_text("Your role may not open this page.")).to_be_visible()


def test_a_1c_web_service_mapping_keeps_its_cyrillic_names_and_previews_the_envelope(app, users, page, admin, sales):
    """The real 1C-style SOAP service of the tests: the preview builds the envelope from its WSDL."""
    with OnecSoapServer() as onec:
        make_connection(app, "1С Бухгалтерия", "onec_soap", onec.config, document_mode=DocumentMode.POSTED)
        product = {"sku": "НС-100", "name": "Насос", "list_price": "1250.00", "currency": "RUB", "tax_rate": "0.20"}
        assert admin.post("/api/v1/products", json=product).status_code == 201
        customer = sales.post("/api/v1/customers", json={"name": "ООО «Ромашка»", "default_currency": "RUB"}).json
        body = {"title": "Насосы", "customer_id": customer["id"], "lines": [{"sku": "НС-100", "quantity": 2}]}
        deal = sales.post("/api/v1/deals", json=body).json
        won = sales.post(f"/api/v1/deals/{deal['id']}/won").json
        number = won["invoices"][0]["number"]

        log_in(page, users["admin"]["email"])
        page.goto("/admin/connections")
        page.get_by_role("link", name="Mapping of 1С Бухгалтерия").click()
        editor = page.get_by_label("Mapping document (YAML)")
        original = editor.input_value()
        # Cyrillic as written, never as \u escapes
        assert "ВнешнийНомер:\n    expr: idempotency_key" in original
        assert "create_operation: СоздатьСчет" in original
        assert "\\u" not in original

        # A draft that writes a Cyrillic constant, previewed before it is active.
        comment = "  Комментарий:\n    expr: notes || deal_reference\n"
        assert comment in original
        editor.fill(original.replace(comment, "  Комментарий:\n    const: Счёт из CRM\n"))
        page.get_by_role("button", name="Save as draft").click()
        expect(page.get_by_role("status")).to_contain_text("Version 1 saved as a draft")
        expect(editor).to_have_value(re.compile("Комментарий:\n    const: Счёт из CRM\n"))
        page.get_by_label("Deal number or id").fill(deal["number"])
        page.get_by_label("With", exact=True).select_option("1")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview-result")).to_contain_text("ready to send")
        payload = page.locator("#preview-payload")
        expect(payload).to_contain_text('"operation": "СоздатьСчет"')
        expect(payload).to_contain_text('"Наименование": "ООО «Ромашка»"')
        expect(payload).to_contain_text('"Комментарий": "Счёт из CRM"')
        envelope = page.locator("#preview-envelope")
        expect(envelope).to_contain_text(f"<ns0:ВнешнийНомер>{number}</ns0:ВнешнийНомер>")
        expect(envelope).to_contain_text("<ns0:Артикул>НС-100</ns0:Артикул>")
        screenshot(page, "admin-mapping-preview-1c-soap")
        page.locator("#preview-result").screenshot(path=str(ARTIFACTS / "admin-mapping-preview-1c-soap-result.png"))
        assert onec.invoices == {}  # nothing was sent


def test_a_1c_odata_preview_looks_up_in_cyrillic_and_shows_what_the_push_would_create(app, users, page, admin, sales):
    """1C's OData interface cannot be reached from CI: its answers come from `responses` in this
    process (where the test app runs), shaped as in tests/integration/test_onec_odata.py; the look-ups the hub
    sends are asserted, and that it sends nothing else."""
    make_connection(app, "1С Торговля", "onec_odata", CONFIG)
    product = {"sku": "НС-100", "name": "Насос", "list_price": "1250.00", "currency": "RUB", "tax_rate": "0.20"}
    assert admin.post("/api/v1/products", json=product).status_code == 201
    customer = sales.post(
        "/api/v1/customers", json={"name": "ООО «Ромашка»", "default_currency": "RUB", "tax_id": "7701234567"}
    ).json
    body = {"title": "Насосы", "customer_id": customer["id"], "lines": [{"sku": "НС-100", "quantity": 2}]}
    deal = sales.post("/api/v1/deals", json=body).json
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200

    def answer(request):
        asked = unquote(request.url).removeprefix(ROOT + "/")
        if asked.startswith("Catalog_Номенклатура"):
            return 200, {}, json.dumps(listing("Catalog_Номенклатура", {"Ref_Key": PUMP_KEY, "Артикул": "НС-100"}))
        return 200, {}, json.dumps(listing("Catalog_Контрагенты"))  # no such counterparty yet

    log_in(page, users["admin"]["email"])
    page.goto("/admin/connections")
    page.get_by_role("link", name="Mapping of 1С Торговля").click()
    original = page.get_by_label("Mapping document (YAML)").input_value()
    assert "document: Document_СчетНаОплатуПокупателю" in original
    assert "  Комментарий:\n    expr: idempotency_key\n" in original
    with responses.RequestsMock() as onec:
        onec.add_callback(responses.GET, re.compile(re.escape(ROOT) + "/.*"), callback=answer)
        page.get_by_label("Deal number or id").fill(deal["number"])
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview-result")).to_contain_text("ready to send")
        sent = [(c.request.method, unquote(c.request.url).removeprefix(ROOT + "/")) for c in onec.calls]
        assert "%D0%9D%D0%A1-100" in onec.calls[0].request.url  # the article, percent-encoded as UTF-8
    assert sent == [
        ("GET", FIND_PRODUCT.format(field="Артикул", value="НС-100")),
        ("GET", FIND_CP.format(field="ИНН", value="'7701234567'")),
        ("GET", FIND_CP.format(field="Description", value="'ООО «Ромашка»'")),
    ]
    payload = page.locator("#preview-payload")
    expect(payload).to_contain_text(f'"Номенклатура_Key": "{PUMP_KEY}"')
    expect(payload).to_contain_text('"Контрагент_Key": "(new Catalog_Контрагенты item, created by the push: ИНН')
    expect(payload).to_contain_text('"СтавкаНДС": "НДС20"')
    screenshot(page, "admin-mapping-preview-1c-odata")
    page.locator("#preview-result").screenshot(path=str(ARTIFACTS / "admin-mapping-preview-1c-odata-result.png"))

"""Forms refuse bad input with the message next to the field (the API's own validation), keep
what was typed, and never answer 500; every form needs its CSRF token; pages follow the roles."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.support.ui_fixtures import log_in, nav, screenshot


def test_customer_and_deal_forms_show_errors_next_to_the_fields(users, page, admin, sales):
    admin.post("/api/v1/products", json={"sku": "PUMP-100", "name": "Pump", "list_price": "10", "currency": "EUR"})
    log_in(page, users["sales"]["email"])
    page.goto("/customers/new")
    page.get_by_label("E-mail").fill("not an e-mail")
    page.get_by_label("Country").fill("d")
    page.get_by_label("Currency").fill("abc")
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    expect(page.locator("#err-name")).to_have_text("Missing data for required field.")
    expect(page.locator("#err-email")).to_have_text("Not a valid email address.")
    expect(page.locator("#err-billing_country")).to_have_text("An ISO 3166 alpha-2 code, e.g. DE.")
    expect(page.locator("#err-default_currency")).to_have_text("'abc' is not an ISO 4217 currency code.")
    expect(page.get_by_label("E-mail")).to_have_value("not an e-mail")  # what was typed stays
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-describedby", "err-email")
    screenshot(page, "form-errors-customer")

    page.get_by_label("Name").fill("Acme Trading")
    page.get_by_label("E-mail").fill("")
    page.get_by_label("Country").fill("gb")
    page.get_by_label("Currency").fill("gbp")
    page.get_by_label("Tags").fill("retail, key-account")
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_role("heading", name="Acme Trading")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Tags")).to_have_value("retail, key-account")
    page.get_by_label("Name").fill("Acme")
    page.get_by_label("Tags").fill("")
    page.get_by_label("E-mail").fill("bad@")
    page.get_by_role("button", name="Save customer").click()
    expect(page.locator("#err-email")).to_have_text("Not a valid email address.")
    page.get_by_label("E-mail").fill("buy@acme.example")
    page.get_by_role("button", name="Save customer").click()
    expect(page.get_by_role("heading", name="Acme", exact=True)).to_be_visible()
    customer = sales.get("/api/v1/customers?q=acme").json["items"][0]
    assert (customer["email"], customer["tags"], customer["default_currency"]) == ("buy@acme.example", [], "GBP")
    page.goto("/deals/new")
    page.get_by_label("Title").fill("Bad deal")
    page.get_by_label("Quantity of line 2").fill("-1")
    page.get_by_label("Product of line 2").select_option(label="Pump (PUMP-100) · €10.00")
    page.get_by_role("button", name="Create deal").click()
    expect(page.locator("#err-customer_id")).to_have_text("Missing data for required field.")
    expect(page.locator("#err-lines-1-quantity")).to_have_text("Must be greater than 0.")  # on the row it was typed in
    page.locator("#f-customer_id").select_option(str(customer["id"]))
    page.get_by_label("Quantity of line 2").fill("2")
    page.get_by_role("button", name="Create deal").click()
    # the product is priced in EUR, the customer buys in GBP: deal_service asks for a price
    expect(page.locator("#err-lines-1-unit_price")).to_contain_text("give the unit price in the deal's currency")
    page.get_by_label("Unit price of line 2").fill("8.50")
    page.get_by_role("button", name="Create deal").click()
    expect(page.get_by_test_id("deal-total")).to_have_text("£17.00")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Probability %").fill("150")
    page.get_by_label("Title").fill("")
    page.get_by_label("Quantity of line 1").fill("3")
    page.get_by_role("button", name="Save deal").click()
    expect(page.locator("#err-probability")).to_contain_text("less than or equal to 100.")
    expect(page.locator("#err-title")).to_have_text("Field may not be null.")
    page.get_by_label("Probability %").fill("60")
    page.get_by_label("Title").fill("Good deal")
    page.get_by_label("Product of line 2").select_option(label="Pump (PUMP-100) · €10.00")
    page.get_by_label("Quantity of line 2").fill("1")
    page.get_by_label("Unit price of line 2").fill("1.50")
    page.get_by_role("button", name="Save deal").click()
    expect(page.get_by_role("heading", name="Good deal")).to_be_visible()
    expect(page.get_by_test_id("deal-total")).to_have_text("£27.00")  # 3 × 8.50 + 1 × 1.50

    page.get_by_role("button", name="Mark lost").click()
    expect(page.locator("#err-reason")).to_have_text("Say why the deal was lost.")
    page.get_by_label("Lost because").fill("Went with a competitor")
    page.get_by_role("button", name="Mark lost").click()
    expect(page.get_by_text("Lost: Went with a competitor")).to_be_visible()


def test_deal_page_logs_activities_and_tasks(users, page, sales):
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Service", "customer_id": customer["id"]}).json
    log_in(page, users["sales"]["email"])
    page.goto(f"/deals/{deal['id']}")
    page.get_by_role("button", name="Log activity").click()
    expect(page.locator("#err-activity-subject")).to_have_text("Missing data for required field.")
    page.get_by_label("Kind").select_option("meeting")
    page.get_by_label("Subject").fill("Site visit")
    page.get_by_role("button", name="Log activity").click()
    expect(page.locator(".timeline").first).to_contain_text("Meeting · Site visit")
    page.wait_for_load_state()  # forms.js has made the date fields the page's own (a date is filled next)
    page.get_by_label("New task").fill("Send the offer")
    page.get_by_label("Due").fill("2020-01-31")
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#tasks")).to_contain_text("Send the offer")
    page.get_by_role("button", name="Mark won").click()
    expect(page.get_by_role("alert")).to_contain_text("A deal needs at least one line to be won.")

    nav(page, "My tasks")
    row = page.locator("tr", has_text="Send the offer")
    expect(row).to_have_class("overdue")
    expect(page.get_by_role("status")).to_contain_text("1 overdue follow-up")
    screenshot(page, "sales-tasks")
    row.get_by_role("button", name="Done").click()
    expect(page.locator("tr", has_text="Send the offer")).to_have_count(0)


def test_customer_page_logs_activities_and_tasks_and_a_contact_has_a_page(users, page, sales):
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    person = sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Ada Lovelace"}).json
    deal = sales.post(
        "/api/v1/deals", json={"title": "Engines", "customer_id": customer["id"], "contact_id": person["id"]}
    ).json
    log_in(page, users["sales"]["email"])
    page.goto(f"/customers/{customer['id']}")
    page.get_by_role("button", name="Log activity").click()
    expect(page.locator("#err-activity-subject")).to_have_text("Missing data for required field.")
    page.get_by_label("Kind").select_option("call")
    page.get_by_label("Subject").fill("Yearly review")
    page.get_by_role("button", name="Log activity").click()
    expect(page.locator(".timeline").first).to_contain_text("Call · Yearly review")
    page.get_by_label("New task").fill("Send the price list")
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#tasks")).to_contain_text("Send the price list")

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_role("link", name=f"{deal['number']} Engines")).to_be_visible()
    screenshot(page, "sales-contact")


def test_forms_need_the_csrf_token_and_pages_follow_the_roles(app, users):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/login", data={"email": users["finance"]["email"], "password": PASSWORD}).status_code == 400
    assert (
        client.post(
            "/login", data={"email": users["finance"]["email"], "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    assert client.post("/customers/new", data={"name": "No token"}).status_code == 400
    assert client.get("/customers/new").status_code == 403  # finance reads customers, does not edit them
    assert client.get("/admin/connections").status_code == 403
    assert client.get("/invoices").status_code == 200
    assert client.get("/invoices?issued_from=yesterday").status_code == 422
    assert client.get("/deals/12345").status_code == 404
    assert client.get("/api/v1/deals/12345").json["code"] == "not_found"  # the API keeps its JSON errors
    anonymous = app.test_client()
    assert anonymous.get("/board").headers["Location"].startswith("/login?next=/board")


def test_moves_only_go_back_to_pages_of_this_site(app, users, sales):
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Service", "customer_id": customer["id"]}).json
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": users["sales"]["email"], "password": PASSWORD, "csrf_token": token})
    stages = {s["name"]: s["id"] for s in sales.get("/api/v1/pipelines").json[0]["stages"]}
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        r = client.post(
            f"/deals/{deal['id']}/move",
            data={"csrf_token": token, "stage_id": stages["Qualified"], "next": target},
        )
        assert r.status_code == 302
        assert r.headers["Location"] == "/board"
    r = client.post(f"/deals/{deal['id']}/move", data={"csrf_token": token, "stage_id": "x", "next": "/deals/1"})
    assert r.headers["Location"] == "/deals/1"


def test_log_in_and_the_board_work_from_the_keyboard(users, page, sales):
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Keyboard deal", "customer_id": customer["id"]}).json
    page.goto("/login")
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(users["sales"]["email"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Pipeline")).to_be_visible()
    move = page.get_by_role("button", name=f"Move {deal['number']} to Qualified")
    move.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"{deal['number']} Keyboard deal is now in Qualified")


def test_a_second_app_in_the_same_process_serves_the_pages(app, tmp_path):
    """Workers and tests build more than one app per process: the page blueprints must allow it."""
    from hub import create_app

    second = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}", "SECRET_KEY": "another"})
    assert second.test_client().get("/login").status_code == 200
    assert second.test_client().get("/board").status_code == 302

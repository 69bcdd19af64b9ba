"""Customers, contacts, products, activities, tasks, pipelines and users through the REST API:
each endpoint's happy path, and its error paths answered with the status and the field named."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest
from sqlalchemy import text

from hub.api.base import page_schema
from hub.api.customers import CustomerSchema
from hub.extensions import db
from hub.models import Customer, Product
from tests.support.api_errors import assert_error

CustomerPage = page_schema(CustomerSchema, "CustomerPageForTests")


@pytest.fixture
def customer(sales):
    r = sales.post(
        "/api/v1/customers",
        json={
            "name": "Acme GmbH",
            "tax_id": "DE811234567",
            "email": "office@acme.example",
            "billing_city": "Berlin",
            "billing_country": "DE",
            "default_currency": "eur",
            "tags": ["key-account", "manufacturing"],
        },
    )
    assert r.status_code == 201, r.json
    return r.json


# ---- customers ----------------------------------------------------------------------------


def test_customer_crud(sales, customer):
    assert customer["default_currency"] == "EUR"
    assert customer["tags"] == ["key-account", "manufacturing"]
    r = sales.get(f"/api/v1/customers/{customer['id']}")
    assert r.status_code == 200
    assert r.json["tax_id"] == "DE811234567"

    r = sales.patch(f"/api/v1/customers/{customer['id']}", json={"phone": "+49 30 1234", "billing_city": "München"})
    assert r.status_code == 200, r.json
    assert (r.json["phone"], r.json["billing_city"], r.json["name"]) == ("+49 30 1234", "München", "Acme GmbH")

    assert sales.delete(f"/api/v1/customers/{customer['id']}").status_code == 204
    assert_error(sales.get(f"/api/v1/customers/{customer['id']}"), 404, code="not_found")


def test_customer_list_search_filter_sort_page(sales):
    for name, email, tags in [
        ("Zeta Foods", "buy@zeta.example", ["food"]),
        ("Alpha Metals", "info@alpha.example", ["metal", "key-account"]),
        ("Beta Logistics", "ops@beta.example", ["logistics"]),
    ]:
        assert sales.post("/api/v1/customers", json={"name": name, "email": email, "tags": tags}).status_code == 201

    page = sales.get("/api/v1/customers").json
    assert [c["name"] for c in page["items"]] == ["Alpha Metals", "Beta Logistics", "Zeta Foods"]
    assert page["total"] == 3

    assert next(c["name"] for c in sales.get("/api/v1/customers?sort=-name").json["items"]) == "Zeta Foods"
    assert [c["name"] for c in sales.get("/api/v1/customers?q=ZETA.EX").json["items"]] == ["Zeta Foods"]
    assert [c["name"] for c in sales.get("/api/v1/customers?tag=key-account").json["items"]] == ["Alpha Metals"]
    # a percent sign is searched for literally, not as a wildcard
    assert sales.get("/api/v1/customers?q=%25").json["total"] == 0

    second = sales.get("/api/v1/customers?per_page=2&page=2").json
    assert (second["total"], second["page"], [c["name"] for c in second["items"]]) == (3, 2, ["Zeta Foods"])

    assert_error(sales.get("/api/v1/customers?sort=password"), 422, "sort")
    assert_error(sales.get("/api/v1/customers?per_page=0"), 422, "per_page")


def test_the_customers_list_shows_each_customer_as_its_schema_says(app, sales, customer, users):
    full = {
        "name": "Zeta Foods",
        "phone": "+49 30 1234",
        "billing_street": "Hauptstraße 1",
        "billing_postal_code": "10115",
        "billing_region": "Berlin",
        "notes": "Öffnungszeiten: 8–16 Uhr",
        "owner_id": users["sales"]["id"],
    }
    assert sales.post("/api/v1/customers", json=full).status_code == 201
    assert sales.post("/api/v1/customers", json={"name": "Bare", "tags": []}).status_code == 201

    page = sales.get("/api/v1/customers").json

    with app.app_context():
        customers = db.session.query(Customer).order_by(Customer.name, Customer.id).all()
        assert page == CustomerPage().dump(
            {"items": customers, "page": 1, "per_page": 50, "total": 3, "total_exact": True}
        )
    assert [c["name"] for c in page["items"]] == ["Acme GmbH", "Bare", "Zeta Foods"]


@pytest.mark.postgresql
def test_timestamps_are_utc_whatever_time_zone_the_database_is_set_to(app, database_url, sales):
    """The hub's sessions run in UTC, so the driver's datetimes are UTC without converting each."""
    name = database_url.rsplit("/", 1)[1]
    with app.app_context():
        db.session.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Tokyo'"))
        db.session.commit()
        db.engine.dispose()
        try:
            made = sales.post("/api/v1/customers", json={"name": "Tokyo Trading"}).json
            listed = sales.get("/api/v1/customers").json["items"][0]
            db.session.remove()
            created_at = db.session.get(Customer, made["id"]).created_at
        finally:
            db.session.rollback()
            db.session.execute(text(f'ALTER DATABASE "{name}" RESET timezone'))
            db.session.commit()
            db.engine.dispose()
    assert created_at.tzinfo is UTC
    assert listed["created_at"] == made["created_at"] == created_at.isoformat()
    assert listed["created_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 42}, "name"),
        ({"name": "X", "default_currency": "EURO"}, "default_currency"),
        ({"name": "X", "default_currency": "XYZ"}, "default_currency"),
        ({"name": "X", "email": "not-an-address"}, "email"),
        ({"name": "X", "billing_country": "Germany"}, "billing_country"),
        ({"name": "X", "tags": "vip"}, "tags"),
        ({"name": "X", "owner_id": 999999}, "owner_id"),
        ({"name": "X", "unknown_field": 1}, "unknown_field"),
    ],
)
def test_customer_refused_input_names_the_field(app, sales, body, field):
    assert_error(sales.post("/api/v1/customers", json=body), 422, field, code="validation_error")
    with app.app_context():
        assert db.session.query(Customer).count() == 0


# ISO 4217 lists them, but no invoice is made in them: "no currency", the testing code, gold, a unit
# of account, a fund, and a currency withdrawn in 2002.
NOT_TENDER = ("XXX", "xts", "XAU", "XDR", "CHE", "DEM")


@pytest.mark.parametrize("code", NOT_TENDER)
def test_a_customer_or_product_currency_no_invoice_can_be_made_in_is_refused_by_name(app, admin, sales, customer, code):
    said = [f"'{code}' is not legal tender anywhere today: no invoice can be made in it."]
    r = sales.post("/api/v1/customers", json={"name": "X", "default_currency": code})
    assert assert_error(r, 422, "default_currency")["errors"] == {"default_currency": said}
    r = sales.patch(f"/api/v1/customers/{customer['id']}", json={"default_currency": code})
    assert assert_error(r, 422, "default_currency")["errors"] == {"default_currency": said}
    body = {"sku": "P-1", "name": "P", "list_price": "1.00", "currency": code}
    assert assert_error(admin.post("/api/v1/products", json=body), 422, "currency")["errors"] == {"currency": said}
    product = admin.post("/api/v1/products", json=body | {"currency": "EUR"}).json
    r = admin.patch(f"/api/v1/products/{product['id']}", json={"currency": code})
    assert assert_error(r, 422, "currency")["errors"] == {"currency": said}
    with app.app_context():
        assert [c.default_currency for c in db.session.query(Customer)] == ["EUR"]
        assert [p.currency for p in db.session.query(Product)] == ["EUR"]


def test_a_currency_no_invoice_can_be_made_in_is_refused_in_the_readers_language(sales):
    body = {"name": "X", "default_currency": "XXX"}
    r = sales.post("/api/v1/customers", json=body, headers={"Accept-Language": "ru"})
    assert assert_error(r, 422, "default_currency")["errors"]["default_currency"] == [
        "'XXX' сегодня нигде не является законным платёжным средством: счёт в этой валюте выставить нельзя."
    ]


def test_customer_body_that_is_not_json_is_a_4xx(sales):
    r = sales.post("/api/v1/customers", data="{not json", headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert "code" in r.json
    r = sales.post("/api/v1/customers", json=["a list"])
    assert_error(r, 422)


def test_unknown_ids_are_404(sales, admin):
    for path in ("customers", "contacts", "products", "deals", "activities", "tasks"):
        assert_error(sales.get(f"/api/v1/{path}/987654"), 404, code="not_found")
        assert_error(admin.patch(f"/api/v1/{path}/987654", json={}), 404)
        assert_error(admin.delete(f"/api/v1/{path}/987654"), 404)
    assert_error(admin.get("/api/v1/users/987654"), 404)


def test_customer_with_deals_cannot_be_deleted(sales, customer):
    r = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer["id"]})
    assert r.status_code == 201, r.json
    assert_error(sales.delete(f"/api/v1/customers/{customer['id']}"), 409, code="conflict")
    assert sales.get(f"/api/v1/customers/{customer['id']}").status_code == 200


# ---- contacts -----------------------------------------------------------------------------


def test_contact_crud_and_filters(sales, customer):
    r = sales.post(
        "/api/v1/contacts",
        json={"customer_id": customer["id"], "name": "Anna Becker", "email": "anna@acme.example", "role": "CFO"},
    )
    assert r.status_code == 201, r.json
    contact = r.json
    other = sales.post("/api/v1/customers", json={"name": "Other"}).json
    sales.post("/api/v1/contacts", json={"customer_id": other["id"], "name": "Bob"})

    listed = sales.get(f"/api/v1/contacts?customer_id={customer['id']}").json
    assert [c["name"] for c in listed["items"]] == ["Anna Becker"]
    assert [c["name"] for c in sales.get("/api/v1/contacts?q=anna@").json["items"]] == ["Anna Becker"]

    r = sales.patch(f"/api/v1/contacts/{contact['id']}", json={"phone": "+49 170 1", "customer_id": other["id"]})
    assert (r.status_code, r.json["phone"], r.json["customer_id"]) == (200, "+49 170 1", other["id"])
    assert sales.delete(f"/api/v1/contacts/{contact['id']}").status_code == 204
    assert sales.get(f"/api/v1/contacts/{contact['id']}").status_code == 404


def test_contact_errors(sales, customer):
    assert_error(sales.post("/api/v1/contacts", json={"name": "No company"}), 422, "customer_id")
    assert_error(sales.post("/api/v1/contacts", json={"customer_id": 424242, "name": "X"}), 422, "customer_id")
    assert_error(sales.post("/api/v1/contacts", json={"customer_id": customer["id"]}), 422, "name")
    assert_error(
        sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "X", "email": "@"}), 422, "email"
    )


def test_deleting_a_customer_deletes_its_contacts(app, sales, customer):
    contact = sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Anna"}).json
    assert sales.delete(f"/api/v1/customers/{customer['id']}").status_code == 204
    assert sales.get(f"/api/v1/contacts/{contact['id']}").status_code == 404


# ---- products -----------------------------------------------------------------------------


def test_product_crud(admin, sales):
    r = admin.post(
        "/api/v1/products",
        json={"sku": "PUMP-1", "name": "Pump", "list_price": "1249.50", "currency": "EUR", "tax_rate": "0.19"},
    )
    assert r.status_code == 201, r.json
    product = r.json
    assert Decimal(product["list_price"]) == Decimal("1249.50")
    assert Decimal(product["tax_rate"]) == Decimal("0.19")
    assert (product["unit"], product["active"]) == ("unit", True)
    assert sales.get(f"/api/v1/products/{product['id']}").json["sku"] == "PUMP-1"
    assert [p["sku"] for p in sales.get("/api/v1/products?q=pump").json["items"]] == ["PUMP-1"]
    assert [p["sku"] for p in sales.get("/api/v1/products?sku=PUMP-1").json["items"]] == ["PUMP-1"]

    r = admin.patch(f"/api/v1/products/{product['id']}", json={"active": False, "list_price": 1300})
    assert (r.status_code, r.json["active"], Decimal(r.json["list_price"])) == (200, False, 1300)
    assert sales.get("/api/v1/products?active=true").json["total"] == 0
    assert admin.delete(f"/api/v1/products/{product['id']}").status_code == 204


def test_product_price_is_exact_decimal(app, admin):
    r = admin.post(
        "/api/v1/products", json={"sku": "D-1", "name": "Exact", "list_price": 0.1, "currency": "EUR", "tax_rate": 0.07}
    )
    assert r.status_code == 201, r.json
    assert Decimal(r.json["list_price"]) == Decimal("0.1")
    with app.app_context():
        product = db.session.get(Product, r.json["id"])
        assert product.list_price == Decimal("0.1")
        assert product.tax_rate == Decimal("0.07")


def test_duplicate_sku_is_409_naming_sku(app, admin):
    body = {"sku": "DUP-1", "name": "One", "list_price": "1", "currency": "EUR"}
    assert admin.post("/api/v1/products", json=body).status_code == 201
    assert_error(admin.post("/api/v1/products", json={**body, "name": "Two"}), 409, "sku", code="conflict")
    other = admin.post("/api/v1/products", json={**body, "sku": "DUP-2"}).json
    assert_error(admin.patch(f"/api/v1/products/{other['id']}", json={"sku": "DUP-1"}), 409, "sku")
    with app.app_context():
        assert sorted(p.sku for p in db.session.query(Product)) == ["DUP-1", "DUP-2"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"sku": None}, "sku"),
        ({"list_price": "-1"}, "list_price"),
        ({"list_price": "abc"}, "list_price"),
        ({"list_price": "NaN"}, "list_price"),
        ({"list_price": "1.123456"}, "list_price"),
        ({"list_price": True}, "list_price"),
        ({"currency": "ZZZ"}, "currency"),
        ({"currency": None}, "currency"),
        ({"tax_rate": "1.5"}, "tax_rate"),
        ({"tax_rate": "-0.1"}, "tax_rate"),
        ({"active": "maybe"}, "active"),
    ],
)
def test_product_refused_input_names_the_field(admin, patch, field):
    body = {"sku": "P-1", "name": "P", "list_price": "1.00", "currency": "EUR"} | patch
    assert_error(admin.post("/api/v1/products", json=body), 422, field)


def test_product_on_a_deal_line_cannot_be_deleted(admin, sales, customer):
    product = admin.post("/api/v1/products", json={"sku": "L-1", "name": "L", "list_price": "5", "currency": "EUR"})
    deal = sales.post(
        "/api/v1/deals", json={"title": "T", "customer_id": customer["id"], "lines": [{"sku": "L-1", "quantity": 1}]}
    )
    assert deal.status_code == 201, deal.json
    assert_error(admin.delete(f"/api/v1/products/{product.json['id']}"), 409)


# ---- activities and tasks -----------------------------------------------------------------


def test_activity_crud(sales, users, customer):
    deal = sales.post("/api/v1/deals", json={"title": "T", "customer_id": customer["id"]}).json
    r = sales.post(
        "/api/v1/activities",
        json={
            "kind": "call",
            "subject": "Intro call",
            "body": "Talked pumps.",
            "occurred_at": "2026-11-20T10:00:00+01:00",
            "deal_id": deal["id"],
        },
    )
    assert r.status_code == 201, r.json
    activity = r.json
    assert activity["author_id"] == users["sales"]["id"]
    assert activity["customer_id"] == customer["id"]  # taken from the deal
    assert activity["occurred_at"].startswith("2026-11-20T09:00:00")  # stored in UTC

    listed = sales.get(f"/api/v1/activities?deal_id={deal['id']}").json
    assert [a["subject"] for a in listed["items"]] == ["Intro call"]
    r = sales.patch(f"/api/v1/activities/{activity['id']}", json={"kind": "meeting"})
    assert (r.status_code, r.json["kind"]) == (200, "meeting")
    assert sales.delete(f"/api/v1/activities/{activity['id']}").status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "No kind", "customer_id": None}, "kind"),
        ({"kind": "fax", "subject": "X"}, "kind"),
        ({"kind": "call"}, "subject"),
        ({"kind": "call", "subject": "X", "occurred_at": "yesterday"}, "occurred_at"),
        ({"kind": "call", "subject": "X", "deal_id": 99999}, "deal_id"),
        ({"kind": "call", "subject": "X", "customer_id": 99999}, "customer_id"),
    ],
)
def test_activity_refused_input(sales, body, field):
    assert_error(sales.post("/api/v1/activities", json=body), 422, field)


def test_task_crud_mine_and_overdue(sales, users, customer):
    r = sales.post(
        "/api/v1/tasks", json={"title": "Send offer", "due_date": "2020-01-01", "customer_id": customer["id"]}
    )
    assert r.status_code == 201, r.json
    task = r.json
    assert task["assignee_id"] == users["sales"]["id"]
    sales.post("/api/v1/tasks", json={"title": "Later", "due_date": "2999-01-01", "assignee_id": users["admin"]["id"]})

    assert [t["title"] for t in sales.get("/api/v1/tasks?overdue=true").json["items"]] == ["Send offer"]
    assert [t["title"] for t in sales.get("/api/v1/tasks?mine=true").json["items"]] == ["Send offer"]

    r = sales.patch(f"/api/v1/tasks/{task['id']}", json={"done": True})
    assert r.status_code == 200
    assert r.json["done"] is True
    assert r.json["done_at"]
    assert sales.get("/api/v1/tasks?overdue=true").json["total"] == 0
    assert sales.delete(f"/api/v1/tasks/{task['id']}").status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "X", "due_date": "31.12.2026"}, "due_date"),
        ({"title": "X", "assignee_id": 99999}, "assignee_id"),
        ({"title": "X", "done": "yes please"}, "done"),
    ],
)
def test_task_refused_input(sales, body, field):
    assert_error(sales.post("/api/v1/tasks", json=body), 422, field)


# ---- pipelines ----------------------------------------------------------------------------


def test_default_pipeline_is_seeded_by_the_migration(sales):
    pipelines = sales.get("/api/v1/pipelines").json
    (default,) = pipelines
    assert [(s["name"], s["kind"]) for s in default["stages"]] == [
        ("New", "open"),
        ("Qualified", "open"),
        ("Proposal", "open"),
        ("Negotiation", "open"),
        ("Won", "won"),
        ("Lost", "lost"),
    ]
    probabilities = [s["probability"] for s in default["stages"]]
    assert probabilities[-2:] == [100, 0]
    assert probabilities[:4] == sorted(probabilities[:4])


# ---- users --------------------------------------------------------------------------------


def test_users_admin_crud(admin, call):
    r = admin.post(
        "/api/v1/users",
        json={"email": "New.Seller@Example.com", "name": "Nina", "role": "sales", "password": "s3cret-pw!"},
    )
    assert r.status_code == 201, r.json
    user = r.json
    assert user["email"] == "new.seller@example.com"
    assert "password" not in user
    assert "password_hash" not in user
    assert_error(
        admin.post(
            "/api/v1/users",
            json={"email": "new.seller@example.com", "name": "Dup", "role": "sales", "password": "another-pw-1"},
        ),
        409,
        "email",
    )
    assert [u["email"] for u in admin.get("/api/v1/users?q=nina").json["items"]] == ["new.seller@example.com"]
    r = admin.patch(f"/api/v1/users/{user['id']}", json={"role": "finance", "active": False})
    assert (r.status_code, r.json["role"], r.json["active"]) == (200, "finance", False)
    assert_error(
        admin.post(
            "/api/v1/users", json={"email": "x@example.com", "name": "X", "role": "boss", "password": "another-pw-1"}
        ),
        422,
        "role",
    )
    assert_error(
        admin.post("/api/v1/users", json={"email": "nope", "name": "X", "role": "sales", "password": "another-pw-1"}),
        422,
        "email",
    )
    assert admin.delete(f"/api/v1/users/{user['id']}").status_code == 204


def test_me_and_own_tokens(call, users):
    finance = call("finance")
    me = finance.get("/api/v1/me")
    assert (me.status_code, me.json["email"], me.json["role"]) == (200, "finance@example.com", "finance")

    r = finance.post("/api/v1/tokens", json={"name": "reporting script"})
    assert r.status_code == 201, r.json
    clear = r.json["token"]
    listed = finance.get("/api/v1/tokens").json
    assert [t["name"] for t in listed] == ["tests", "reporting script"]
    assert all("token" not in t and "token_hash" not in t for t in listed)

    script = finance.__class__(finance.client, clear)
    assert script.get("/api/v1/me").json["email"] == "finance@example.com"
    assert finance.delete(f"/api/v1/tokens/{r.json['id']}").status_code == 204
    assert_error(script.get("/api/v1/me"), 401, code="unauthorized")
    # another user's token is not found, not revocable
    assert call("sales").delete(f"/api/v1/tokens/{listed[0]['id']}").status_code == 404


def test_an_admin_cannot_lock_themselves_out(admin, users):
    me = users["admin"]["id"]
    assert_error(admin.patch(f"/api/v1/users/{me}", json={"role": "sales"}), 409)
    assert_error(admin.delete(f"/api/v1/users/{me}"), 409)

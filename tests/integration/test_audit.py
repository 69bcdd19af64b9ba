"""The audit log: every create, update and delete, with who did it and what changed, field by field."""

from __future__ import annotations

from tests.support.api_errors import assert_error


def entries(caller, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    r = caller.get(f"/api/v1/audit?{query}")
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_update_lists_changed_fields_with_old_and_new_values(sales, admin, users):
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "phone": "+49 1", "tags": ["a"]}).json
    r = sales.patch(
        f"/api/v1/customers/{customer['id']}",
        json={"name": "Acme GmbH", "phone": "+49 2", "tags": ["a", "b"], "email": None},
    )
    assert r.status_code == 200

    (update,) = entries(admin, entity="customers", entity_id=customer["id"], action="update")
    assert update["changes"] == {
        "name": {"old": "Acme", "new": "Acme GmbH"},
        "phone": {"old": "+49 1", "new": "+49 2"},
        "tags": {"old": ["a"], "new": ["a", "b"]},
    }  # e-mail was None and stays None: not a change
    assert (update["actor_id"], update["actor"]) == (users["sales"]["id"], "sales@example.com")


def test_create_and_delete_are_logged(sales, admin):
    product = admin.post("/api/v1/products", json={"sku": "A-1", "name": "A", "list_price": "9.90", "currency": "EUR"})
    (create,) = entries(admin, entity="products", action="create")
    assert create["entity_id"] == str(product.json["id"])
    assert create["changes"]["sku"] == {"old": None, "new": "A-1"}
    assert create["changes"]["list_price"]["new"] in ("9.90", "9.9000")

    admin.delete(f"/api/v1/products/{product.json['id']}")
    (delete,) = entries(admin, entity="products", action="delete")
    assert delete["changes"]["sku"] == {"old": "A-1", "new": None}


def test_decimal_change_is_logged_exactly(sales, admin):
    customer = sales.post("/api/v1/customers", json={"name": "C"}).json
    deal = sales.post(
        "/api/v1/deals",
        json={
            "title": "D",
            "customer_id": customer["id"],
            "lines": [{"description": "x", "quantity": 1, "unit_price": "0.10"}],
        },
    ).json
    sales.patch(f"/api/v1/deals/{deal['id']}", json={"probability": 55})
    newest = entries(admin, entity="deals", entity_id=deal["id"], action="update")[0]
    assert newest["changes"] == {"probability": {"old": None, "new": 55}}


def test_a_refused_request_leaves_no_audit_entry(sales, admin):
    customer = sales.post("/api/v1/customers", json={"name": "C"}).json
    before = len(entries(admin))
    assert_error(sales.patch(f"/api/v1/customers/{customer['id']}", json={"default_currency": "XXX1"}), 422)
    assert len(entries(admin)) == before


def test_secrets_never_reach_the_audit_log(admin):
    r = admin.post(
        "/api/v1/users", json={"email": "x@example.com", "name": "X", "role": "sales", "password": "hunter2-hunter2"}
    )
    assert r.status_code == 201
    (create,) = entries(admin, entity="users", entity_id=r.json["id"], action="create")
    assert "hunter2" not in str(create)
    assert create["changes"].get("password_hash", {}).get("new") in (None, "***")


def test_audit_is_for_admin_and_finance(call):
    assert call("finance").get("/api/v1/audit").status_code == 200
    assert_error(call("sales").get("/api/v1/audit"), 403, code="forbidden")
    assert_error(call(None).get("/api/v1/audit"), 401, code="unauthorized")

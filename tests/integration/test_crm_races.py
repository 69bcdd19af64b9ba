"""The CRM records other than a deal's stage under concurrent requests, on SQLite and PostgreSQL
alike: a record deleted while another request refers to it, and two records made at once that
may not both exist. Each request runs to a clear answer naming what stopped it (never the
integrity error's "a duplicate?" without a field, never a 500), and what is left is consistent.

Each race in a fixed order (tests/support/races.py): the first request has written its change
but not committed it when the second arrives; the second must wait for it, then decide from
what the first committed."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import func, select

from hub.extensions import db
from hub.models import Activity, Customer, Deal, Pipeline, Product, Task, User
from tests.support.races import holding_the_commit, in_order


def _deleting(session) -> bool:
    return bool(session.deleted)


def _making(model: type):
    # Dirty too: a new deal is flushed once for its id, and numbered after.
    return lambda session: any(isinstance(obj, model) for obj in (*session.new, *session.dirty))


def count(app, model: type, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def customer(sales) -> int:
    return sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json["id"]


@pytest.fixture
def product(admin) -> int:
    body = {"sku": "PUMP-100", "name": "Pump", "list_price": "100", "currency": "EUR"}
    return admin.post("/api/v1/products", json=body).json["id"]


def test_a_deal_made_for_a_customer_being_deleted_names_the_customer(app, users, monkeypatch, customer):
    deleting, making = in_order(
        app,
        users,
        monkeypatch,
        ("DELETE", f"/api/v1/customers/{customer}", None),
        ("POST", "/api/v1/deals", {"title": "Pumps", "customer_id": customer}),
        holding=partial(holding_the_commit, of=_deleting),
    )
    assert deleting.status_code == 204
    assert making.status_code == 422, making.json
    assert making.json["errors"] == {"customer_id": [f"No customer with id {customer}."]}
    assert count(app, Deal) == 0


def test_a_customer_deleted_while_a_deal_is_made_for_it_stays_with_its_deal(app, users, monkeypatch, customer):
    making, deleting = in_order(
        app,
        users,
        monkeypatch,
        ("POST", "/api/v1/deals", {"title": "Pumps", "customer_id": customer}),
        ("DELETE", f"/api/v1/customers/{customer}", None),
        holding=partial(holding_the_commit, of=_making(Deal)),
    )
    assert making.status_code == 201
    assert deleting.status_code == 409, deleting.json
    assert deleting.json["message"] == f"Customer {customer} has 1 deal; delete or reassign it first."
    assert count(app, Customer) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/contacts", {"name": "Eve"}),
        ("/api/v1/tasks", {"title": "Call back"}),
        ("/api/v1/activities", {"kind": "call", "subject": "Called"}),
    ],
    ids=["contact", "task", "activity"],
)
def test_a_record_made_for_a_customer_being_deleted_names_the_customer(app, users, monkeypatch, customer, path, body):
    # Without the hold, the record was answered 201 and then went with the customer (ON DELETE
    # CASCADE), or was refused with the integrity error's "a duplicate?".
    deleting, making = in_order(
        app,
        users,
        monkeypatch,
        ("DELETE", f"/api/v1/customers/{customer}", None),
        ("POST", path, {**body, "customer_id": customer}),
        holding=partial(holding_the_commit, of=_deleting),
    )
    assert deleting.status_code == 204
    assert making.status_code == 422, making.json
    assert making.json["errors"] == {"customer_id": [f"No customer with id {customer}."]}


@pytest.mark.parametrize("model", [Activity, Task], ids=["activity", "task"])
def test_a_record_logged_on_a_deal_being_deleted_names_the_deal(app, users, sales, monkeypatch, customer, model):
    deal = sales.post("/api/v1/deals", json={"title": "Pumps", "customer_id": customer}).json["id"]
    body = {"kind": "call", "subject": "Called"} if model is Activity else {"title": "Call back"}
    deleting, logging = in_order(
        app,
        users,
        monkeypatch,
        ("DELETE", f"/api/v1/deals/{deal}", None),
        ("POST", f"/api/v1/{model.__tablename__}", {**body, "deal_id": deal}),
    )
    assert deleting.status_code == 204
    assert logging.status_code == 422, logging.json
    assert logging.json["errors"] == {"deal_id": [f"No deal with id {deal}."]}
    assert count(app, model) == 0


def test_a_deal_line_of_a_product_being_deleted_names_the_line(app, users, monkeypatch, customer, product):
    deleting, making = in_order(
        app,
        users,
        monkeypatch,
        ("DELETE", f"/api/v1/products/{product}", None),
        (
            "POST",
            "/api/v1/deals",
            {"title": "Pumps", "customer_id": customer, "lines": [{"product_id": product, "quantity": 1}]},
        ),
        holding=partial(holding_the_commit, of=_deleting),
        roles=("admin", "sales"),
    )
    assert deleting.status_code == 204
    assert making.status_code == 422, making.json
    assert making.json["errors"] == {"lines[0].product_id": [f"No product with id {product}."]}
    assert count(app, Deal) == 0


def test_a_product_deleted_while_a_deal_line_takes_it_stays(app, users, monkeypatch, customer, product):
    making, deleting = in_order(
        app,
        users,
        monkeypatch,
        (
            "POST",
            "/api/v1/deals",
            {"title": "Pumps", "customer_id": customer, "lines": [{"product_id": product, "quantity": 1}]},
        ),
        ("DELETE", f"/api/v1/products/{product}", None),
        holding=partial(holding_the_commit, of=_making(Deal)),
        roles=("sales", "admin"),
    )
    assert making.status_code == 201
    assert deleting.status_code == 409, deleting.json
    assert "is on deal lines" in deleting.json["message"]
    assert count(app, Product) == 1


def test_skus_that_differ_only_in_case_sent_at_once_make_one_product(app, users, monkeypatch):
    body = {"name": "Pump", "list_price": "10", "currency": "EUR"}
    first, second = in_order(
        app,
        users,
        monkeypatch,
        ("POST", "/api/v1/products", {**body, "sku": "PUMP-100"}),
        ("POST", "/api/v1/products", {**body, "sku": "pump-100"}),
        holding=partial(holding_the_commit, of=_making(Product)),
        roles=("admin", "admin"),
    )
    assert first.status_code == 201
    assert second.status_code == 409, second.json
    assert second.json["errors"] == {"sku": ["Already used."]}
    assert count(app, Product) == 1


def test_two_pipelines_made_the_default_at_once_leave_one_default(app, users, monkeypatch):
    stages = [
        {"name": "New", "probability": 10},
        {"name": "Won", "probability": 100, "kind": "won"},
        {"name": "Lost", "probability": 0, "kind": "lost"},
    ]
    first, second = in_order(
        app,
        users,
        monkeypatch,
        ("POST", "/api/v1/pipelines", {"name": "Projects", "is_default": True, "stages": stages}),
        ("POST", "/api/v1/pipelines", {"name": "Service", "is_default": True, "stages": stages}),
        holding=partial(holding_the_commit, of=_making(Pipeline)),
        roles=("admin", "admin"),
    )
    assert (first.status_code, second.status_code) == (201, 201)
    with app.app_context():
        assert db.session.scalars(select(Pipeline.name).where(Pipeline.is_default.is_(True))).all() == ["Service"]


def test_one_e_mail_sent_twice_at_once_is_refused_by_name(app, users, monkeypatch):
    body = {"email": "ann@example.com", "name": "Ann", "role": "sales", "password": "correct-horse-9"}
    first, second = in_order(
        app,
        users,
        monkeypatch,
        ("POST", "/api/v1/users", body),
        ("POST", "/api/v1/users", {**body, "email": "ANN@example.com"}),
        holding=partial(holding_the_commit, of=_making(User)),
        roles=("admin", "admin"),
    )
    assert first.status_code == 201
    assert second.status_code == 409, second.json
    assert second.json["errors"] == {"email": ["Already used."]}
    assert count(app, User, User.email == "ann@example.com") == 1

"""Derived data stays equal to a recount whichever way the data under it is written.

stage_totals (the board's counts and totals) are kept by triggers on deals (migrations 0016 and
0021): every kind of write is followed by a comparison of the whole table, row for row, with a
recount from the deals, so a row left behind at zero counts as a difference too.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from hub.audit import acting_as, insert_audited, update_audited
from hub.bulk import insert_rows, update_rows
from hub.extensions import db
from hub.models import AuditEntry, Customer, Deal, Pipeline, Stage, StageTotal
from hub.services.board import UNITS
from tests.conftest import PASSWORD

LINE = {"description": "Pump", "quantity": 1, "unit_price": "100.00"}


def kept() -> dict[tuple[int, int, str], tuple[int, int]]:
    return {
        (r.stage_id, r.owner_key, r.currency): (r.deal_count, r.total_units)
        for r in db.session.scalars(select(StageTotal))
    }


def recounted() -> dict[tuple[int, int, str], tuple[int, int]]:
    deals = Deal.__table__
    counts: Counter = Counter()
    units: Counter = Counter()
    for stage_id, owner_id, currency, total in db.session.execute(
        select(deals.c.stage_id, deals.c.owner_id, deals.c.currency, deals.c.total)
    ):
        key = (stage_id, owner_id or 0, currency)
        counts[key] += 1
        units[key] += int(Decimal(total) * UNITS)
    return {key: (n, units[key]) for key, n in counts.items()}


def assert_kept(app: Flask, after: str) -> None:
    with app.app_context():
        assert kept() == recounted(), f"stage_totals differ from a recount after: {after}"


def new_deal(caller, customer_id: int, **fields: Any) -> dict:
    r = caller.post("/api/v1/deals", json={"title": "Pumps", "customer_id": customer_id, "lines": [LINE], **fields})
    assert r.status_code == 201, r.json
    return r.json


def new_user(admin, email: str) -> int:
    r = admin.post("/api/v1/users", json={"email": email, "name": email, "role": "sales", "password": PASSWORD})
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_a_deleted_users_totals_are_not_the_next_users(app, admin, sales):
    """The issue's report: a user who owned a deal is deleted; the next user (on SQLite, with the
    same id) must see an empty board under their own name, and no row is kept under the old id."""
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    gone = new_user(admin, "gone@example.com")
    new_deal(sales, customer["id"], owner_id=gone)
    assert admin.delete(f"/api/v1/users/{gone}").status_code == 204

    with app.app_context():
        assert db.session.scalars(select(StageTotal).where(StageTotal.owner_key == gone)).all() == []
    successor = new_user(admin, "next@example.com")
    with app.app_context():
        pipeline = db.session.scalar(select(Pipeline.id).where(Pipeline.is_default.is_(True)))
    board = sales.get(f"/api/v1/pipelines/{pipeline}/board?owner_id={successor}").json
    assert [(c["count"], c["totals"], c["deals"]) for c in board["columns"] if c["count"] or c["totals"]] == []
    everyone = sales.get(f"/api/v1/pipelines/{pipeline}/board").json
    assert [(c["count"], c["totals"]) for c in everyone["columns"] if c["count"]] == [
        (1, [{"currency": "EUR", "total": "100.00"}])
    ]
    assert_kept(app, "a user's deletion")


def test_stage_totals_equal_a_recount_after_every_kind_of_write(app, admin, sales, users):
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    other_customer = sales.post("/api/v1/customers", json={"name": "Beta AG", "default_currency": "CHF"}).json
    owner = new_user(admin, "owner@example.com")

    a = new_deal(sales, customer["id"])
    b = new_deal(sales, customer["id"], owner_id=owner, currency="CHF")
    c = new_deal(sales, other_customer["id"], owner_id=owner)
    assert_kept(app, "creating deals")

    sales.patch(f"/api/v1/deals/{a['id']}", json={"lines": [{**LINE, "quantity": 3}]})
    sales.patch(f"/api/v1/deals/{b['id']}", json={"owner_id": users["admin"]["id"], "currency": "USD"})
    assert_kept(app, "updating deals (lines, owner, currency)")

    assert sales.post(f"/api/v1/deals/{a['id']}/stage", json={"stage": "Proposal"}).status_code == 200
    assert_kept(app, "moving a deal")
    assert sales.post(f"/api/v1/deals/{a['id']}/won").status_code == 200
    assert_kept(app, "winning a deal")
    assert sales.post(f"/api/v1/deals/{a['id']}/lost", json={"reason": "Budget cut"}).status_code == 200
    assert sales.post(f"/api/v1/deals/{c['id']}/lost", json={"reason": "Too dear"}).status_code == 200
    assert_kept(app, "losing deals")

    assert sales.delete(f"/api/v1/deals/{new_deal(sales, customer['id'])['id']}").status_code == 204
    assert_kept(app, "deleting a deal")

    with app.app_context():
        pipeline = db.session.scalar(select(Pipeline).where(Pipeline.is_default.is_(True)))
        first, second = pipeline.stages[0].id, pipeline.stages[1].id
        rows = [
            {
                "title": f"Imported {i}",
                "customer_id": customer["id"],
                "owner_id": owner if i % 2 else None,
                "pipeline_id": pipeline.id,
                "stage_id": first,
                "currency": "EUR",
                "subtotal": Decimal("10.5"),
                "discount_total": Decimal(0),
                "tax_total": Decimal(0),
                "total": Decimal("10.5"),
            }
            for i in range(6)
        ]
        ids = [i for (i,) in insert_rows(db.session, Deal.__table__, rows, returning=("id",))]
        db.session.commit()
    assert_kept(app, "a bulk insert of deals")
    with app.app_context():
        update_rows(
            db.session,
            Deal.__table__,
            [{"id": i, "stage_id": second, "owner_id": None, "total": Decimal("0.25") * n} for n, i in enumerate(ids)],
        )
        db.session.commit()
    assert_kept(app, "a bulk update of deals")

    assert admin.delete(f"/api/v1/users/{owner}").status_code == 204
    assert_kept(app, "deleting a user who owns deals")
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(StageTotal.owner_key == owner)) == 0

    made = admin.post(
        "/api/v1/pipelines",
        json={
            "name": "Service",
            "stages": [
                {"name": "Asked", "probability": 10},
                {"name": "Spare", "probability": 20},
                {"name": "Done", "probability": 100, "kind": "won"},
                {"name": "Dropped", "probability": 0, "kind": "lost"},
            ],
        },
    )
    assert made.status_code == 201, made.json
    service = made.json
    d = new_deal(sales, other_customer["id"], pipeline_id=service["id"], owner_id=users["admin"]["id"])
    assert sales.post(f"/api/v1/deals/{d['id']}/stage", json={"stage": "Dropped", "reason": "No"}).status_code == 200
    assert_kept(app, "deals in a second pipeline")
    with app.app_context():
        db.session.delete(db.session.get(Stage, service["stages"][1]["id"]))
        db.session.commit()
    assert_kept(app, "deleting a stage")

    assert sales.delete(f"/api/v1/deals/{d['id']}").status_code == 204
    with app.app_context():
        db.session.delete(db.session.get(Pipeline, service["id"]))
        db.session.commit()
        assert db.session.get(Stage, service["stages"][0]["id"]) is None
    assert_kept(app, "deleting a pipeline with its stages")

    with app.app_context():
        db.session.execute(delete(Deal).where(Deal.customer_id == other_customer["id"]))
        db.session.commit()
    assert_kept(app, "deleting a customer's deals in one statement")
    assert sales.delete(f"/api/v1/customers/{other_customer['id']}").status_code == 204
    assert_kept(app, "deleting a customer")

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StageTotal)) > 0  # the walk left deals


def test_bulk_writes_are_audited_once_each(app, users):
    """The bulk writers audit what they write themselves (no session listener sees a Core
    statement), with the values the listener would record; an ORM write in the same transaction
    is audited by the listener, once."""
    with app.app_context(), acting_as(users["admin"]["id"], "tests"):
        table = Customer.__table__
        rows = [{"name": f"Bulk {i}", "default_currency": "EUR", "tags": []} for i in range(3)]
        ids = insert_audited(db.session, table, rows, "name")
        renamed = update_audited(db.session, table, {i: {"name": (n, f"Renamed {n}")} for n, i in ids.items()})
        db.session.add(Customer(name="One by one", default_currency="EUR"))
        db.session.commit()
        entries = {
            (e.entity_id, e.action): e.changes
            for e in db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "customers"))
        }
        one = db.session.scalar(select(Customer.id).where(Customer.name == "One by one"))
        names = set(db.session.scalars(select(Customer.name)))
        count = db.session.scalar(select(func.count()).where(AuditEntry.entity == "customers"))
    assert renamed == 3
    assert names == {"Renamed Bulk 0", "Renamed Bulk 1", "Renamed Bulk 2", "One by one"}
    assert count == len(entries) == 7
    for name, i in ids.items():
        assert entries[(str(i), "create")] == {
            "name": {"old": None, "new": name},
            "default_currency": {"old": None, "new": "EUR"},
            "tags": {"old": None, "new": []},
        }
        assert entries[(str(i), "update")] == {"name": {"old": name, "new": f"Renamed {name}"}}
    assert entries[(str(one), "create")]["name"] == {"old": None, "new": "One by one"}

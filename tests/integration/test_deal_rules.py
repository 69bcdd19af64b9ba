"""The deal rules of hub/services/deals.py that test_deals leaves unread: which pipeline and stage a
new deal gets, every refusal's own words, the fields read back, the limits on a line and a deal, a
currency change, the stock check on won, and what a move returns (moved or not, the events it wrote).

Written against the mutants of `make mutate MODULE=hub/services/deals.py` (docs/testing.md): each
test names the function whose mutants it kills."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update

from hub.errors import ValidationFailed
from hub.extensions import db
from hub.models import (
    Connection,
    Deal,
    DealStageChange,
    OutboxEvent,
    OutboxState,
    Pipeline,
    Stage,
    StageKind,
    StockLevel,
    Warehouse,
)
from hub.models.base import utcnow
from hub.seed import seed
from hub.services import deals as deal_service
from hub.sync.outbox import PUSH_JOB, RUN_EVENTS, Written
from hub.sync.queue import get_queue
from tests.conftest import make_connection
from tests.support.api_errors import assert_error

NOWHERE = {"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout": 1}  # nothing is pushed here
LINE = {"description": "Service", "quantity": 1, "unit_price": "10.00"}


@pytest.fixture
def customer(sales) -> dict:
    return sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json


@pytest.fixture
def pump(admin) -> dict:
    body = {"sku": "PUMP", "name": "Pump", "list_price": "100.00", "currency": "EUR", "tax_rate": "0.19"}
    return admin.post("/api/v1/products", json=body).json


def new_deal(sales, customer: dict, lines: list[dict] | None = None, **fields) -> dict:
    body = {"title": "Pumps", "customer_id": customer["id"], "lines": [LINE] if lines is None else lines, **fields}
    r = sales.post("/api/v1/deals", json=body)
    assert r.status_code == 201, r.json
    return r.json


def errors_of(response, status: int = 422) -> dict[str, list[str]]:
    assert response.status_code == status, response.json
    return response.json["errors"]


def projects(admin, **fields) -> dict:
    """A second pipeline, with a stage of each kind."""
    stages = [
        {"name": "Lead", "probability": 10},
        {"name": "Signed", "probability": 100, "kind": "won"},
        {"name": "Dropped", "probability": 0, "kind": "lost"},
    ]
    r = admin.post("/api/v1/pipelines", json={"name": "Projects", "stages": stages, **fields})
    assert r.status_code == 201, r.json
    return r.json


# ---- default_pipeline, _pipeline_for, _initial_stage, find_stage ------------------------------


def test_a_new_deal_goes_to_the_default_pipeline_or_the_one_named_in_its_first_open_stage(sales, admin, customer):
    """default_pipeline orders by is_default before id; _pipeline_for takes the pipeline named."""
    sales_pipeline = sales.get("/api/v1/pipelines").json[0]
    later_default = projects(admin, is_default=True)

    deal = new_deal(sales, customer)
    assert (deal["pipeline_id"], deal["stage"]["name"]) == (later_default["id"], "Lead")
    named = new_deal(sales, customer, pipeline_id=sales_pipeline["id"])
    assert (named["pipeline_id"], named["stage"]["name"]) == (sales_pipeline["id"], "New")


def test_without_any_pipeline_a_deal_is_refused_with_what_to_do(app, sales, customer):
    """default_pipeline's conflict and its words."""
    with app.app_context():
        for pipeline in db.session.scalars(select(Pipeline)):
            db.session.delete(pipeline)
        db.session.commit()

    r = sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"]})

    assert_error(r, 409, code="conflict")
    assert r.json["message"] == "No pipeline is set up; run 'crmhub db upgrade' (it creates the default pipeline)."


def test_a_deal_starts_in_the_open_stage_named_and_is_refused_a_closed_or_unknown_one(sales, customer):
    """_initial_stage and find_stage: by name in any case and spacing, by id as a number or as
    digits; the refusals say why and list the pipeline's stages."""
    pipeline = sales.get("/api/v1/pipelines").json[0]
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}

    assert new_deal(sales, customer, stage=" proposal ")["stage"]["name"] == "Proposal"
    assert new_deal(sales, customer, stage=stages["Negotiation"])["stage"]["name"] == "Negotiation"
    assert new_deal(sales, customer, stage=str(stages["Qualified"]))["stage"]["name"] == "Qualified"

    assert errors_of(
        sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"], "stage": "Won"})
    ) == {"stage": ["A deal starts in an open stage; mark it won or lost afterwards."]}
    names = ", ".join(s["name"] for s in pipeline["stages"])
    assert errors_of(
        sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"], "stage": "Bargaining"})
    ) == {"stage": [f"No stage 'Bargaining' in pipeline '{pipeline['name']}'; stages: {names}."]}


def test_an_unknown_pipeline_or_sku_is_refused_by_name(sales, customer):
    """_pipeline_for's and build_lines' refusals name what the request asked for and is not there."""
    deal = {"title": "D", "customer_id": customer["id"]}
    assert errors_of(sales.post("/api/v1/deals", json={**deal, "pipeline_id": 9999})) == {
        "pipeline_id": ["No pipeline with id 9999."]
    }
    assert errors_of(sales.post("/api/v1/deals", json={**deal, "lines": [{"sku": "NOPE", "quantity": 1}]})) == {
        "lines[0].sku": ["No product with SKU 'NOPE'."]
    }


def test_a_deal_moves_to_a_stage_given_by_id_or_by_digits(sales, customer):
    """find_stage through the stage move: an id matches a stage after the first one."""
    stages = {s["name"]: s["id"] for s in sales.get("/api/v1/pipelines").json[0]["stages"]}
    deal = new_deal(sales, customer)
    path = f"/api/v1/deals/{deal['id']}/stage"

    assert sales.post(path, json={"stage": stages["Proposal"]}).json["stage"]["name"] == "Proposal"
    assert sales.post(path, json={"stage": str(stages["Negotiation"])}).json["stage"]["name"] == "Negotiation"


# ---- build_lines -----------------------------------------------------------------------------


def test_each_line_problem_is_said_in_its_own_words(sales, customer, pump):
    """build_lines: an unknown product id, a product id whose SKU is another's, a line without a
    product, price or description, a product priced in another currency."""
    missing = pump["id"] + 1000
    lines = [
        {"product_id": missing, "quantity": 1},
        {"product_id": pump["id"], "sku": "MANUAL", "quantity": 1},
        {"quantity": 1},
    ]
    assert errors_of(
        sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"], "lines": lines})
    ) == {
        "lines[0].product_id": [f"No product with id {missing}."],
        "lines[1].sku": [f"Product {pump['id']} has SKU 'PUMP'."],
        "lines[2].unit_price": ["Required when the line has no product."],
        "lines[2].description": ["Required when the line has no product."],
    }
    in_dollars = {
        "title": "D",
        "customer_id": customer["id"],
        "currency": "USD",
        "lines": [{"sku": "PUMP", "quantity": 1}],
    }
    assert errors_of(sales.post("/api/v1/deals", json=in_dollars)) == {
        "lines[0].unit_price": [
            "The product's list price is in EUR and the deal in USD; give the unit price in the deal's currency."
        ]
    }


def test_lines_keep_their_order_and_a_product_line_may_name_its_own_sku(sales, customer, pump):
    """build_lines: positions from 1, and a product id with its own SKU is no mismatch."""
    deal = new_deal(sales, customer, [LINE, {"product_id": pump["id"], "sku": "PUMP", "quantity": 2}])
    assert [(ln["position"], ln["sku"], ln["total"]) for ln in deal["lines"]] == [
        (1, None, "10.00"),
        (2, "PUMP", "238.00"),  # 200.00 + 19 % tax, the product's price and rate
    ]


def test_a_line_and_a_deal_may_reach_the_largest_amount_but_not_pass_it(sales, customer):
    """build_lines' two limits (MAX_AMOUNT, 10^12): quantity × price of a line, and of all lines."""
    million = {"description": "Bulk", "quantity": "1000000", "unit_price": "1000000"}  # 10^12 exactly
    assert new_deal(sales, customer, [million])["subtotal"] == "1000000000000.00"
    halves = [{**million, "quantity": "500000"}] * 2
    assert new_deal(sales, customer, halves)["subtotal"] == "1000000000000.00"

    over = {**million, "unit_price": "1000001"}
    body = {"title": "D", "customer_id": customer["id"]}
    assert errors_of(sales.post("/api/v1/deals", json={**body, "lines": [over]})) == {
        "lines[0].quantity": ["Quantity × unit price is 1,000,001,000,000.00; a line may be at most 1,000,000,000,000."]
    }
    sixths = [{**million, "quantity": "600000"}] * 2
    assert errors_of(sales.post("/api/v1/deals", json={**body, "lines": sixths})) == {
        "lines": ["The lines add up to more than 1,000,000,000,000, the most a deal may be."]
    }


# ---- apply_fields, update_deal, delete_deal, load_deal, lock_deal --------------------------------


def test_the_plain_fields_and_the_contact_are_kept_and_read_back(sales, customer):
    """apply_fields: each plain field, the contact and the owner, on create and on change."""
    contact = sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Eve"}).json
    fields = {
        "expected_close_date": "2031-02-03",
        "probability": 35,
        "notes": "call first",
        "contact_id": contact["id"],
    }
    deal = new_deal(sales, customer, title="Pumps for Acme", **fields)
    shown = ("title", "expected_close_date", "probability_override", "notes", "contact_id")
    assert [deal[k] for k in shown] == ["Pumps for Acme", "2031-02-03", 35, "call first", contact["id"]]

    changed = {"title": "Valves", "expected_close_date": "2031-04-05", "probability": 60, "notes": "called"}
    r = sales.patch(f"/api/v1/deals/{deal['id']}", json={**changed, "contact_id": None, "owner_id": None})
    assert r.status_code == 200, r.json
    assert [r.json[k] for k in shown] == ["Valves", "2031-04-05", 60, "called", None]
    assert r.json["owner"] is None


def test_a_new_customer_must_come_with_a_contact_of_theirs(sales, customer):
    """apply_fields: changing the customer checks the contact the deal keeps, or the one given."""
    eve = sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Eve"}).json
    other = sales.post("/api/v1/customers", json={"name": "Other"}).json
    bob = sales.post("/api/v1/contacts", json={"customer_id": other["id"], "name": "Bob"}).json
    deal = new_deal(sales, customer, contact_id=eve["id"])
    path = f"/api/v1/deals/{deal['id']}"

    assert errors_of(sales.patch(path, json={"customer_id": other["id"]})) == {
        "contact_id": [f"Contact {eve['id']} works for another customer."]
    }
    r = sales.patch(path, json={"customer_id": other["id"], "contact_id": bob["id"]})
    assert (r.status_code, r.json["customer"]["id"], r.json["contact_id"]) == (200, other["id"], bob["id"])


def test_a_change_of_other_fields_leaves_the_contact_unchecked(sales, customer):
    """apply_fields checks the contact only when it or the customer changes: a contact who has
    since moved to another customer does not stop a deal's title from changing."""
    eve = sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Eve"}).json
    deal = new_deal(sales, customer, contact_id=eve["id"])
    other = sales.post("/api/v1/customers", json={"name": "Other"}).json
    assert sales.patch(f"/api/v1/contacts/{eve['id']}", json={"customer_id": other["id"]}).status_code == 200

    r = sales.patch(f"/api/v1/deals/{deal['id']}", json={"title": "Valves"})

    assert r.status_code == 200, r.json
    assert (r.json["title"], r.json["contact_id"]) == ("Valves", eve["id"])


def test_unknown_references_are_named_with_their_ids(sales, users, customer):
    """apply_fields' refusals in their own words."""
    deal = new_deal(sales, customer)
    missing = users["admin"]["id"] + 1000
    body = {"customer_id": customer["id"] + 1000, "owner_id": missing, "contact_id": missing}
    assert errors_of(sales.patch(f"/api/v1/deals/{deal['id']}", json=body)) == {
        "customer_id": [f"No customer with id {customer['id'] + 1000}."],
        "owner_id": [f"No user with id {missing}."],
        "contact_id": [f"No contact with id {missing}."],
    }


def test_a_new_currency_recomputes_the_totals(sales, customer):
    """update_deal: the lines stay, each line's amounts round to the new currency's minor unit
    (the totals shown round too, so the lines are chosen for the two to differ)."""
    line = {"description": "X", "quantity": 1, "unit_price": "0.40"}
    deal = new_deal(sales, customer, [line, line])
    assert (deal["subtotal"], deal["total"]) == ("0.80", "0.80")

    r = sales.patch(f"/api/v1/deals/{deal['id']}", json={"currency": "JPY"})

    # Each line is 0 yen (0.40 rounds down); 0.80 rounded as a whole would show 1.
    shown = (r.json["currency"], r.json["lines"][0]["total"], r.json["subtotal"], r.json["total"])
    assert shown == ("JPY", "0", "0", "0")


def test_a_won_deal_says_what_is_frozen_and_is_not_deleted(sales, customer):
    """apply_fields and delete_deal: the conflicts' words."""
    deal = new_deal(sales, customer)
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200
    path = f"/api/v1/deals/{deal['id']}"

    r = sales.patch(path, json={"lines": [LINE], "currency": "USD"})
    assert r.status_code == 409
    assert r.json["message"] == f"Deal {deal['number']} is won and invoiced; its lines, currency can no longer change."
    assert r.json["errors"] == {"lines": ["Frozen on a won deal."], "currency": ["Frozen on a won deal."]}
    r = sales.delete(path)
    assert r.status_code == 409
    assert r.json["message"] == f"Deal {deal['number']} is won and invoiced; mark it lost instead of deleting it."


def test_an_unknown_deal_is_404_whether_read_or_changed(sales, customer):
    """load_deal and lock_deal."""
    missing = new_deal(sales, customer)["id"] + 1000
    for r in (
        sales.get(f"/api/v1/deals/{missing}"),
        sales.patch(f"/api/v1/deals/{missing}", json={"title": "T"}),
        sales.post(f"/api/v1/deals/{missing}/won"),
    ):
        assert (r.status_code, r.json["message"]) == (404, f"No deal with id {missing}.")


def test_a_deal_read_before_its_lock_is_read_again_under_it(app, sales, customer):
    """lock_deal reads the deal again once it holds the lock, even when the session has it already
    (the edit form reads the deal, then saves it): what another request committed in between is
    what the change starts from."""
    deal = new_deal(sales, customer)
    deals = Deal.__table__
    with app.app_context():
        before = deal_service.load_deal(deal["id"])
        assert before.title == "Pumps"
        with db.engine.begin() as other:
            other.execute(update(deals).where(deals.c.id == deal["id"]).values(title="Valves"))

        locked = deal_service.lock_deal(deal["id"])

        assert (locked is before, locked.title) == (True, "Valves")
        db.session.rollback()


# ---- move_to_stage, change_stage, stage_of_kind --------------------------------------------------


def test_won_and_lost_say_why_they_refuse(app, sales, customer):
    """move_to_stage: no lines, a negative total, no reason (blank counts), a won deal reopened."""
    empty = new_deal(sales, customer, [])
    assert errors_of(sales.post(f"/api/v1/deals/{empty['id']}/won")) == {
        "lines": ["A deal needs at least one line to be won."]
    }
    negative = new_deal(sales, customer)
    with app.app_context():  # no input makes one; the rule holds for whatever the table holds
        stored = db.session.get(Deal, negative["id"])
        stored.lines[0].unit_price = Decimal("-10.00")
        stored.recompute_totals()
        db.session.commit()
    assert errors_of(sales.post(f"/api/v1/deals/{negative['id']}/won")) == {
        "lines": ["A won deal cannot have a negative total."]
    }
    deal = new_deal(sales, customer)
    assert errors_of(sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "   "})) == {
        "reason": ["Say why the deal was lost."]
    }
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200
    r = sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "New"})
    assert (r.status_code, r.json["message"]) == (
        409,
        f"Deal {deal['number']} is won and invoiced; it cannot be reopened. Mark it lost to cancel it.",
    )


def test_a_deal_of_no_value_can_be_won(sales, customer):
    """move_to_stage: only a negative total is refused."""
    free = new_deal(sales, customer, [{"description": "Sample", "quantity": 1, "unit_price": "0"}])
    r = sales.post(f"/api/v1/deals/{free['id']}/won")
    assert (r.status_code, r.json["status"], r.json["total"]) == (200, "won", "0.00")


def test_won_lost_and_reopened_set_and_clear_the_dates_and_the_reason(sales, customer):
    """move_to_stage: lost sets lost_at and the reason (trimmed), won and reopening clear them; a
    lost deal won again lists both its invoices, the first one cancelled."""
    deal = new_deal(sales, customer)
    path = f"/api/v1/deals/{deal['id']}"
    first = sales.post(f"{path}/won").json
    lost = sales.post(f"{path}/lost", json={"reason": "  too dear  "}).json
    assert (lost["status"], lost["lost_reason"], lost["lost_at"] is not None) == ("lost", "too dear", True)

    again = sales.post(f"{path}/won").json
    assert (again["status"], again["lost_at"], again["lost_reason"]) == ("won", None, None)
    assert [(i["number"], i["state"]) for i in again["invoices"]] == [
        (first["invoices"][0]["number"], "cancelled"),
        (again["invoices"][-1]["number"], "pending"),
    ]
    assert again["invoices"][-1]["number"] != first["invoices"][0]["number"]

    sales.post(f"{path}/lost", json={"reason": "gone"})
    reopened = sales.post(f"{path}/stage", json={"stage": "New"}).json
    assert (reopened["status"], reopened["lost_at"], reopened["lost_reason"]) == ("open", None, None)


def test_a_lost_deal_lost_again_moves_only_for_a_new_reason(app, sales, customer):
    """move_to_stage's "already there": the same reason, or none, changes nothing; another
    reason is a move of its own, in the history."""
    deal = new_deal(sales, customer)
    path = f"/api/v1/deals/{deal['id']}"
    first = sales.post(f"{path}/lost", json={"reason": "too dear"}).json

    same = sales.post(f"{path}/lost", json={"reason": "too dear"}).json
    none = sales.post(f"{path}/stage", json={"stage": "Lost"})
    assert (same["lost_at"], same["lost_reason"]) == (first["lost_at"], "too dear")
    assert (none.status_code, none.json["lost_reason"]) == (200, "too dear")
    assert len(sales.get(f"{path}/stage-history").json) == 1

    other = sales.post(f"{path}/lost", json={"reason": "bought elsewhere"}).json
    assert (other["lost_reason"], other["lost_at"] is not None) == ("bought elsewhere", True)
    history = sales.get(f"{path}/stage-history").json
    assert [(h["from_stage"]["name"], h["to_stage"]["name"]) for h in history] == [("New", "Lost"), ("Lost", "Lost")]


def test_a_move_says_whether_it_moved_and_which_events_it_wrote(app, sales, customer):
    """change_stage and move_to_stage: moved or not, the pushes and cancels written (dispatched:
    the move hands them to the queue itself), and the history of a move made by no user."""
    ledger = make_connection(app, "Ledger", "mini_ledger", NOWHERE)
    deal = new_deal(sales, customer)
    with app.app_context():
        won = deal_service.change_stage(deal["id"], None, kind=StageKind.WON)
        (push,) = db.session.scalars(select(OutboxEvent)).all()
        assert (won.moved, won.deal.id, won.events) == (True, deal["id"], (Written(push.id, ledger, "push_invoice"),))
        assert (push.state, push.dispatched_at is not None) == (OutboxState.DISPATCHED, True)

        again = deal_service.change_stage(deal["id"], None, kind=StageKind.WON)
        assert (again.moved, again.events) == (False, ())

        push.state = OutboxState.DONE  # the push reached the ledger: the loss must cancel it
        db.session.commit()
        lost = deal_service.change_stage(deal["id"], None, kind=StageKind.LOST, reason="gone", note="by the sweep")
        cancel = db.session.scalar(select(OutboxEvent).where(OutboxEvent.operation == "cancel_invoice"))
        assert (lost.moved, lost.events) == (True, (Written(cancel.id, ledger, "cancel_invoice"),))
        assert cancel.state == OutboxState.DISPATCHED
        changes = db.session.scalars(select(DealStageChange).order_by(DealStageChange.id)).all()
        assert [(c.changed_by_id, c.note, c.changed_at is not None) for c in changes] == [
            (None, None, True),
            (None, "by the sweep", True),
        ]
        # Handed to the queue by the move itself: the push's job, then the cancel's.
        assert [job.func_name for job in get_queue().get_jobs()] == [PUSH_JOB, RUN_EVENTS]


def test_a_stage_of_another_pipeline_is_refused(app, sales, admin, customer):
    """move_to_stage's own check (the API finds stages in the deal's pipeline only)."""
    other = projects(admin)
    deal = new_deal(sales, customer)
    with app.app_context():
        signed = db.session.get(Stage, next(s["id"] for s in other["stages"] if s["name"] == "Signed"))
        with pytest.raises(ValidationFailed) as refused:
            deal_service.move_to_stage(deal_service.lock_deal(deal["id"]), signed, None)
        db.session.rollback()
    assert refused.value.errors == {"stage": ["Stage 'Signed' is not in this deal's pipeline."]}


def test_a_pipeline_without_a_lost_stage_cannot_lose_a_deal(app, sales, admin, customer):
    """stage_of_kind's conflict (a pipeline is made with every kind; one can lose its lost stage)."""
    pipeline = projects(admin)
    deal = new_deal(sales, customer, pipeline_id=pipeline["id"])
    with app.app_context():
        db.session.execute(delete(Stage).where(Stage.pipeline_id == pipeline["id"], Stage.kind == StageKind.LOST))
        db.session.commit()

    r = sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "gone"})

    assert (r.status_code, r.json["message"]) == (409, "Pipeline 'Projects' has no lost stage.")


def test_a_pipeline_has_one_won_and_one_lost_stage_and_each_other_one_is_refused_by_name(admin):
    """Won and lost move a deal to its pipeline's stage of that kind: a second one of either is
    refused where the request gives it, and nothing is made."""
    stages = [
        {"name": "Lead", "probability": 10},
        {"name": "Signed", "probability": 100, "kind": "won"},
        {"name": "Dropped", "probability": 0, "kind": "lost"},
        {"name": "Paid", "probability": 100, "kind": "won"},
        {"name": "Cancelled", "probability": 0, "kind": "lost"},
        {"name": "Gone", "probability": 0, "kind": "lost"},
    ]
    r = admin.post("/api/v1/pipelines", json={"name": "Projects", "stages": stages})
    assert errors_of(r) == {
        "stages[3].kind": ["A pipeline has one won stage: 'Signed'."],
        "stages[4].kind": ["A pipeline has one lost stage: 'Dropped'."],
        "stages[5].kind": ["A pipeline has one lost stage: 'Dropped'."],
    }
    assert [p["name"] for p in admin.get("/api/v1/pipelines").json] == ["Sales"]


# ---- _check_stock --------------------------------------------------------------------------------


@pytest.fixture
def five_pumps(app, pump) -> None:
    """5 pumps available in one warehouse, pulled just now."""
    with app.app_context():
        now = utcnow()
        connection = Connection(name="Stock", type="mini_ledger", config={}, enabled=False, stock_pulled_at=now)
        db.session.add(connection)
        db.session.flush()
        warehouse = Warehouse(connection_id=connection.id, code="WH1", name="Main")
        db.session.add(warehouse)
        db.session.flush()
        figures = {"on_hand": Decimal(5), "reserved": Decimal(0), "available": Decimal(5), "as_of": now}
        where = {"connection_id": connection.id, "warehouse_id": warehouse.id, "sku": "PUMP", "product_id": pump["id"]}
        db.session.add(StockLevel(pulled_at=now, **where, **figures))
        db.session.commit()


SHORT = "7 of PUMP wanted, 0 can be promised (available 5, on other won deals 5)"


@pytest.mark.parametrize("mode", ["warn", "refuse", "off"])
def test_winning_more_than_the_stock_warns_refuses_or_is_not_checked(
    app, sales, customer, five_pumps, mode, monkeypatch
):
    """_check_stock, each HUB_STOCK_CHECK_ON_WON: five pumps won leave none for the next deal."""
    monkeypatch.setitem(app.config, "HUB_STOCK_CHECK_ON_WON", mode)
    enough = new_deal(sales, customer, [{"sku": "PUMP", "quantity": 5}])
    short = new_deal(sales, customer, [{"sku": "PUMP", "quantity": 7}])
    covered = sales.post(f"/api/v1/deals/{enough['id']}/won")
    assert (covered.status_code, covered.json["warnings"]) == (200, [])

    r = sales.post(f"/api/v1/deals/{short['id']}/won")

    if mode == "refuse":
        assert (r.status_code, r.json["message"]) == (
            409,
            f"Deal {short['number']} asks for more than the stock can cover.",
        )
        assert r.json["errors"] == {"lines[0].quantity": [SHORT]}
    else:
        assert (r.status_code, r.json["status"]) == (200, "won")
        assert r.json["warnings"] == ([f"lines[0].quantity: {SHORT}"] if mode == "warn" else [])


def test_the_demo_seeds_won_deals_wait_for_the_dispatcher(app):
    """move_to_stage's default: a caller that hands nothing to the queue itself (the demo seed)
    leaves its won deals' pushes pending for the dispatcher; written as dispatched, they would
    wait for a job nobody queued."""
    with app.app_context():
        assert seed(password="demo-password-1", erp_url="http://127.0.0.1:9")
        events = db.session.scalars(select(OutboxEvent)).all()
        assert events, "the demo set has won deals"
        assert {(e.state, e.dispatched_at) for e in events} == {(OutboxState.PENDING, None)}

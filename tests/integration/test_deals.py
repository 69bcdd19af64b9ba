"""Deals: totals computed exactly with discounts and tax, lines refused by index, and the moves
through the pipeline (stage, won, lost) with their history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update

from hub.api.base import page_schema
from hub.api.deals import DealSummary
from hub.api.pipelines import Board
from hub.extensions import db
from hub.models import Deal, DealLine, HubInvoice, Pipeline, Stage, StageTotal, User
from hub.services.board import board_columns, rebuild_stage_totals
from tests.support.api_errors import assert_error
from tests.support.deals import new_deal
from tests.support.sessions import csrf_token, logged_in, page_text

DealPage = page_schema(DealSummary, "DealPageCheck")


@pytest.fixture
def customer(sales):
    return sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json


@pytest.fixture
def products(admin):
    out = {}
    for sku, price, tax in [("PUMP", "1249.00", "0.19"), ("MANUAL", "12.00", "0.07")]:
        r = admin.post(
            "/api/v1/products",
            json={"sku": sku, "name": sku.title(), "list_price": price, "currency": "EUR", "tax_rate": tax},
        )
        out[sku] = r.json
    return out


def test_totals_with_discounts_and_several_tax_rates_are_exact(sales, customer):
    deal = new_deal(
        sales,
        customer,
        [
            {"description": "Valve", "quantity": 3, "unit_price": 19.99, "discount_percent": 10, "tax_rate": 0.19},
            {"description": "Manual", "quantity": 2.5, "unit_price": "7.33", "tax_rate": "0.07"},
            {
                "description": "Pump",
                "quantity": 1,
                "unit_price": "1000",
                "discount_percent": "12.5",
                "tax_rate": "0.19",
            },
            {
                "description": "Washers",
                "quantity": 7,
                "unit_price": "0.15",
                "discount_percent": "33.3333",
                "tax_rate": 0,
            },
        ],
    )
    # By hand, each line rounded half-up to cents: net 53.97 + 18.33 + 875.00 + 0.70; tax 10.25 + 1.28 + 166.25 + 0.
    assert [(ln["net"], ln["tax"], ln["total"]) for ln in deal["lines"]] == [
        ("53.97", "10.25", "64.22"),
        ("18.33", "1.28", "19.61"),
        ("875.00", "166.25", "1041.25"),
        ("0.70", "0.00", "0.70"),
    ]
    assert (deal["subtotal"], deal["discount_total"], deal["tax_total"], deal["total"]) == (
        "948.00",
        "131.35",
        "177.78",
        "1125.78",
    )
    assert [(Decimal(t["rate"]), Decimal(t["net"]), Decimal(t["tax"])) for t in deal["tax_breakdown"]] == [
        (Decimal("0"), Decimal("0.70"), Decimal("0")),
        (Decimal("0.07"), Decimal("18.33"), Decimal("1.28")),
        (Decimal("0.19"), Decimal("928.97"), Decimal("176.50")),
    ]


def test_totals_are_stored_as_decimal(app, sales, customer):
    deal = new_deal(sales, customer, [{"description": "X", "quantity": "0.1", "unit_price": "0.2", "tax_rate": "0.2"}])
    with app.app_context():
        stored = db.session.get(Deal, deal["id"])
        assert isinstance(stored.total, Decimal)
        assert (stored.subtotal, stored.tax_total, stored.total) == (Decimal("0.02"), Decimal("0.00"), Decimal("0.02"))


def test_totals_follow_the_currency_minor_unit(sales, customer):
    deal = new_deal(
        sales,
        customer,
        [{"description": "Consulting", "quantity": 3, "unit_price": "1234", "discount_percent": 5, "tax_rate": "0.1"}],
        currency="JPY",
    )
    assert (deal["currency"], deal["subtotal"], deal["tax_total"], deal["total"]) == ("JPY", "3517", "352", "3869")


def test_lines_default_to_the_product(sales, customer, products):
    deal = new_deal(
        sales, customer, [{"sku": "PUMP", "quantity": 2}, {"product_id": products["MANUAL"]["id"], "quantity": 1}]
    )
    first, second = deal["lines"]
    assert (first["sku"], first["description"], Decimal(first["unit_price"]), Decimal(first["tax_rate"])) == (
        "PUMP",
        "Pump",
        Decimal("1249.00"),
        Decimal("0.19"),
    )
    assert second["sku"] == "MANUAL"
    assert deal["total"] == "2985.46"  # 2498.00 + 474.62 + 12.00 + 0.84


def test_patch_replaces_lines_and_recomputes(sales, customer):
    deal = new_deal(sales, customer, [{"description": "A", "quantity": 1, "unit_price": "10"}])
    r = sales.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"lines": [{"description": "B", "quantity": 2, "unit_price": "10", "tax_rate": "0.2"}], "title": "Bigger"},
    )
    assert r.status_code == 200, r.json
    assert (r.json["title"], [ln["description"] for ln in r.json["lines"]], r.json["total"]) == (
        "Bigger",
        ["B"],
        "24.00",
    )


def test_every_bad_line_is_named_by_index_and_nothing_is_written(app, sales, customer, products):
    r = sales.post(
        "/api/v1/deals",
        json={
            "title": "Bad",
            "customer_id": customer["id"],
            "lines": [
                {"sku": "NOPE", "quantity": 1},
                {"sku": "PUMP", "quantity": -2},
                {"quantity": 1},
                {"sku": "PUMP", "quantity": 1, "discount_percent": 150},
                {"sku": "PUMP", "quantity": "many"},
            ],
        },
    )
    body = assert_error(r, 422, code="validation_error")
    assert {"lines[1].quantity", "lines[3].discount_percent", "lines[4].quantity"} <= set(body["errors"]), body
    # the rest is reported once the shapes are right
    r = sales.post(
        "/api/v1/deals",
        json={
            "title": "Bad",
            "customer_id": customer["id"],
            "lines": [{"sku": "NOPE", "quantity": 1}, {"quantity": 1}],
        },
    )
    body = assert_error(r, 422)
    # an unknown SKU is named once, not again as a missing price and description
    assert set(body["errors"]) == {"lines[0].sku", "lines[1].unit_price", "lines[1].description"}
    assert "NOPE" in body["errors"]["lines[0].sku"][0]
    with app.app_context():
        assert db.session.query(Deal).count() == 0
        assert db.session.query(DealLine).count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": None}, "customer_id"),
        ({"customer_id": 999999}, "customer_id"),
        ({"title": ""}, "title"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "ABC"}, "currency"),
        ({"stage": "Bargaining"}, "stage"),
        ({"stage": "Won"}, "stage"),
        ({"probability": 101}, "probability"),
        ({"expected_close_date": "next week"}, "expected_close_date"),
        ({"contact_id": 999999}, "contact_id"),
        ({"owner_id": 999999}, "owner_id"),
        ({"pipeline_id": 999999}, "pipeline_id"),
        ({"lines": "two pumps"}, "lines"),
    ],
)
def test_deal_refused_input_names_the_field(app, sales, customer, body, field):
    r = sales.post("/api/v1/deals", json={"title": "Deal", "customer_id": customer["id"], **body})
    assert_error(r, 422, field)
    with app.app_context():
        assert db.session.query(Deal).count() == 0


@pytest.mark.parametrize("code", ["XXX", "xts", "XAU", "XDR", "CHE", "DEM"])
def test_a_deal_currency_no_invoice_can_be_made_in_is_refused_by_name(app, sales, customer, code):
    """ISO 4217 lists these, but the won deal's invoice cannot be made in them: "no currency", the
    testing code, gold, a unit of account, a fund, a withdrawn currency."""
    said = {"currency": [f"'{code}' is not legal tender anywhere today: no invoice can be made in it."]}
    r = sales.post("/api/v1/deals", json={"title": "Deal", "customer_id": customer["id"], "currency": code})
    assert assert_error(r, 422, "currency")["errors"] == said
    deal = sales.post("/api/v1/deals", json={"title": "Deal", "customer_id": customer["id"]}).json
    assert assert_error(sales.patch(f"/api/v1/deals/{deal['id']}", json={"currency": code}), 422)["errors"] == said
    with app.app_context():
        assert [d.currency for d in db.session.query(Deal)] == ["EUR"]


def test_contact_of_another_customer_is_refused(sales, customer):
    other = sales.post("/api/v1/customers", json={"name": "Other"}).json
    contact = sales.post("/api/v1/contacts", json={"customer_id": other["id"], "name": "Eve"}).json
    r = sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"], "contact_id": contact["id"]})
    assert_error(r, 422, "contact_id")


def test_product_priced_in_another_currency_needs_a_unit_price(sales, customer, products):
    r = sales.post(
        "/api/v1/deals",
        json={
            "title": "D",
            "customer_id": customer["id"],
            "currency": "USD",
            "lines": [{"sku": "PUMP", "quantity": 1}],
        },
    )
    assert_error(r, 422, "lines[0].unit_price")


# ---- transitions --------------------------------------------------------------------------


def test_numbering_stage_moves_and_history(sales, users, customer):
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "100"}])
    assert deal["number"] == f"D-{deal['id']:06d}"
    assert (deal["stage"]["name"], deal["status"], deal["probability"]) == ("New", "open", deal["probability"])

    r = sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "proposal", "note": "sent the offer"})
    assert (r.status_code, r.json["stage"]["name"]) == (200, "Proposal"), r.json
    assert r.json["probability"] > deal["probability"]

    assert_error(sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "Bargaining"}), 422, "stage")
    assert_error(sales.post(f"/api/v1/deals/{deal['id']}/stage", json={}), 422, "stage")
    assert_error(sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "Lost"}), 422, "reason")

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert (r.status_code, r.json["status"], r.json["probability"]) == (200, "won", 100)
    assert r.json["won_at"]

    history = sales.get(f"/api/v1/deals/{deal['id']}/stage-history").json
    assert [(h["from_stage"]["name"], h["to_stage"]["name"]) for h in history] == [
        ("New", "Proposal"),
        ("Proposal", "Won"),
    ]
    assert history[0]["note"] == "sent the offer"
    assert history[1]["changed_by"]["id"] == users["sales"]["id"]
    assert_error(sales.get("/api/v1/deals/999999/stage-history"), 404)


def test_won_needs_lines_and_makes_one_hub_invoice(app, sales, customer):
    empty = new_deal(sales, customer, [])
    assert_error(sales.post(f"/api/v1/deals/{empty['id']}/won"), 422, "lines")

    deal = new_deal(sales, customer, [{"description": "X", "quantity": 2, "unit_price": "50", "tax_rate": "0.2"}])
    first = sales.post(f"/api/v1/deals/{deal['id']}/won").json
    again = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert again.status_code == 200
    assert [i["number"] for i in first["invoices"]] == [i["number"] for i in again.json["invoices"]]
    (invoice,) = first["invoices"]
    assert invoice["number"].startswith("INV-")
    assert invoice["total"] == "120.00"
    with app.app_context():
        assert db.session.query(HubInvoice).count() == 1
    history = sales.get(f"/api/v1/deals/{deal['id']}/stage-history").json
    assert len(history) == 1


def test_won_deal_is_frozen(sales, customer):
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    sales.post(f"/api/v1/deals/{deal['id']}/won")
    body = assert_error(
        sales.patch(
            f"/api/v1/deals/{deal['id']}", json={"lines": [{"description": "Y", "quantity": 9, "unit_price": "1"}]}
        ),
        409,
        "lines",
        code="conflict",
    )
    assert deal["number"] in body["message"]
    assert_error(sales.patch(f"/api/v1/deals/{deal['id']}", json={"currency": "USD"}), 409, "currency")
    assert_error(sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "New"}), 409)
    assert_error(sales.delete(f"/api/v1/deals/{deal['id']}"), 409)
    # the title and notes of a won deal may still change
    assert sales.patch(f"/api/v1/deals/{deal['id']}", json={"notes": "delivered"}).status_code == 200
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["lines"][0]["description"] == "X"


def test_lost_needs_a_reason_and_can_follow_won(sales, customer):
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    assert_error(sales.post(f"/api/v1/deals/{deal['id']}/lost", json={}), 422, "reason")
    assert_error(sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": ""}), 422, "reason")
    sales.post(f"/api/v1/deals/{deal['id']}/won")
    r = sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "Customer went bankrupt"})
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["lost_reason"]) == ("lost", "Customer went bankrupt")
    assert r.json["won_at"] == sales.get(f"/api/v1/deals/{deal['id']}").json["won_at"]  # kept as history
    assert r.json["invoices"][0]["state"] == "cancelled"
    # a lost deal may be reopened
    r = sales.post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "Negotiation"})
    assert (r.status_code, r.json["status"], r.json["lost_reason"]) == (200, "open", None)


def test_a_lost_reason_has_one_limit_whichever_way_the_deal_is_lost(app, sales, users, customer):
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    path = f"/api/v1/deals/{deal['id']}"
    assert_error(sales.post(f"{path}/lost", json={"reason": "x" * 2001}), 422, "reason")
    assert_error(sales.post(f"{path}/stage", json={"stage": "Lost", "reason": "x" * 2001}), 422, "reason")
    page = logged_in(app, users["sales"]["email"])
    token = csrf_token(page, f"/deals/{deal['id']}")
    r = page.post(f"/deals/{deal['id']}/lost", data={"reason": "x" * 2001, "csrf_token": token})
    assert "Longer than maximum length 2000." in page_text(r)
    assert sales.get(path).json["status"] == "open"
    r = sales.post(f"{path}/stage", json={"stage": "Lost", "reason": "x" * 2000})
    assert (r.status_code, len(r.json["lost_reason"])) == (200, 2000)


def test_deal_list_filters_and_search(sales, customer):
    a = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}], title="Alpha pumps")
    b = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "99"}], title="Beta valves")
    sales.post(f"/api/v1/deals/{b['id']}/won")
    assert [d["title"] for d in sales.get("/api/v1/deals?status=won").json["items"]] == ["Beta valves"]
    assert [d["title"] for d in sales.get("/api/v1/deals?q=alpha").json["items"]] == ["Alpha pumps"]
    assert [d["title"] for d in sales.get(f"/api/v1/deals?q={a['number']}").json["items"]] == ["Alpha pumps"]
    assert [d["title"] for d in sales.get("/api/v1/deals?sort=-total").json["items"]] == ["Beta valves", "Alpha pumps"]
    assert [d["title"] for d in sales.get("/api/v1/deals?sort=total").json["items"]] == ["Alpha pumps", "Beta valves"]
    assert_error(sales.get("/api/v1/deals?status=maybe"), 422, "status")


def test_delete_an_open_deal(app, sales, customer):
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    assert sales.delete(f"/api/v1/deals/{deal['id']}").status_code == 204
    with app.app_context():
        assert db.session.query(DealLine).count() == 0


def test_the_board_counts_and_sums_every_deal_and_lists_the_latest(sales, admin, users, customer):
    def deal(price, currency="EUR", **fields):
        line = {"description": "X", "quantity": 3, "unit_price": price, "tax_rate": "0.19"}
        return new_deal(sales, customer, [line], currency=currency, **fields)

    first, second = deal("0.10"), deal("0.20")  # 0.30 + 0.06 tax, 0.60 + 0.11: summed exactly
    chf = deal("10", currency="CHF")
    mine = deal("1", owner_id=users["admin"]["id"])
    won = deal("5")
    sales.post(f"/api/v1/deals/{won['id']}/won")
    pipeline = sales.get("/api/v1/pipelines").json[0]

    answer = sales.get(f"/api/v1/pipelines/{pipeline['id']}/board?per_column=2")

    assert answer.status_code == 200, answer.json
    columns = {c["stage"]["name"]: c for c in answer.json["columns"]}
    assert list(columns) == [s["name"] for s in pipeline["stages"]]
    new = columns["New"]
    assert new["count"] == 4
    assert new["totals"] == [{"currency": "CHF", "total": "35.70"}, {"currency": "EUR", "total": "4.64"}]
    assert [d["number"] for d in new["deals"]] == [mine["number"], chf["number"]]  # latest first, 2 of 4
    assert [d["number"] for d in columns["Won"]["deals"]] == [won["number"]]
    assert columns["Lost"] == {**columns["Lost"], "count": 0, "totals": [], "deals": []}
    only_admin = sales.get(f"/api/v1/pipelines/{pipeline['id']}/board?owner_id={users['admin']['id']}").json
    assert only_admin["columns"][0]["count"] == 1
    assert {first["number"], second["number"]}.isdisjoint(d["number"] for d in new["deals"])
    assert sales.get("/api/v1/pipelines/999/board").status_code == 404
    assert_error(sales.get(f"/api/v1/pipelines/{pipeline['id']}/board?per_column=0"), 422, "per_column")


def test_the_board_shows_each_deal_as_the_deals_api_does_and_as_its_schema_says(app, sales, users, customer):
    line = {"description": "X", "quantity": 3, "unit_price": "0.10", "tax_rate": "0.19"}
    owned = new_deal(
        sales, customer, [line], owner_id=users["admin"]["id"], probability=35, expected_close_date="2031-02-03"
    )
    yen = new_deal(sales, customer, [{**line, "unit_price": "1234"}], currency="JPY", owner_id=None)
    pipeline = sales.get("/api/v1/pipelines").json[0]

    board = sales.get(f"/api/v1/pipelines/{pipeline['id']}/board").json

    cards = {card["id"]: card for column in board["columns"] for card in column["deals"]}
    assert set(cards) == {owned["id"], yen["id"]}
    for shown in (owned, yen):
        deal = sales.get(f"/api/v1/deals/{shown['id']}").json
        assert cards[deal["id"]] == {
            **{k: deal[k] for k in ("id", "number", "title", "currency", "total", "probability")},
            **{k: deal[k] for k in ("expected_close_date", "updated_at", "owner")},
            "customer": {"id": customer["id"], "name": customer["name"]},
        }
    assert cards[owned["id"]]["probability"] == 35
    assert cards[yen["id"]]["owner"] is None
    assert cards[yen["id"]]["total"] == "4405"  # rounded to the yen, as the deal shows it
    with app.app_context():
        model = db.session.get(Pipeline, pipeline["id"])
        assert board == Board().dump({"pipeline": model, "columns": board_columns(model)})


def test_the_deals_list_shows_each_deal_as_its_schema_says(app, sales, users, customer):
    line = {"description": "X", "quantity": 3, "unit_price": "0.10", "tax_rate": "0.19", "discount_percent": "5"}
    new_deal(sales, customer, [line], owner_id=users["admin"]["id"], probability=35, expected_close_date="2031-02-03")
    new_deal(sales, customer, [{**line, "unit_price": "1234"}], currency="JPY", owner_id=None)
    won, lost = new_deal(sales, customer, [line]), new_deal(sales, customer, [line])
    assert sales.post(f"/api/v1/deals/{won['id']}/won").status_code == 200
    assert sales.post(f"/api/v1/deals/{lost['id']}/lost", json={"reason": "Too dear"}).status_code == 200

    page = sales.get("/api/v1/deals?sort=number").json

    assert {d["status"] for d in page["items"]} == {"open", "won", "lost"}
    with app.app_context():
        deals = db.session.scalars(select(Deal).order_by(Deal.id)).all()
        assert page == DealPage().dump({"items": deals, "page": 1, "per_page": 50, "total": 4, "total_exact": True})


def test_stage_totals_follow_every_change_of_a_deal(app, sales, admin, users, customer):
    def kept() -> dict:
        with app.app_context():
            return {
                (r.stage_id, r.owner_key, r.currency): (r.deal_count, r.total_units)
                for r in db.session.scalars(select(StageTotal))
                if r.deal_count or r.total_units
            }

    def recounted() -> dict:
        with app.app_context(), db.engine.begin() as connection:
            rebuild_stage_totals(connection)
        return kept()

    line = {"description": "X", "quantity": 3, "unit_price": "0.35", "tax_rate": "0.19"}
    a = new_deal(sales, customer, [line])
    b = new_deal(sales, customer, [line], currency="CHF", owner_id=users["admin"]["id"])
    c = new_deal(sales, customer, [line])
    sales.post(f"/api/v1/deals/{a['id']}/stage", json={"stage": "Proposal"})
    sales.patch(f"/api/v1/deals/{b['id']}", json={"lines": [{**line, "quantity": 7}], "owner_id": None})
    sales.patch(f"/api/v1/deals/{c['id']}", json={"currency": "USD"})
    sales.post(f"/api/v1/deals/{c['id']}/won")
    sales.post(f"/api/v1/deals/{c['id']}/lost", json={"reason": "Budget cut"})
    d = new_deal(sales, customer, [line])
    assert sales.delete(f"/api/v1/deals/{d['id']}").status_code == 204
    before = kept()

    assert before == recounted()
    with app.app_context():
        stages = {s.name: s.id for s in db.session.scalars(select(Stage))}
    assert before == {
        (stages["Proposal"], users["sales"]["id"], "EUR"): (1, 12500),  # 1.05 + 0.20 tax
        (stages["New"], 0, "CHF"): (1, 29200),  # 2.45 + 0.47
        (stages["Lost"], users["sales"]["id"], "USD"): (1, 12500),
    }


def test_stage_totals_follow_changes_made_around_the_orm(app, sales, admin, users, customer):
    """Kept by the database: a bulk statement and the owner's deletion (ON DELETE SET NULL) count too."""
    line = {"description": "X", "quantity": 1, "unit_price": "10.00"}
    deal = new_deal(sales, customer, [line], owner_id=users["admin"]["id"])
    with app.app_context():
        new_stage = db.session.scalar(select(Deal.stage_id).where(Deal.id == deal["id"]))
        proposal = db.session.scalar(select(Stage.id).where(Stage.name == "Proposal"))
        db.session.execute(update(Deal).where(Deal.id == deal["id"]).values(stage_id=proposal))
        db.session.commit()
        db.session.execute(delete(User).where(User.id == users["admin"]["id"]))
        db.session.commit()
        totals = {
            (r.stage_id, r.owner_key): (r.deal_count, r.total_units)
            for r in db.session.scalars(select(StageTotal))
            if r.deal_count or r.total_units
        }
    assert totals == {(proposal, 0): (1, 100000)}
    assert new_stage != proposal

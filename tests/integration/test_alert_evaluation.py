"""Low-stock alerts evaluated on stored levels, without a pull (hub/inventory/alerts.py): the
edges themselves (projected at the reorder point, at the point plus the margin), rules per
warehouse and several rules in one evaluation, open deals only where the rule counts them, a
snooze that runs out at that very moment, stock from two connections, and which products a sweep
weighs. Each test names in its comments the mutants of docs/testing.md it was written against."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from hub.errors import ValidationFailed
from hub.extensions import db
from hub.inventory import alerts
from hub.models import AlertState, Connection, DealStageChange, Product, ReorderRule, StockAlert, StockLevel, Warehouse
from hub.models.base import utcnow
from hub.sentences import english, number, sentence

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@dataclass
class Shop:
    connection: int
    other_connection: int
    warehouses: dict[str, int]  # code → id, of `connection`
    products: dict[str, int]  # SKU → id


@pytest.fixture
def shop(app) -> Shop:
    """Two products; a connection ("Ledger") with warehouses WH1 and WH2, and a second one
    ("Archive") with a warehouse of its own, both pulled a minute ago."""
    with app.app_context():
        pulled = utcnow() - timedelta(minutes=1)
        ledger = Connection(name="Ledger", type="mini_ledger", stock_pulled_at=pulled)
        archive = Connection(name="Archive", type="mini_ledger", stock_pulled_at=pulled)
        pump = Product(sku="PUMP", name="Pump", list_price=Decimal(100), currency="EUR")
        valve = Product(sku="VALVE", name="Valve", list_price=Decimal(10), currency="EUR")
        db.session.add_all([ledger, archive, pump, valve])
        db.session.flush()
        warehouses = [Warehouse(connection_id=ledger.id, code=code, name=code) for code in ("WH1", "WH2")]
        archive_wh = Warehouse(connection_id=archive.id, code="OLD", name="OLD")
        db.session.add_all([*warehouses, archive_wh])
        db.session.commit()
        return Shop(
            ledger.id,
            archive.id,
            {w.code: w.id for w in [*warehouses, archive_wh]},
            {"PUMP": pump.id, "VALVE": valve.id},
        )


def put_level(shop: Shop, sku: str, warehouse: str, available: int | str, *, as_of: datetime = NOW) -> None:
    connection = shop.other_connection if warehouse == "OLD" else shop.connection
    q = Decimal(available)
    level = db.session.scalar(
        select(StockLevel).where(StockLevel.warehouse_id == shop.warehouses[warehouse], StockLevel.sku == sku)
    )
    if level is None:
        level = StockLevel(
            connection_id=connection,
            warehouse_id=shop.warehouses[warehouse],
            sku=sku,
            product_id=shop.products[sku],
            pulled_at=NOW,
        )
        db.session.add(level)
    level.on_hand, level.reserved, level.available, level.as_of = q, Decimal(0), q, as_of
    db.session.flush()


def add_rule(shop: Shop, sku: str, point: int, *, margin: int = 0, warehouse: str | None = None, **extra) -> int:
    rule = ReorderRule(
        product_id=shop.products[sku],
        warehouse_id=shop.warehouses[warehouse] if warehouse else None,
        reorder_point=Decimal(point),
        target_level=Decimal(point * 3),
        margin=Decimal(margin),
        **extra,
    )
    db.session.add(rule)
    db.session.flush()
    return rule.id


def live() -> dict[str, StockAlert]:
    return {a.open_key: a for a in db.session.scalars(select(StockAlert).where(StockAlert.open_key.is_not(None)))}


def test_projected_at_the_reorder_point_opens_nothing_and_at_point_plus_margin_resolves(ctx, shop):
    # below is `projected < point` (mutant `<=`), recovered is `projected >= point + margin` (`>`).
    put_level(shop, "PUMP", "WH1", 10)
    add_rule(shop, "PUMP", 10, margin=2)
    assert alerts.evaluate() == []
    put_level(shop, "PUMP", "WH1", 9)
    (opened,) = alerts.evaluate()
    assert (opened.state, opened.open_key, opened.projected) == (AlertState.OPEN, f"{shop.products['PUMP']}:*", 9)
    # The numbers behind it, each under its name (Figures.as_json).
    figures = opened.figures
    assert {k: Decimal(v) for k, v in figures.items() if k not in ("as_of", "sources", "stale")} == {
        "on_hand": 9,
        "reserved": 0,
        "available": 9,
        "on_won_deals": 0,
        "on_open_deals": 0,
        "projected": 9,
        "reorder_point": 10,
    }
    assert (figures["as_of"], figures["sources"], figures["stale"]) == (NOW.isoformat(), "Ledger", False)
    put_level(shop, "PUMP", "WH1", 11)
    assert alerts.evaluate() == []
    assert opened.state == AlertState.OPEN
    # Not below any more, not recovered yet: the words say so (mutants of `relation`).
    assert "→ projected 11 ≥ reorder point 10;" in opened.explanation
    put_level(shop, "PUMP", "WH1", 12)
    alerts.evaluate()
    assert (opened.state, opened.open_key) == (AlertState.RESOLVED, None)
    assert opened.resolved_at is not None


def test_a_warehouse_rule_counts_its_warehouse_alone_and_each_has_its_own_alert(ctx, shop):
    # The level filter's `==` (mutant `!=`), the open key per warehouse, the alert's warehouse.
    put_level(shop, "PUMP", "WH1", 3)
    put_level(shop, "PUMP", "WH2", 50)
    wh1 = add_rule(shop, "PUMP", 5, warehouse="WH1")
    wh2 = add_rule(shop, "PUMP", 40, warehouse="WH2")
    opened = alerts.evaluate()
    assert [(a.rule_id, a.warehouse_id, a.projected) for a in opened] == [(wh1, shop.warehouses["WH1"], 3)]
    put_level(shop, "PUMP", "WH2", 30)
    (second,) = alerts.evaluate()
    assert (second.rule_id, second.warehouse_id, second.projected) == (wh2, shop.warehouses["WH2"], 30)
    pump = shop.products["PUMP"]
    assert set(live()) == {f"{pump}:{shop.warehouses['WH1']}", f"{pump}:{shop.warehouses['WH2']}"}


def test_every_rule_is_weighed_after_one_with_no_stock_or_no_alert(ctx, shop):
    # `continue` → `break` in both places: the rules after those must still be evaluated.
    put_level(shop, "PUMP", "WH1", 100)  # well stocked: no alert
    add_rule(shop, "PUMP", 10)
    add_rule(shop, "VALVE", 10, warehouse="WH2")  # no stock known in WH2: nothing to measure
    valve = add_rule(shop, "VALVE", 10, warehouse="WH1")
    put_level(shop, "VALVE", "WH1", 4)
    (opened,) = alerts.evaluate()
    assert opened.rule_id == valve


def test_only_the_products_asked_for_are_evaluated(ctx, shop):
    # evaluate(ids) reads the rules of those products only (mutant: every rule).
    put_level(shop, "PUMP", "WH1", 1)
    put_level(shop, "VALVE", "WH1", 1)
    add_rule(shop, "PUMP", 10)
    add_rule(shop, "VALVE", 10)
    (opened,) = alerts.evaluate([shop.products["VALVE"]])
    assert opened.product_id == shop.products["VALVE"]
    assert alerts.evaluate([]) == []
    assert [a.product_id for a in alerts.evaluate(None)] == [shop.products["PUMP"]]


def test_a_whole_catalogues_products_are_weighed_in_statements_the_database_takes(ctx, shop):
    """A 1C catalogue of 100,000 products changes them all at once: 70,000 ids are more than
    PostgreSQL lets one statement bind (65,535), and the last one is weighed too (the 1C import of
    a 100k catalogue failed there: bench/onec_import.py --products 100000)."""
    put_level(shop, "PUMP", "WH1", 1)
    add_rule(shop, "PUMP", 10)
    ids = [*range(10**6, 10**6 + 70_000), shop.products["PUMP"]]
    (opened,) = alerts.evaluate(ids)
    assert opened.product_id == shop.products["PUMP"]


def test_stock_from_two_connections_is_added_and_its_age_is_the_oldest(ctx, shop, monkeypatch):
    # freshness(): the sources sorted and joined, the oldest stock, the oldest pull, each
    # connection's staleness at the `now` given (mutant: at the clock's).
    db.session.get(Connection, shop.connection).stock_pulled_at = NOW - timedelta(minutes=1)
    db.session.get(Connection, shop.other_connection).stock_pulled_at = NOW - timedelta(hours=3)  # warned after 1 h
    put_level(shop, "PUMP", "WH1", 4, as_of=NOW - timedelta(minutes=5))
    put_level(shop, "PUMP", "OLD", 3, as_of=NOW - timedelta(hours=3))
    add_rule(shop, "PUMP", 10)
    figures = alerts.figures_for(
        db.session.scalars(select(ReorderRule)).one(),
        db.session.scalars(select(StockLevel).order_by(StockLevel.id)).all(),
        {},
        {},
        NOW,
    )
    assert (figures.available, figures.projected) == (7, 7)
    assert figures.freshness == alerts.Freshness(
        as_of=NOW - timedelta(hours=3), sources="Archive, Ledger", age_seconds=3 * 3600, stale=True, unusable=False
    )
    # An evaluation at NOW measures and stamps everything at NOW (`evaluate` 56, 75, 80: the clock's
    # own time instead, days later, where the archive is past its stop threshold).
    monkeypatch.setattr(alerts, "utcnow", lambda: NOW)
    (opened,) = alerts.evaluate()
    assert (opened.stale, opened.opened_at) == (True, NOW)
    assert opened.explanation.endswith("UTC from Archive, Ledger — STALE: the last good pull is 3.0 h old")


def test_a_snooze_that_ends_at_the_evaluation_reopens_the_alert(ctx, shop, monkeypatch):
    # snoozed_until <= now (mutant `<`), with the clock held still.
    put_level(shop, "PUMP", "WH1", 1)
    add_rule(shop, "PUMP", 10)
    (alert,) = alerts.evaluate()
    alert.state, alert.snoozed_until = AlertState.SNOOZED, NOW

    def inbox(now: datetime) -> list[int]:
        return list(db.session.scalars(select(StockAlert.id).where(alerts.in_inbox(now))))

    assert (inbox(NOW - timedelta(seconds=1)), inbox(NOW)) == ([], [alert.id])  # in_inbox's `<=` too
    monkeypatch.setattr(alerts, "utcnow", lambda: NOW - timedelta(seconds=1))
    alerts.evaluate()
    assert alert.state == AlertState.SNOOZED
    monkeypatch.setattr(alerts, "utcnow", lambda: NOW)
    alerts.evaluate()
    assert alert.state == AlertState.OPEN


def test_a_snooze_must_end_in_the_future(ctx, shop, monkeypatch):
    put_level(shop, "PUMP", "WH1", 1)
    add_rule(shop, "PUMP", 10)
    (alert,) = alerts.evaluate()
    monkeypatch.setattr(alerts, "utcnow", lambda: NOW)
    with pytest.raises(ValidationFailed) as refused:
        alerts.snooze(alert, NOW)  # now is not the future
    assert refused.value.errors == {"until": ["Must be in the future."]}
    alerts.snooze(alert, NOW + timedelta(seconds=1))
    assert (alert.state, alert.snoozed_until) == (AlertState.SNOOZED, NOW + timedelta(seconds=1))


def test_open_deals_count_only_for_a_rule_that_says_so(ctx, shop, sales):
    # `on_open ... if rule.count_open_deals else ZERO` (mutant: always counted; or None when
    # the product is on no open deal).
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    deal = {"title": "P", "customer_id": customer["id"], "probability": 100, "lines": [{"sku": "PUMP", "quantity": 8}]}
    assert sales.post("/api/v1/deals", json=deal).status_code == 201
    put_level(shop, "PUMP", "WH1", 12)
    put_level(shop, "VALVE", "WH1", 12)
    add_rule(shop, "PUMP", 10)
    add_rule(shop, "VALVE", 10, count_open_deals=True)  # counts them, has none: nothing to subtract
    assert alerts.evaluate() == []
    pump_rule = db.session.scalars(select(ReorderRule).where(ReorderRule.product_id == shop.products["PUMP"])).one()
    pump_rule.count_open_deals = True
    (opened,) = alerts.evaluate()
    assert "on open deals (weighted) 8 → projected 4 < reorder point 10" in opened.explanation


def test_a_sweep_weighs_the_products_of_deals_moved_at_or_after_its_start(ctx, shop, sales):
    # evaluate_moved: `changed_at >= since` (mutant `>`), and only the moved deals' products.
    customer = sales.post("/api/v1/customers", json={"name": "Acme"}).json
    lines = [{"sku": "PUMP", "quantity": 1}]
    deal = sales.post("/api/v1/deals", json={"title": "P", "customer_id": customer["id"], "lines": lines}).json
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200
    put_level(shop, "PUMP", "WH1", 5)
    put_level(shop, "VALVE", "WH1", 5)
    add_rule(shop, "PUMP", 10)
    add_rule(shop, "VALVE", 10)
    db.session.commit()
    moved_at = max(db.session.scalars(select(DealStageChange.changed_at).where(DealStageChange.deal_id == deal["id"])))
    alerts.evaluate_moved(moved_at + timedelta(microseconds=1))
    assert live() == {}
    alerts.evaluate_moved(moved_at)
    assert [a.product_id for a in live().values()] == [shop.products["PUMP"]]
    alerts.evaluate_moved(None)  # no sweep on record: every rule
    assert {a.product_id for a in live().values()} == set(shop.products.values())


def test_quantities_are_written_as_people_write_them():
    said = [english(sentence("%(q)s", q=number(Decimal(v)))) for v in ("12.0000", "2.5000", "0.0000", "1E+3", "-0.50")]
    assert said == ["12", "2.5", "0", "1,000", "-0.5"]


def test_the_explanation_says_every_number_and_how_old_the_stock_is():
    # Whole sentences (mutants that drop their start or their end), and hours to one place:
    # 7,381 s is 2.05 h, shown as 2.1 (mutant `/ 3601`: 2.0).
    old = alerts.Freshness(as_of=NOW, sources="Archive, Ledger", age_seconds=7381, stale=True, unusable=True)
    figures = alerts.Figures(
        on_hand=Decimal("12.0000"),
        reserved=Decimal("3.0000"),
        available=Decimal("9.0000"),
        on_won_deals=Decimal("2.5000"),
        on_open_deals=Decimal("1.0000"),
        projected=Decimal("5.5000"),
        reorder_point=Decimal("10.0000"),
        freshness=old,
    )
    assert english(alerts.explain(figures, True)) == (
        "on hand 12, reserved 3, on won deals 2.5, on open deals (weighted) 1 → projected 5.5 < reorder point 10;"
        " stock as of 2026-12-01 09:30 UTC from Archive, Ledger — STALE: the last good pull is 2.1 h old,"
        " past the connection's stop threshold; check the connection before acting"
    )
    stale = replace(old, unusable=False)
    assert english(alerts.explain(replace(figures, freshness=stale), True)).endswith(
        "from Archive, Ledger — STALE: the last good pull is 2.1 h old"
    )
    fresh = replace(old, stale=False, unusable=False)
    calm = replace(figures, on_won_deals=Decimal(0), on_open_deals=Decimal(0), projected=Decimal(11), freshness=fresh)
    assert english(alerts.explain(calm, False)) == (
        "on hand 12, reserved 3 → projected 11 ≥ reorder point 10;"
        " stock as of 2026-12-01 09:30 UTC from Archive, Ledger"
    )

"""Low-stock alerts: evaluate the reorder rules against pulled stock and what sales has sold.

projected = available − on won deals (not yet in the target's stock) − weighted open deals (if the
rule counts them). Below the reorder point an alert opens, at most one live alert per product ×
warehouse; it resolves by itself once projected is back at or above the point plus the margin.
Every alert carries its numbers and says them in words, including how old the stock is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, or_, select

from hub.errors import ValidationFailed
from hub.extensions import db
from hub.i18n import N_
from hub.inventory import delivery, projection
from hub.inventory.staleness import age_seconds, staleness
from hub.models import AlertState, DealLine, DealStageChange, ReorderRule, StockAlert, StockLevel, User
from hub.models.base import utcnow
from hub.sentences import Stored, english, joined, moment, number, sentence

ZERO = Decimal(0)


@dataclass(frozen=True)
class Freshness:
    as_of: datetime
    sources: str  # connection names
    age_seconds: float
    stale: bool  # older than a connection's warn threshold
    unusable: bool  # older than its stop threshold


@dataclass(frozen=True)
class Figures:
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    on_won_deals: Decimal
    on_open_deals: Decimal
    projected: Decimal
    reorder_point: Decimal
    freshness: Freshness

    def as_json(self) -> dict[str, str | bool]:
        return {
            "on_hand": str(self.on_hand),
            "reserved": str(self.reserved),
            "available": str(self.available),
            "on_won_deals": str(self.on_won_deals),
            "on_open_deals": str(self.on_open_deals),
            "projected": str(self.projected),
            "reorder_point": str(self.reorder_point),
            "as_of": self.freshness.as_of.isoformat(),
            "sources": self.freshness.sources,
            "stale": self.freshness.stale,
        }


def explain(figures: Figures, below: bool) -> Stored:
    """The figures in words, as a sentence (hub.sentences) said in the reader's language."""
    parts = [
        sentence(N_("on hand %(quantity)s"), quantity=number(figures.on_hand)),
        sentence(N_("reserved %(quantity)s"), quantity=number(figures.reserved)),
    ]
    if figures.on_won_deals:
        parts.append(sentence(N_("on won deals %(quantity)s"), quantity=number(figures.on_won_deals)))
    if figures.on_open_deals:
        parts.append(sentence(N_("on open deals (weighted) %(quantity)s"), quantity=number(figures.on_open_deals)))
    fresh = figures.freshness
    measured = sentence(
        N_(
            "%(figures)s → projected %(projected)s %(relation)s reorder point %(point)s; "
            "stock as of %(as_of)s UTC from %(sources)s"
        ),
        figures=joined(parts),
        projected=number(figures.projected),
        relation="<" if below else "≥",
        point=number(figures.reorder_point),
        as_of=moment(fresh.as_of),
        sources=fresh.sources,
    )
    if not fresh.stale:
        return measured
    hours = number(Decimal(str(fresh.age_seconds)) / 3600, places=1)
    if fresh.unusable:
        stale = sentence(
            N_(
                "STALE: the last good pull is %(hours)s h old, past the connection's stop threshold; "
                "check the connection before acting"
            ),
            hours=hours,
        )
    else:
        stale = sentence(N_("STALE: the last good pull is %(hours)s h old"), hours=hours)
    return joined([measured, stale], " — ")


def freshness(levels: list[StockLevel], now: datetime) -> Freshness:
    connections = {lv.connection_id: lv.connection for lv in levels}.values()
    states = [staleness(c, now) for c in connections]
    return Freshness(
        as_of=min(lv.as_of for lv in levels),
        sources=", ".join(sorted(c.name for c in connections)),
        age_seconds=max(age_seconds(c, now) for c in connections),
        stale=any(s.stale for s in states),
        unusable=any(s.unusable for s in states),
    )


def figures_for(
    rule: ReorderRule, levels: list[StockLevel], won: dict[int, Decimal], open_: dict[int, Decimal], now: datetime
) -> Figures:
    on_hand = sum((Decimal(lv.on_hand) for lv in levels), ZERO)
    reserved = sum((Decimal(lv.reserved) for lv in levels), ZERO)
    available = sum((Decimal(lv.available) for lv in levels), ZERO)
    # Deals carry no warehouse: a warehouse rule is measured against all of the product's sold
    # quantity, which errs on the side of warning early.
    on_won = won.get(rule.product_id, ZERO)
    on_open = open_.get(rule.product_id, ZERO) if rule.count_open_deals else ZERO
    return Figures(
        on_hand=on_hand,
        reserved=reserved,
        available=available,
        on_won_deals=on_won,
        on_open_deals=on_open,
        projected=available - on_won - on_open,
        reorder_point=Decimal(rule.reorder_point),
        freshness=freshness(levels, now),
    )


def open_key(rule: ReorderRule) -> str:
    return f"{rule.product_id}:{rule.warehouse_id or '*'}"


# Products weighed per statement: a 1C catalogue of 100,000 changes them all at once, more ids
# than PostgreSQL lets a statement bind (65,535), or SQLite as built by default (32,766).
EVALUATED_AT_ONCE = 5_000


def evaluate(product_ids: Iterable[int] | None = None) -> list[StockAlert]:
    """Open, refresh or resolve alerts for the rules of these products (all rules when None).
    Returns the alerts opened. Flushes; the caller commits."""
    if product_ids is None:
        product_ids = db.session.scalars(select(ReorderRule.product_id).distinct()).all()
    ids = sorted(set(product_ids))
    opened = []
    for k in range(0, len(ids), EVALUATED_AT_ONCE):
        opened += _evaluate(ids[k : k + EVALUATED_AT_ONCE])
    db.session.flush()
    delivery.queue_for(opened)
    return opened


def _evaluate(product_ids: list[int]) -> list[StockAlert]:
    rules = db.session.scalars(select(ReorderRule).where(ReorderRule.product_id.in_(product_ids))).all()
    if not rules:
        return []
    ids = {r.product_id for r in rules}
    levels_by_product: dict[int, list[StockLevel]] = {}
    for level in db.session.scalars(select(StockLevel).where(StockLevel.product_id.in_(ids))):
        levels_by_product.setdefault(level.product_id, []).append(level)
    live_query = select(StockAlert).where(StockAlert.product_id.in_(ids), StockAlert.open_key.is_not(None))
    live = {a.open_key: a for a in db.session.scalars(live_query)}
    won, open_ = projection.on_won_deals(ids), projection.on_open_deals(ids)
    now = utcnow()
    opened = []
    for rule in rules:
        levels = [
            lv
            for lv in levels_by_product.get(rule.product_id, [])
            if rule.warehouse_id is None or lv.warehouse_id == rule.warehouse_id
        ]
        if not levels:
            continue  # no stock known for it: nothing to measure
        figures = figures_for(rule, levels, won, open_, now)
        key = open_key(rule)
        alert = live.get(key)
        below = figures.projected < figures.reorder_point
        if below and alert is None:
            alert = StockAlert(
                rule=rule, product_id=rule.product_id, warehouse_id=rule.warehouse_id, open_key=key, opened_at=now
            )
            db.session.add(alert)
            opened.append(alert)
        if alert is None:
            continue
        recovered = figures.projected >= figures.reorder_point + Decimal(rule.margin)
        if recovered:
            alert.state, alert.open_key, alert.resolved_at = AlertState.RESOLVED, None, now
        elif alert.state == AlertState.SNOOZED and alert.snoozed_until and alert.snoozed_until <= now:
            alert.state = AlertState.OPEN
        alert.projected = figures.projected
        alert.figures = figures.as_json()
        alert.stale = figures.freshness.stale
        alert.explanation_message = explain(figures, below)
        alert.explanation = english(alert.explanation_message)
    return opened


def evaluate_moved(since: datetime | None) -> None:
    """Evaluate the rules of the products on deals whose stage changed at or after `since` (all
    rules when None): what a won or lost deal does to projected stock, weighed once per sweep of
    the scheduler instead of inside each deal's request. The caller commits."""
    if since is None:
        evaluate(None)
        return
    moved = (
        select(DealLine.product_id)
        .join(DealStageChange, DealStageChange.deal_id == DealLine.deal_id)
        .where(DealStageChange.changed_at >= since, DealLine.product_id.is_not(None))
        .distinct()
    )
    products = set(db.session.scalars(moved))
    if products:
        evaluate(products)


def in_inbox(now: datetime | None = None) -> ColumnElement[bool]:
    """The operations inbox as a WHERE clause: live alerts, less those snoozed past `now`."""
    return and_(
        StockAlert.open_key.is_not(None),
        or_(StockAlert.state != AlertState.SNOOZED, StockAlert.snoozed_until <= (now or utcnow())),
    )


def acknowledge(alert: StockAlert, user: User) -> None:
    """Someone is on it: the alert stays until stock recovers, and is not raised again."""
    alert.state, alert.acknowledged_at, alert.acknowledged_by = AlertState.ACKNOWLEDGED, utcnow(), user
    db.session.commit()


def snooze(alert: StockAlert, until: datetime) -> None:
    """Out of the inbox until then; back then if stock has not recovered."""
    if until <= utcnow():
        raise ValidationFailed({"until": "Must be in the future."})
    alert.state, alert.snoozed_until = AlertState.SNOOZED, until
    db.session.commit()

"""The sales dashboard: pipeline by stage, weighted forecast by month, won vs lost, and how long
the loop takes (won → invoice in the target, invoice → paid). Amounts are summed per currency in
Decimal and handed to the charts as exact strings."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from statistics import median
from typing import Any

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hub.extensions import db
from hub.models import AuditEntry, Deal, ExternalLink, HubInvoice, StageKind
from hub.money import round_money
from hub.services.deals import default_pipeline
from hub.ui.core import blueprint, page

bp = blueprint("ui_dashboard", __name__)
MONTHS = 6
HUNDRED = Decimal(100)


def _month(d: date | datetime) -> str:
    return f"{d.year}-{d.month:02d}"


def _months_from(start: date, count: int) -> list[str]:
    out, y, m = [], start.year, start.month
    for _ in range(count):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _months_back(today: date, count: int) -> list[str]:
    y, m = today.year, today.month - (count - 1)
    while m < 1:
        y, m = y - 1, m + 12
    return _months_from(date(y, m, 1), count)


def _per_currency(labels: list[str], sums: dict[str, dict[str, Decimal]]) -> list[dict[str, Any]]:
    return [
        {"label": cur, "data": [str(round_money(by_label.get(label, Decimal(0)), cur)) for label in labels]}
        for cur, by_label in sorted(sums.items())
    ]


def pipeline_by_stage(deals: list[Deal]) -> dict[str, Any]:
    stages = [s for s in default_pipeline().stages if s.kind == StageKind.OPEN]
    labels = [s.name for s in stages]
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    counts = dict.fromkeys(labels, 0)
    for deal in deals:
        if deal.stage.kind == StageKind.OPEN and deal.stage.name in counts:
            sums[deal.currency][deal.stage.name] += deal.total
            counts[deal.stage.name] += 1
    return {"labels": labels, "datasets": _per_currency(labels, sums), "counts": [counts[n] for n in labels]}


def weighted_forecast(deals: list[Deal], today: date) -> dict[str, Any]:
    """Open deals by expected close month, each weighted by its probability; overdue ones count
    in the current month (they are still expected)."""
    labels = _months_from(today.replace(day=1), MONTHS)
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for deal in deals:
        if deal.stage.kind != StageKind.OPEN or deal.expected_close_date is None:
            continue
        month = max(_month(deal.expected_close_date), labels[0])
        if month in labels:
            sums[deal.currency][month] += deal.total * deal.effective_probability / HUNDRED
    return {"labels": labels, "datasets": _per_currency(labels, sums)}


def won_vs_lost(deals: list[Deal], today: date) -> dict[str, Any]:
    labels = _months_back(today, MONTHS)
    won, lost = dict.fromkeys(labels, 0), dict.fromkeys(labels, 0)
    for deal in deals:
        if deal.stage.kind == StageKind.WON and deal.won_at and _month(deal.won_at) in won:
            won[_month(deal.won_at)] += 1
        elif deal.stage.kind == StageKind.LOST and deal.lost_at and _month(deal.lost_at) in lost:
            lost[_month(deal.lost_at)] += 1
    return {"labels": labels, "won": [won[m] for m in labels], "lost": [lost[m] for m in labels]}


def _summary(samples: list[tuple[str, float]]) -> dict[str, Any]:
    """(month, hours) samples → count, average, median, and the average per month."""
    hours = [h for _, h in samples]
    if not hours:
        return {"count": 0, "average": None, "median": None, "by_month": {}}
    months: dict[str, list[float]] = defaultdict(list)
    for month, h in samples:
        months[month].append(h)
    return {
        "count": len(hours),
        "average": sum(hours) / len(hours),
        "median": median(hours),
        "by_month": {m: round(sum(v) / len(v), 2) for m, v in months.items()},
    }


def won_to_invoice() -> dict[str, Any]:
    """Hours from the deal being won to its invoice existing in a target (the first link)."""
    rows = db.session.execute(
        select(Deal.won_at, ExternalLink.created_at)
        .join(HubInvoice, HubInvoice.deal_id == Deal.id)
        .join(ExternalLink, ExternalLink.invoice_id == HubInvoice.id)
        .where(Deal.won_at.is_not(None))
    ).all()
    first: dict[datetime, datetime] = {}
    for won_at, linked_at in rows:
        first[won_at] = min(linked_at, first.get(won_at, linked_at))
    return _summary([(_month(won), max((linked - won).total_seconds(), 0) / 3600) for won, linked in first.items()])


def invoice_to_paid() -> dict[str, Any]:
    """Hours from an invoice being made to it turning paid, read from the audit log (every state
    change of an invoice is recorded there with its time)."""
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "invoices", AuditEntry.action == "update")
    ).all()
    paid_at: dict[int, datetime] = {}
    for entry in entries:
        if (entry.changes.get("state") or {}).get("new") == "paid" and entry.entity_id.isdigit():
            paid_at.setdefault(int(entry.entity_id), entry.at)
    if not paid_at:
        return _summary([])
    query = select(HubInvoice.id, HubInvoice.created_at).where(HubInvoice.id.in_(paid_at))
    created = dict(db.session.execute(query).all())  # not dict(Result): it has keys() and would be read as a mapping
    hours = {i: max((paid_at[i] - created[i]).total_seconds(), 0) / 3600 for i in paid_at if i in created}
    return _summary([(_month(paid_at[i]), h) for i, h in hours.items()])


@bp.get("/dashboard")
@page("deals")
def dashboard():
    from hub.models.base import utcnow

    today = utcnow().date()
    deals = db.session.scalars(select(Deal).options(joinedload(Deal.stage))).all()
    open_deals = [d for d in deals if d.stage.kind == StageKind.OPEN]
    to_invoice, to_paid = won_to_invoice(), invoice_to_paid()
    months = _months_back(today, MONTHS)
    charts = {
        "pipeline": pipeline_by_stage(deals),
        "forecast": weighted_forecast(deals, today),
        "won_lost": won_vs_lost(deals, today),
        "loop": {
            "labels": months,
            "to_invoice": [to_invoice["by_month"].get(m) for m in months],
            "to_paid": [to_paid["by_month"].get(m) for m in months],
        },
    }
    return render_template(
        "ui/dashboard.html",
        charts=charts,
        open_count=len(open_deals),
        won_count=sum(1 for d in deals if d.stage.kind == StageKind.WON),
        lost_count=sum(1 for d in deals if d.stage.kind == StageKind.LOST),
        to_invoice=to_invoice,
        to_paid=to_paid,
    )

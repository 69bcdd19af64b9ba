"""Operations: stock by product × warehouse with staleness badges, a SKU's stock history chart,
reorder rules, and the alerts inbox (acknowledge, snooze)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import false, select
from sqlalchemy.orm import joinedload

from hub.api.inventory import RuleSchema, SnoozeIn
from hub.auth import authenticated_user
from hub.errors import HubError
from hub.extensions import db
from hub.inventory import alerts as alert_rules
from hub.inventory.pull import keeps_stock
from hub.inventory.staleness import staleness
from hub.locale_numbers import datetime_text, input_text, whole_number
from hub.models import AlertState, Connection, Product, ReorderRule, StockAlert, StockHistory, StockLevel, Warehouse
from hub.models.base import utcnow
from hub.services import stock as stock_service
from hub.ui.core import blueprint, can, failed, form_values, load, page

bp = blueprint("ui_stock", __name__)
SNOOZES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1w": timedelta(weeks=1)}


@bp.get("/stock")
@page("stock")
def stock():
    """Rows per SKU, a column per warehouse; each cell says how fresh its connection's last pull is."""
    q = (request.args.get("q") or "").strip()
    query = select(StockLevel).options(
        joinedload(StockLevel.warehouse).joinedload(Warehouse.connection), joinedload(StockLevel.product)
    )
    if q:
        query = query.where(StockLevel.sku.ilike(f"%{q}%"))
    levels = db.session.scalars(query.order_by(StockLevel.sku)).all()
    warehouses = sorted({lv.warehouse for lv in levels}, key=lambda w: (w.connection.name, w.code))
    rows: dict[str, dict[str, Any]] = {}
    for lv in levels:
        row = rows.setdefault(lv.sku, {"sku": lv.sku, "product": lv.product, "cells": {}, "total": Decimal(0)})
        row["cells"][lv.warehouse_id] = {"level": lv, "staleness": staleness(lv.connection).value}
        row["total"] += lv.available
    live = {a.product_id for a in db.session.scalars(select(StockAlert).where(StockAlert.open_key.is_not(None)))}
    sources = [
        c
        for c in db.session.scalars(select(Connection).where(Connection.enabled.is_(True)).order_by(Connection.name))
        if keeps_stock(c.type)
    ]
    return render_template(
        "ui/stock.html", rows=list(rows.values()), warehouses=warehouses, q=q, live=live, sources=sources
    )


@bp.get("/stock/history")
@page("stock")
def history():
    sku = (request.args.get("sku") or "").strip()
    points = db.session.scalars(
        select(StockHistory).where(StockHistory.sku == sku).order_by(StockHistory.as_of, StockHistory.id).limit(5000)
    ).all()
    names = {w.id: f"{w.connection.name} {w.code}" for w in db.session.scalars(select(Warehouse))}
    series: dict[str, list[dict[str, str]]] = defaultdict(list)
    for p in points:
        # Decimal quantities go to the chart as exact strings; Chart.js reads them as numbers.
        series[names.get(p.warehouse_id, str(p.warehouse_id))].append({"x": p.as_of.isoformat(), "y": str(p.available)})
    product = db.session.scalar(select(Product).where(Product.sku == sku)) if sku else None
    rule = db.session.scalar(select(ReorderRule).where(ReorderRule.product_id == product.id)) if product else None
    skus = db.session.scalars(select(StockLevel.sku).distinct().order_by(StockLevel.sku)).all()
    return render_template(
        "ui/stock_history.html", sku=sku, series=dict(series), product=product, rule=rule, skus=skus, count=len(points)
    )


# ---- reorder rules ------------------------------------------------------------------------


@bp.route("/stock/rules", methods=["GET", "POST"])
@page("stock")
def rules():
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not can("stock", "write"):
            abort(403)
        data = form_values(request.form, ("product_id", "warehouse_id", "reorder_point", "target_level", "margin"))
        data["count_open_deals"] = "true" if request.form.get("count_open_deals") == "on" else "false"
        rule_id = request.form.get("rule_id", "")
        try:
            valid = load(RuleSchema(partial=bool(rule_id)), data, ("reorder_point", "target_level", "margin"))
            rule, opened = stock_service.save_rule(whole_number(rule_id), valid)
        except HubError as exc:
            errors = failed(exc)
        else:
            message = _("Rule for %(sku)s saved.", sku=rule.product.sku)
            flash(message + " " + _("It raised an alert.") if opened else message, "ok")
            return redirect(url_for("ui_stock.rules"))
    query = select(ReorderRule).options(joinedload(ReorderRule.product), joinedload(ReorderRule.warehouse))
    rows = db.session.scalars(query.order_by(ReorderRule.id)).all()
    products = db.session.scalars(select(Product).order_by(Product.sku)).all()
    warehouses = db.session.scalars(select(Warehouse).order_by(Warehouse.code)).all()
    form: Any = request.form if request.method == "POST" else _rule_form(request.args.get("edit", ""))
    return render_template(
        "ui/rules.html", rules=rows, products=products, warehouses=warehouses, errors=errors, form=form
    ), 422 if errors else 200


def _rule_form(rule_id: str) -> dict[str, str]:
    """A rule's values for the form, to edit it; nothing for a new one."""
    number = whole_number(rule_id)
    rule = db.session.get(ReorderRule, number) if number is not None else None
    if rule is None:
        return {}
    values = {
        "rule_id": str(rule.id),
        "product_id": str(rule.product_id),
        "warehouse_id": str(rule.warehouse_id or ""),
        **{k: input_text(getattr(rule, k)) for k in ("reorder_point", "target_level", "margin")},
    }
    return values | ({"count_open_deals": "on"} if rule.count_open_deals else {})


# ---- alerts -------------------------------------------------------------------------------


@bp.get("/alerts")
@page("alerts")
def alerts():
    view = request.args.get("view", "inbox")
    query = select(StockAlert).options(joinedload(StockAlert.product), joinedload(StockAlert.warehouse))
    if view == "inbox":
        query = query.where(alert_rules.in_inbox())
    elif view in {s.value for s in AlertState}:
        query = query.where(StockAlert.state == AlertState(view))
    else:
        query = query.where(false())
    rows = db.session.scalars(query.order_by(StockAlert.opened_at.desc(), StockAlert.id.desc()).limit(200)).all()
    return render_template("ui/alerts.html", alerts=rows, view=view, states=[s.value for s in AlertState])


@bp.post("/alerts/<int:alert_id>/acknowledge")
@page("alerts", "write")
def acknowledge(alert_id: int):
    alert = stock_service.acknowledge_alert(alert_id, authenticated_user())
    flash(_("Alert for %(sku)s acknowledged; it stays until stock recovers.", sku=alert.product.sku), "ok")
    return redirect(url_for("ui_stock.alerts"))


@bp.post("/alerts/<int:alert_id>/snooze")
@page("alerts", "write")
def snooze(alert_id: int):
    span = SNOOZES.get(request.form.get("for", ""))
    if span is None:
        flash(_("Choose how long to snooze."), "error")
        return redirect(url_for("ui_stock.alerts"))
    until = load(SnoozeIn(), {"until": (utcnow() + span).isoformat()})["until"]
    alert = stock_service.snooze_alert(alert_id, until)
    flash(_("Alert for %(sku)s snoozed until %(until)s UTC.", sku=alert.product.sku, until=datetime_text(until)), "ok")
    return redirect(url_for("ui_stock.alerts"))
